"""Model-based tools: segments, churn risk, P(alive) for repeat buyers, next-best-action."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import Field

from tools.base import FilterArgs, TableView, ToolArgs, ToolContext, pct


class SegmentsArgs(ToolArgs):
    k: Optional[int] = Field(None, ge=2, le=12, description="Number of segments (default: the "
                                                            "best fit by silhouette).")
    seed: int = Field(0, ge=0, description="Same seed, same segments.")
    customers_only: bool = Field(False, description="Only identified customers, not anonymous "
                                                    "visitors.")
    conversion_event: Optional[str] = Field(None, description="The conversion event (default: "
                                                              "the journey's own).")
    filters: FilterArgs = Field(default_factory=FilterArgs)


def segments_tool(ctx: ToolContext, args: SegmentsArgs) -> Any:
    from analytics.segments import segments

    with ctx.store.reader() as con:
        return segments(con, k=args.k, seed=args.seed, customers_only=args.customers_only,
                        conversion_event=args.conversion_event,
                        filters=ctx.scoped_filters(con, args.filters), catalog=ctx.catalog(),
                        progress=ctx.progress)


def segments_view(args: SegmentsArgs, result: Any) -> TableView:
    rows = [[s.segment, s.name, s.size, pct(s.share), pct(s.conversion_rate), pct(s.churn_rate),
             ", ".join(f"{d.feature} {d.standardised_difference:+.1f}"
                       for d in s.distinguishing[:3])] for s in result.segments]
    return TableView(f"{result.k} segments", ["#", "name", "size", "share", "converted",
                                              "churned", "sets it apart"], rows)


class ChurnArgs(ToolArgs):
    churn_event: Optional[str] = Field(None, description="The event that means churn (default: "
                                                         "a cancellation event, if any).")
    inactive_days: Optional[int] = Field(None, ge=1, description="Churn = no events for this "
                                                                 "many days.")
    horizon_days: int = Field(30, ge=7, le=365, description="Predict churn this far ahead "
                                                            "(with churn by inactivity, the "
                                                            "inactivity period is the horizon).")
    top: int = Field(20, ge=1, le=500, description="Customers most at risk listed.")
    seed: int = Field(0, ge=0, description="Same seed, same model.")
    filters: FilterArgs = Field(default_factory=FilterArgs)


def churn_tool(ctx: ToolContext, args: ChurnArgs) -> Any:
    from analytics.churn import churn_model

    with ctx.store.reader() as con:
        return churn_model(con, churn_event=args.churn_event, inactive_days=args.inactive_days,
                           horizon_days=args.horizon_days, top=args.top, seed=args.seed,
                           filters=ctx.scoped_filters(con, args.filters), catalog=ctx.catalog(),
                           progress=ctx.progress)


def churn_view(args: ChurnArgs, result: Any) -> TableView:
    rows = [[c.customer_id, pct(c.risk), c.last_event or "", f"{c.recency_days:.0f}"]
            for c in result.at_risk]
    return TableView("Customers most at risk (opted-out left out)",
                     ["customer", "risk", "last event", "days since last event"], rows,
                     model_rows=10)


class PAliveArgs(ToolArgs):
    purchase_event: str = Field(..., description="The repeat-purchase event, e.g. "
                                                 "order_completed or invoice_paid.")
    horizon_weeks: float = Field(12, gt=0, le=104, description="Expected purchases over this "
                                                               "many weeks.")
    top: int = Field(20, ge=1, le=500, description="Customers who look most gone, listed.")
    filters: FilterArgs = Field(default_factory=FilterArgs)


def p_alive_tool(ctx: ToolContext, args: PAliveArgs) -> Any:
    from analytics.bgnbd import p_alive

    with ctx.store.reader() as con:
        return p_alive(con, args.purchase_event, horizon_weeks=args.horizon_weeks, top=args.top,
                       filters=ctx.scoped_filters(con, args.filters), catalog=ctx.catalog(),
                       progress=ctx.progress)


def p_alive_view(args: PAliveArgs, result: Any) -> TableView:
    rows = [[v.customer_id, v.repeat_purchases, f"{v.weeks_since_last:.1f}", pct(v.p_alive),
             f"{v.expected_purchases:.2f}"] for v in result.least_alive]
    return TableView("Repeat buyers who look gone",
                     ["customer", "repeat purchases", "weeks since last", "P(alive)",
                      f"expected next {args.horizon_weeks:g} weeks"], rows, model_rows=10)


class NextBestActionArgs(ToolArgs):
    customer_id: Optional[str] = Field(None, description="One customer (default: every "
                                                         "customer in scope).")
    at_risk: bool = Field(False, description="Only the 10% of customers most likely to churn.")
    goal: Optional[str] = Field(None, description="Event to reach (default: the conversion).")
    inactive_days: Optional[int] = Field(None, ge=1, description="With at_risk and no "
                                         "cancellation event: churn means this many days "
                                         "without events.")
    avoid: Optional[str] = Field(None, description="Event to stay away from, e.g. a "
                                                   "cancellation.")
    min_support: int = Field(30, ge=5, description="Minimum customers behind a recommendation.")
    top: int = Field(20, ge=1, le=1000, description="Rows listed in the table (the result and "
                                                    "an exported list have all).")
    filters: FilterArgs = Field(default_factory=FilterArgs)


def next_best_action_tool(ctx: ToolContext, args: NextBestActionArgs) -> Any:
    from analytics.churn import churn_model
    from analytics.next_best_action import next_best_actions

    with ctx.store.reader() as con:
        filters = args.filters.to_filters()
        scores = (churn_model(con, inactive_days=args.inactive_days, filters=filters,
                              progress=ctx.progress).scores if args.at_risk else None)
        return next_best_actions(con, goal=args.goal, avoid=args.avoid,
                                 customer_id=args.customer_id, segment=args.filters.segment,
                                 at_risk=args.at_risk, risk_scores=scores,
                                 min_support=args.min_support, filters=filters,
                                 catalog=ctx.catalog(), progress=ctx.progress)


def next_best_action_view(args: NextBestActionArgs, result: Any) -> TableView:
    rows = [[r.customer_id, r.segment, r.stage, r.action, pct(r.goal_rate_if_done),
             pct(r.goal_rate_if_not), r.basis] for r in result.recommendations[:args.top]]
    return TableView(f"Next best actions ({result.direction} {result.goal})",
                     ["customer", "segment", "stage", "action", "if done", "if not", "basis"],
                     rows, notes=[result.warning], model_rows=10)
