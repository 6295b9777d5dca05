"""The tool registry: one definition per tool, the one way into the analytics for every face
(the command line, the web app, the offline planner, the LLM agent and the MCP server)."""

from __future__ import annotations

from typing import Any

from analytics.store.accounts import LOCAL, Actor
from tools import count_tools as ct
from tools import feedback_tools as fb
from tools import journey_model_tools as jmt
from tools import journey_tools as jt
from tools import model_tools as mt
from tools import plan_tools as pt
from tools import session_tools as sst
from tools import store_tools as st
from tools.base import ToolContext, ToolResult
from tools.spec import ToolSpec, run_spec

TOOLS: list[ToolSpec] = [
    ToolSpec("describe_data", "What data is loaded: events and their stages, channels, devices, "
             "customer attributes, date range, and the journey's defaults (conversion event, "
             "key steps). Use before guessing any name.", st.DescribeDataArgs,
             st.describe_data_tool, st.describe_data_view),
    ToolSpec("funnel", "Customers reaching each step in order, conversion and drop-off per step, "
             "time between steps (median, quartiles, by bucket); optional breakdown (device, "
             "channel, plan...), exclusion steps, a window per move, a property held "
             "constant, noise events ignored, and the people behind a step.",
             jt.FunnelArgs, jt.funnel_tool, jt.funnel_view),
    ToolSpec("event_counts", "How many people did one event (and how many times) in the scope "
             "and period, by week or month, optionally by group, with the people who did it most "
             "recently (opted-out customers counted, never listed), and the sum of its "
             "revenue-like property (price, amount, order_value) where it has one. Use for 'how "
             "many ...?', 'who ...?' and 'how much revenue ...?'.", ct.EventCountsArgs,
             ct.event_counts_tool, ct.event_counts_view),
    ToolSpec("journey_map", "The journey map as marketers draw it: the journey's stages as "
             "columns and under each the people reaching it and going on, time to the next "
             "step, touchpoints, feeling (net sentiment), the pain point (what leavers said or "
             "did), the moment of truth and what changed; optionally side by side for the "
             "largest groups of a device, channel or attribute, or for the days before and "
             "after a date, marking where they differ most. Use for 'show me the journey for "
             "mobile vs desktop' and 'the journey before and after 17 August'.", fb.JourneyMapArgs,
             fb.journey_map_tool, fb.journey_map_view),
    ToolSpec("paths", "The most common journeys, each with its share of customers and "
             "conversion rate (the rest summed, so shares add to 100%).", jt.PathsArgs,
             jt.paths_tool, jt.paths_view),
    ToolSpec("match", "Who did a path pattern with restricted gaps ('a ->[^x]*-> b': b after "
             "a with no x between): their number, share and conversion, and the same for the "
             "pattern through its excluded events and for its start without its end.",
             jt.MatchArgs, jt.match_tool, jt.match_view),
    ToolSpec("transitions", "Which event follows which (Markov transition probabilities, start "
             "and end included).", jt.TransitionsArgs, jt.transitions_tool,
             jt.transitions_view),
    ToolSpec("next_steps", "What customers most often do right after a given event or partial "
             "path.", jt.NextStepsArgs, jt.next_steps_tool, jt.next_steps_view),
    ToolSpec("moments", "Moments of truth: actions associated with a higher or lower chance of "
             "an outcome (conversion or churn). Correlation, not cause.", jt.MomentsArgs,
             jt.moments_tool, jt.moments_view),
    ToolSpec("segments", "Behavioural segments with size, conversion, churn and what sets each "
             "apart.", mt.SegmentsArgs, mt.segments_tool, mt.segments_view, cached=True),
    ToolSpec("churn", "Churn risk model: holdout accuracy, main drivers, customers most at "
             "risk.", mt.ChurnArgs, mt.churn_tool, mt.churn_view, cached=True),
    ToolSpec("p_alive", "For repeat-purchase businesses: the chance each buyer is still active "
             "(P(alive), BG/NBD) and their expected purchases.", mt.PAliveArgs,
             mt.p_alive_tool, mt.p_alive_view, cached=True),
    ToolSpec("next_best_action", "Next best action per customer (one customer, a segment, the "
             "customers most at risk, or everyone): the action that most helped customers like "
             "them. Observational.", mt.NextBestActionArgs, mt.next_best_action_tool,
             mt.next_best_action_view, cached=True),
    ToolSpec("retention", "Cohort retention curve by week or month.", jt.RetentionArgs,
             jt.retention_tool, jt.retention_view),
    ToolSpec("sessions", "Sessions (visits): how many per person, how long, the events they "
             "start and end with and the most common paths within one. A session is the "
             "export's session id where events have one, else a pause of more than 30 minutes "
             "ends it; optional breakdown (device, channel, plan...).",
             sst.SessionsArgs, sst.sessions_tool, sst.sessions_view),
    ToolSpec("time_to_value", "Time to value: how long people take from signup (or their first "
             "event, or a start event) to a key action, how many ever get there and the share "
             "within 1, 7, 30 or N days; optional breakdown. Use for 'how fast do customers "
             "activate?'.", sst.TimeToValueArgs, sst.time_to_value_tool,
             sst.time_to_value_view),
    ToolSpec("attribution", "Credit per marketing channel for conversions (first, last, linear, "
             "position or Markov).", jt.AttributionArgs, jt.attribution_tool,
             jt.attribution_view),
    ToolSpec("anomalies", "What changed: every main-journey step and frequent event watched "
             "week by week (or day by day), unusual windows found with their size, the segment "
             "they are concentrated in and the events that moved with them.", jt.AnomaliesArgs,
             jt.anomalies_tool, jt.anomalies_view),
    ToolSpec("feedback_search", "Find what customers said about a topic (semantic search over "
             "reviews, tickets, chats, NPS, surveys).", fb.FeedbackSearchArgs,
             fb.feedback_search_tool, fb.feedback_search_view),
    ToolSpec("themes", "The themes in customer feedback with sentiment, where they occur and "
             "quotes.", fb.ThemesArgs, fb.themes_tool, fb.themes_view),
    ToolSpec("friction", "Why customers drop at a step: what those who left did instead "
             "(errors, support, going back) and, with feedback, what they said, against those "
             "who went on.", fb.FrictionArgs, fb.friction_tool,
             fb.friction_view),
    ToolSpec("diagnose", "Diagnose stage metrics the user pasted (from a deck or spreadsheet): "
             "conversion per step, friction ranked by people lost, benchmarks, inconsistent "
             "numbers.", pt.DiagnoseArgs, pt.diagnose_tool, pt.diagnose_view),
    ToolSpec("plan", "A quarterly plan of 3-7 initiatives, one per friction (a step, or a "
             "segment's gap at a step), each with its own evidence, expected impact at the last "
             "stage, owner, a test designed for its traffic and its weeks in the quarter; from "
             "pasted metrics or from the loaded data. Use for 'what should we fix first?'.",
             pt.PlanArgs, pt.plan_tool, pt.plan_view),
    ToolSpec("journey_model", "The journey model every default uses, read from behaviour: the "
             "conversion event, the main journey (ordered steps most converters pass), the churn "
             "event and each event's stage, with the evidence (share of converters reaching each "
             "step, median position).", jmt.JourneyModelArgs, jmt.journey_model_tool,
             jmt.journey_model_view),
    ToolSpec("set_journey_model", "Set the journey model's conversion event, main journey "
             "(default funnel) or churn event, or reset one to what the data say.",
             jmt.SetJourneyModelArgs, jmt.set_journey_model_tool, jmt.journey_model_view,
             writes=True, chart=False, role="analyst", audit=jmt.set_journey_model_audit,
             doing="Changing the journey model"),
    ToolSpec("ingest", "Load a file into the store (atomic; the same file twice adds nothing).",
             st.IngestArgs, st.ingest_tool, st.ingest_view, writes=True, chart=False,
             role="analyst", audit=st.ingest_audit, doing="Loading data"),
    ToolSpec("forget", "Erase a customer everywhere (events, feedback, profile, identities, "
             "search index), recording only a keyed hash.", st.ForgetArgs, st.forget_tool,
             st.forget_view, writes=True, chart=False, role="admin", audit=st.forget_audit,
             doing="Erasing a customer"),
]

