"""Diagnosis of pasted stage metrics and the quarterly quick-win plan, as tools."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import Field

from analytics.constants import BUSINESS_MODELS, BusinessModel
from tools.base import MAX_TEXT_CHARS, TableView, ToolArgs, ToolContext, pct

MODEL_HELP = "Business model for the benchmarks: " + ", ".join(BUSINESS_MODELS) + "."


class DiagnoseArgs(ToolArgs):
    metrics_text: str = Field(..., min_length=1, max_length=MAX_TEXT_CHARS,
                              description="The stage metrics exactly as the "
                                                             "user pasted them.")
    business_model: BusinessModel = Field("b2b-saas", description=MODEL_HELP)


def diagnose_tool(ctx: ToolContext, args: DiagnoseArgs) -> Any:
    from analytics.diagnosis.diagnose import diagnose

    return diagnose(args.metrics_text, args.business_model)


def diagnose_view(args: DiagnoseArgs, result: Any) -> TableView:
    rows = [[t.rank, f"{t.from_stage} -> {t.to_stage}", pct(t.conversion), f"{t.lost:,.0f}",
             f"{pct(t.benchmark[0], 0)}-{pct(t.benchmark[2], 0)}" if t.benchmark else "-",
             t.verdict, f"+{t.gain_at_median:,.0f}" if t.gain_at_median else ""]
            for t in sorted(result.transitions, key=lambda t: t.rank)]
    notes = ([f"Check: {i.message}" for i in result.issues]
             + [f"Not read: {line}" for line in result.unread]
             + [f"To sharpen this: {item}" for item in result.sharpen])
    return TableView(f"Stage conversion vs {args.business_model} benchmarks",
                     ["rank", "step", "conversion", "lost / month", "benchmark", "verdict",
                      "gain at median"], rows, notes=notes)


class PlanArgs(ToolArgs):
    metrics_text: Optional[str] = Field(None, max_length=MAX_TEXT_CHARS,
                                        description="Pasted stage metrics; leave empty "
                                                          "to plan from the loaded data.")
    quarter: Optional[str] = Field(None, pattern=r"^\d{4}-Q[1-4]$", description="e.g. 2027-Q1 "
                                   "(default: next quarter).")
    business_model: BusinessModel = Field("b2b-saas", description=MODEL_HELP)


def plan_tool(ctx: ToolContext, args: PlanArgs) -> Any:
    from analytics.diagnosis.diagnose import diagnose
    from analytics.diagnosis.plan import build_plan

    if args.metrics_text:
        diagnosis = diagnose(args.metrics_text, args.business_model)
        return build_plan(diagnosis, quarter=args.quarter)
    from analytics.description import describe_data
    from analytics.diagnosis.store_plan import store_plan
    from analytics.errors import JourneyError

    data = describe_data(ctx.store)
    index = ctx.feedback_index()
    index.ensure_current()
    feedback = None
    if data.feedback:
        try:
            # The context's own themes: computed once, shared with the chat and friction.
            feedback = (ctx.themes(), ctx.snippets()[0])
        except JourneyError:
            feedback = None  # too little feedback for themes
    with ctx.store.reader() as con:
        return store_plan(con, quarter=args.quarter, business_model=args.business_model,
                          feedback_index=index if data.feedback else None,
                          conversion=data.conversion_event, churn=data.churn_event,
                          attribute_values=dict(data.attribute_values), feedback=feedback)


def plan_view(args: PlanArgs, result: Any) -> TableView:
    rows = [[i.rank, i.title, i.kpi, pct(i.baseline), pct(i.expected_low),
             pct(i.expected_high), i.owner,
             "yes" if i.experiment.readable_in_quarter else "no",
             f"{i.slot.build_start}-{i.slot.readout}" if i.slot else "", f"{i.score:.3g}"]
            for i in result.initiatives]
    return TableView(f"Quick-win plan, {result.quarter}", ["rank", "initiative", "kpi",
                                                           "baseline", "expected low",
                                                           "expected high", "owner",
                                                           "test readable", "weeks", "score"],
                     rows, notes=[f"Left out: {x}" for x in result.left_out])


def readable_stages(text: str) -> int:
    """How many stages with a count a pasted text holds (0 when it is not metrics at all):
    lets a conversation tell pasted metrics from a question without running a diagnosis."""
    from analytics.diagnosis.parser import parse_stage_metrics
    from analytics.errors import JourneyError

    try:
        parsed = parse_stage_metrics(text)
    except JourneyError:
        return 0
    return sum(s.count is not None for s in parsed.stages)
