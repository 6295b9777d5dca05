"""The journey analytics as tools: one tool, one question."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, Field

from analytics.anomalies import anomalies
from analytics.attribution import attribution
from analytics.churn import churn_model
from analytics.funnel import funnel
from analytics.moments import moments
from analytics.paths import default_conversion_event, next_steps, top_paths, transitions
from analytics.retention import retention
from analytics.segments import segments
from analytics.store.status import store_status
from tools.base import FilterArgs, ToolContext, ToolResult, analytic_result, table


class FunnelArgs(BaseModel):
    steps: list[str] = Field(..., min_length=2, description="Event names in order; 'a|b' means "
                                                            "either event.")
    order: Literal["strict", "any"] = Field("strict", description="strict: each step after the "
                                            "previous one; any: in any order.")
    window_days: Optional[int] = Field(None, ge=1, description="Conversion window from step 1.")
    by: Optional[str] = Field(None, description="Break down by device, channel, plan, country "
                                                "or another customer attribute.")
    filters: FilterArgs = Field(default_factory=FilterArgs)


def funnel_tool(ctx: ToolContext, args: FunnelArgs) -> ToolResult:
    with ctx.store.reader() as con:
        result = funnel(con, args.steps, order=args.order,
                        window=args.window_days * 86400 if args.window_days else None,
                        by=args.by, filters=ctx.scoped_filters(con, args.filters),
                        catalog=ctx.catalog())
    rows = [{"group": "all", "step": "|".join(s.events), "customers": s.customers,
             "conv_prev": s.conversion_from_previous, "dropped": s.dropped}
            for s in result.steps]
    for g in result.groups:
        rows += [{"group": g.group, "step": "|".join(s.events), "customers": s.customers,
                  "conv_prev": s.conversion_from_previous, "dropped": s.dropped}
                 for s in g.steps]
    text = table(rows, ["group", "step", "customers", "conv_prev", "dropped"], limit=24)
    return analytic_result("funnel", args, result, text)


class PathsArgs(BaseModel):
    top: int = Field(5, ge=1, le=25)
    from_event: Optional[str] = Field(None, description="Start paths at this event.")
    to_event: Optional[str] = Field(None, description="End paths at this event.")
    max_steps: int = Field(6, ge=2, le=12)
    collapse_repeats: bool = True
    conversion_event: Optional[str] = None
    filters: FilterArgs = Field(default_factory=FilterArgs)


def paths_tool(ctx: ToolContext, args: PathsArgs) -> ToolResult:
    with ctx.store.reader() as con:
        result = top_paths(con, top=args.top, from_event=args.from_event,
                           to_event=args.to_event, max_steps=args.max_steps,
                           collapse_repeats=args.collapse_repeats,
                           conversion_event=args.conversion_event,
                           filters=ctx.scoped_filters(con, args.filters), catalog=ctx.catalog())
    rows = [{"path": p.path, "customers": p.customers, "share": p.share,
             "conversion_rate": p.conversion_rate} for p in result.paths]
    return analytic_result("paths", args, result,
                           table(rows, list(rows[0]) if rows else ["path"]))


class TransitionsArgs(BaseModel):
    collapse_repeats: bool = False
    top: int = Field(15, ge=1, le=60, description="Transitions shown to the model.")
    filters: FilterArgs = Field(default_factory=FilterArgs)


def transitions_tool(ctx: ToolContext, args: TransitionsArgs) -> ToolResult:
    with ctx.store.reader() as con:
        result = transitions(con, collapse_repeats=args.collapse_repeats,
                             filters=ctx.scoped_filters(con, args.filters),
                             catalog=ctx.catalog())
    rows = sorted(({"from": t.source, "to": t.target, "transitions": t.transitions,
                    "probability": t.probability} for t in result.transitions),
                  key=lambda r: -r["transitions"])
    return analytic_result("transitions", args, result,
                           table(rows, ["from", "to", "transitions", "probability"],
                                 limit=args.top))


class NextStepsArgs(BaseModel):
    after: list[str] = Field(..., min_length=1, description="A partial path, in order.")
    top: int = Field(5, ge=1, le=20)
    filters: FilterArgs = Field(default_factory=FilterArgs)


def next_steps_tool(ctx: ToolContext, args: NextStepsArgs) -> ToolResult:
    with ctx.store.reader() as con:
        result = next_steps(con, args.after, top=args.top,
                            filters=ctx.scoped_filters(con, args.filters), catalog=ctx.catalog())
    rows = [{"next": n.event, "times": n.occurrences, "probability": n.probability}
            for n in result.next_steps]
    return analytic_result("next_steps", args, result,
                           table(rows, ["next", "times", "probability"]))


class MomentsArgs(BaseModel):
    outcome: str = Field(..., description="The outcome event, e.g. subscription_started or a "
                                          "cancellation event.")
    among: Optional[str] = Field(None, description="Only people who did this event.")
    anchor: Optional[str] = None
    within_days: Optional[int] = Field(None, ge=1)
    min_support: int = Field(30, ge=5)
    filters: FilterArgs = Field(default_factory=FilterArgs)


def moments_tool(ctx: ToolContext, args: MomentsArgs) -> ToolResult:
    with ctx.store.reader() as con:
        result = moments(con, args.outcome, among=args.among, anchor=args.anchor,
                         within_seconds=args.within_days * 86400 if args.within_days else None,
                         min_support=args.min_support, top=8,
                         filters=ctx.scoped_filters(con, args.filters), catalog=ctx.catalog())
    rows = [{"sign": sign, "moment": m.moment, "did": m.did, "rate_did": m.outcome_rate_did,
             "rate_not": m.outcome_rate_did_not, "lift": m.lift}
            for sign, items in (("+", result.positive), ("-", result.negative)) for m in items]
    return analytic_result("moments", args, result,
                           table(rows, ["sign", "moment", "did", "rate_did", "rate_not", "lift"],
                                 limit=16), result.note)


class SegmentsArgs(BaseModel):
    k: Optional[int] = Field(None, ge=2, le=12)
    customers_only: bool = False
    filters: FilterArgs = Field(default_factory=FilterArgs)


def segments_tool(ctx: ToolContext, args: SegmentsArgs) -> ToolResult:
    with ctx.store.reader() as con:
        result = segments(con, k=args.k, customers_only=args.customers_only,
                          filters=ctx.scoped_filters(con, args.filters), catalog=ctx.catalog())
    rows = [{"segment": s.segment, "name": s.name, "size": s.size,
             "conversion": s.conversion_rate, "churn": s.churn_rate} for s in result.segments]
    return analytic_result("segments", args, result,
                           table(rows, ["segment", "name", "size", "conversion", "churn"]))


class ChurnArgs(BaseModel):
    churn_event: Optional[str] = None
    inactive_days: Optional[int] = Field(None, ge=1)
    horizon_days: int = Field(30, ge=7, le=365)
    filters: FilterArgs = Field(default_factory=FilterArgs)


def churn_tool(ctx: ToolContext, args: ChurnArgs) -> ToolResult:
    with ctx.store.reader() as con:
        result = churn_model(con, churn_event=args.churn_event, inactive_days=args.inactive_days,
                             horizon_days=args.horizon_days, top=10,
                             filters=ctx.scoped_filters(con, args.filters), catalog=ctx.catalog())
    rows = [{"customer": c.customer_id, "risk": c.risk, "last_event": c.last_event}
            for c in result.at_risk]
    return analytic_result("churn", args, result,
                           table(rows, ["customer", "risk", "last_event"]))


class RetentionArgs(BaseModel):
    period: Literal["week", "month"] = "month"
    cohort_event: Optional[str] = None
    return_event: Optional[str] = None
    filters: FilterArgs = Field(default_factory=FilterArgs)


def retention_tool(ctx: ToolContext, args: RetentionArgs) -> ToolResult:
    with ctx.store.reader() as con:
        result = retention(con, period=args.period, cohort_event=args.cohort_event,
                           return_event=args.return_event,
                           filters=ctx.scoped_filters(con, args.filters), catalog=ctx.catalog())
    rows = [{"period": k, "retained": r, "people": n}
            for k, (r, n) in enumerate(zip(result.curve, result.curve_people))]
    return analytic_result("retention", args, result,
                           table(rows, ["period", "retained", "people"], limit=13))


class AttributionArgs(BaseModel):
    conversion_event: Optional[str] = Field(None, description="Default: the main conversion.")
    model: Literal["first", "last", "linear", "position", "markov"] = "markov"
    filters: FilterArgs = Field(default_factory=FilterArgs)


def attribution_tool(ctx: ToolContext, args: AttributionArgs) -> ToolResult:
    with ctx.store.reader() as con:
        conversion = args.conversion_event or default_conversion_event(con)
        result = attribution(con, conversion, model=args.model,
                             filters=ctx.scoped_filters(con, args.filters), catalog=ctx.catalog())
    rows = [{"channel": c.channel, "credit": c.credit, "share": c.share,
             "per_1000_reached": c.conversions_per_1000_reached} for c in result.channels]
    return analytic_result("attribution", args, result,
                           table(rows, ["channel", "credit", "share", "per_1000_reached"]))


class AnomaliesArgs(BaseModel):
    steps: Optional[list[str]] = Field(None, description="Key steps; default one per stage.")
    filters: FilterArgs = Field(default_factory=FilterArgs)


def anomalies_tool(ctx: ToolContext, args: AnomaliesArgs) -> ToolResult:
    with ctx.store.reader() as con:
        result = anomalies(con, steps=args.steps, filters=ctx.scoped_filters(con, args.filters),
                           catalog=ctx.catalog())
    rows = [{"metric": f["metric"], "week": f["week"].date().isoformat(), "rate": f["rate"],
             "usual": f["baseline"], "z": f["z"]} for f in result.flagged]
    changes = [{"metric": s.metric, "change_since_week_before": s.last_week_change}
               for s in result.series]
    return analytic_result("anomalies", args, result,
                           table(rows, ["metric", "week", "rate", "usual", "z"]) + "\n"
                           + table(changes, ["metric", "change_since_week_before"]))


class DescribeDataArgs(BaseModel):
    pass


def describe_data_tool(ctx: ToolContext, args: DescribeDataArgs) -> ToolResult:
    status = store_status(ctx.store)
    catalog = ctx.catalog()
    text = (f"{status.events:,} events from {status.people:,} people, {status.customers:,} "
            f"customers, {status.feedback:,} feedback items, from {status.first_event} to "
            f"{status.last_event}.\nStages in order: {', '.join(catalog.stages)}.\n"
            "Events (stage): " + ", ".join(f"{e} ({catalog.event_stage.get(e)})"
                                           for e in catalog.events)
            + f"\nChannels: {', '.join(catalog.channels)}. Devices: {', '.join(catalog.devices)}."
            f"\nCustomer attributes: {', '.join(catalog.attributes)}.")
    return ToolResult("describe_data", {}, text, status.to_dict())