BY_NAME = {t.name: t for t in TOOLS}
READ_TOOLS = [t for t in TOOLS if not t.writes]


def call_tool(ctx: ToolContext, name: str, arguments: dict[str, Any] | None = None,
              actor: Actor = LOCAL) -> ToolResult:
    """Validate the arguments, run the tool for `actor` (whoever signed in; the person at the
    machine by default), and turn user-fixable problems into answers."""
    spec = BY_NAME.get(name)
    if spec is None:
        from analytics.catalog import closest
        from analytics.errors import UnknownNameError
        from tools.spec import invalid

        return invalid(name, arguments or {},
                       UnknownNameError("tool", name, closest(name, list(BY_NAME))))
    return run_spec(spec, ctx, dict(arguments or {}), actor)


def langchain_tools(session: Any, specs: list[ToolSpec] | None = None) -> list:
    """The read tools as LangChain structured tools: the model reads the content, the agent
    keeps the typed ToolResult itself (with its chart) as the artifact."""
    from langchain_core.tools import StructuredTool

    def make(spec: ToolSpec):
        def run(**kwargs):
            result = session.call(spec.name, kwargs)
            return result.content, result

        def invalid_arguments(exc: Exception) -> str:
            from pydantic import ValidationError

            from tools.spec import validation_error

            if isinstance(exc, ValidationError):
                return f"Invalid arguments for {spec.name}: {validation_error(exc, spec.args)}"
            return f"Invalid arguments for {spec.name}: {exc}"

        return StructuredTool.from_function(func=run, name=spec.name,
                                            description=spec.description,
                                            args_schema=spec.args,
                                            response_format="content_and_artifact",
                                            handle_validation_error=invalid_arguments)

    return [make(spec) for spec in (specs if specs is not None else READ_TOOLS)]
