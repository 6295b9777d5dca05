"""The tool registry: one definition per tool, used by the offline planner, the LangChain agent
and (later) the MCP server alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pydantic import BaseModel, ValidationError

from analytics.errors import JourneyError, UnknownNameError
from tools import feedback_tools as fb
from tools import journey_tools as jt
from tools import plan_tools as pt
from tools.base import ToolContext, ToolResult, name_problem, user_problem


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str  # written for the model: when to use the tool
    args: type[BaseModel]
    run: Callable[[ToolContext, BaseModel], ToolResult]


TOOLS: list[ToolSpec] = [
    ToolSpec("describe_data", "What data is loaded: events and their stages, channels, devices, "
             "customer attributes, date range. Use before guessing any name.",
             jt.DescribeDataArgs, jt.describe_data_tool),
    ToolSpec("funnel", "Customers reaching each step in order, conversion and drop-off per step, "
             "time between steps; optional breakdown (device, channel, plan...).",
             jt.FunnelArgs, jt.funnel_tool),
    ToolSpec("paths", "The most common journeys, each with its share of customers and "
             "conversion rate.", jt.PathsArgs, jt.paths_tool),
    ToolSpec("transitions", "Which event follows which (Markov transition probabilities).",
             jt.TransitionsArgs, jt.transitions_tool),
    ToolSpec("next_steps", "What customers most often do right after a given event or path.",
             jt.NextStepsArgs, jt.next_steps_tool),
    ToolSpec("moments", "Moments of truth: actions associated with a higher or lower chance of "
             "an outcome (conversion or churn). Correlation, not cause.",
             jt.MomentsArgs, jt.moments_tool),
    ToolSpec("segments", "Behavioural segments with size, conversion, churn and what sets each "
             "apart.", jt.SegmentsArgs, jt.segments_tool),
    ToolSpec("churn", "Churn risk model: holdout accuracy, main drivers, customers most at risk.",
             jt.ChurnArgs, jt.churn_tool),
    ToolSpec("retention", "Cohort retention curve by week or month.", jt.RetentionArgs,
             jt.retention_tool),
    ToolSpec("attribution", "Credit per marketing channel for conversions (first, last, linear, "
             "position or Markov).", jt.AttributionArgs, jt.attribution_tool),
    ToolSpec("anomalies", "Weekly conversion between key steps with unusual weeks flagged; what "
             "changed since last week.", jt.AnomaliesArgs, jt.anomalies_tool),
    ToolSpec("feedback_search", "Find what customers said about a topic (semantic search over "
             "reviews, tickets, chats, NPS, surveys).", fb.FeedbackSearchArgs,
             fb.feedback_search_tool),
    ToolSpec("themes", "The themes in customer feedback with sentiment, where they occur and "
             "quotes.", fb.ThemesArgs, fb.themes_tool),
    ToolSpec("friction", "Why customers drop at a step: feedback themes of those who dropped "
             "against those who went on, with quotes.", fb.FrictionArgs, fb.friction_tool),
    ToolSpec("diagnose", "Diagnose stage metrics the user pasted (from a deck or spreadsheet): "
             "conversion per step, friction ranked by people lost, benchmarks, inconsistent "
             "numbers.", pt.DiagnoseArgs, pt.diagnose_tool),
    ToolSpec("plan", "A quarterly plan of 3-7 quick wins with KPI, expected lift, owner and "
             "holdout, from pasted metrics or from the loaded data. Use for 'what should we fix "
             "first?'.", pt.PlanArgs, pt.plan_tool),
]

BY_NAME = {t.name: t for t in TOOLS}
# Model-training tools whose results a conversation (or a warmed-up server) reuses while the
# data stay the same; the cache lives in the ToolContext and is cleared when data change.
CACHED_TOOLS = {"churn", "segments"}


def call_tool(ctx: ToolContext, name: str, arguments: dict) -> ToolResult:
    """Validate the arguments, run the tool, and turn user-fixable problems into answers."""
    spec = BY_NAME.get(name)
    if spec is None:
        return ToolResult(name, arguments, f"No tool named {name}. Tools: "
                          f"{', '.join(BY_NAME)}.", ok=False)
    try:
        args = spec.args.model_validate(arguments)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return ToolResult(name, arguments, f"Invalid arguments for {name}: {problems}", ok=False)
    key = (name, args.model_dump_json()) if name in CACHED_TOOLS else None
    if key is not None and key in ctx.cache:
        cached = ctx.cache[key]
        return ctx.remember(ToolResult(cached.tool, cached.arguments,
                                       cached.content.split("] ", 1)[-1], cached.artifact,
                                       figure=cached.figure))
    try:
        result = ctx.remember(spec.run(ctx, args))
        if key is not None:
            ctx.cache[key] = result
        return result
    except UnknownNameError as exc:
        return name_problem(name, arguments, exc)
    except JourneyError as exc:
        return user_problem(name, arguments, exc)


def langchain_tools(ctx: ToolContext) -> list:
    """The same tools as LangChain structured tools (content for the model, artifact for UI)."""
    from langchain_core.tools import StructuredTool

    def make(spec: ToolSpec):
        def run(**kwargs):
            result = call_tool(ctx, spec.name, kwargs)
            return result.content, {"result_id": result.result_id, "ok": result.ok,
                                    "result": result.artifact, "arguments": result.arguments}

        return StructuredTool.from_function(func=run, name=spec.name,
                                            description=spec.description,
                                            args_schema=spec.args,
                                            response_format="content_and_artifact")

    return [make(spec) for spec in TOOLS]
