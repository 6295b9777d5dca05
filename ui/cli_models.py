"""Model-based commands: segments, churn (and P(alive)), next-best-action."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from analytics.bgnbd import p_alive
from analytics.churn import churn_model
from analytics.next_best_action import next_best_actions
from analytics.results import pct
from analytics.segments import segments
from ui.cli import app
from ui.cli_analytics import (Channel, Chart, Device, Json, Segment, Since, Until, Where, _emit,
                              _filters, _reader, _scoped)
from ui.cli_output import console


@app.command("segments")
def segments_cmd(
    ctx: typer.Context,
    k: Optional[int] = typer.Option(None, "--k", help="Number of segments (default: best fit)."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same segments."),
    customers_only: bool = typer.Option(False, "--customers-only",
                                        help="Only identified customers, not anonymous visitors."),
    conversion: Optional[str] = typer.Option(None, "--conversion", help="Conversion event."),
    since: Since = None, until: Until = None, channel: Channel = None, device: Device = None,
    where: Where = None, as_json: Json = False, chart: Chart = None,
) -> None:
    """Groups of customers who behave alike, each named after what sets it apart."""
    with _reader(ctx) as con:
        result = segments(con, k=k, seed=seed, customers_only=customers_only,
                          conversion_event=conversion,
                          filters=_filters(since, until, channel, device, where))
    table = Table(title=f"{result.k} segments")
    for col in ("#", "name", "size", "share", "converted", "churned", "sets it apart"):
        table.add_column(col, justify="left" if col in ("name", "sets it apart") else "right")
    for s in result.segments:
        apart = ", ".join(f"{d.feature} {d.standardised_difference:+.1f}"
                          for d in s.distinguishing[:3])
        table.add_row(str(s.segment), s.name, f"{s.size:,}", pct(s.share),
                      pct(s.conversion_rate), pct(s.churn_rate), apart)
    _emit(result, as_json, chart, table)


@app.command("churn")
def churn_cmd(
    ctx: typer.Context,
    churn_event: Optional[str] = typer.Option(None, "--churn-event",
                                              help="The event that means churn (default: "
                                                   "a cancellation event, if any)."),
    inactive_days: Optional[int] = typer.Option(None, "--inactive-days",
                                                help="Churn = no events for this many days."),
    horizon_days: int = typer.Option(30, "--horizon-days", help="Predict churn this far ahead."),
    purchases: Optional[str] = typer.Option(
        None, "--purchases", metavar="EVENT",
        help="Non-subscription business: P(alive) and expected purchases (BG/NBD) from this "
             "purchase event instead of a churn model."),
    top: int = typer.Option(20, "--top", help="Customers listed."),
    seed: int = typer.Option(0, "--seed"),
    since: Since = None, until: Until = None, channel: Channel = None, device: Device = None,
    where: Where = None, segment_filter: Segment = None, as_json: Json = False,
    chart: Chart = None,
) -> None:
    """Who is likely to churn, how well the model predicts it, and why."""
    with _reader(ctx) as con:
        filters = _scoped(con, _filters(since, until, channel, device, where), segment_filter)
        if purchases:
            result = p_alive(con, purchases, top=top, filters=filters)
            table = Table(title="Repeat buyers who look gone")
            for col in ("customer", "repeat purchases", "weeks since last", "P(alive)",
                        "expected next 12 weeks"):
                table.add_column(col, justify="left" if col == "customer" else "right")
            for v in result.least_alive:
                table.add_row(v.customer_id, str(v.repeat_purchases), f"{v.weeks_since_last:.1f}",
                              pct(v.p_alive), f"{v.expected_purchases:.2f}")
            _emit(result, as_json, chart, table)
            return
        result = churn_model(con, churn_event=churn_event, inactive_days=inactive_days,
                             horizon_days=horizon_days, top=top, seed=seed, filters=filters)
    table = Table(title="Customers most at risk (opted-out left out)")
    for col in ("customer", "risk", "last event", "days since last event"):
        table.add_column(col, justify="left" if col in ("customer", "last event") else "right")
    for c in result.at_risk:
        table.add_row(c.customer_id, pct(c.risk), c.last_event or "", f"{c.recency_days:.0f}")
    _emit(result, as_json, chart, table)


@app.command("next-best-action")
def next_best_action_cmd(
    ctx: typer.Context,
    customer: Optional[str] = typer.Argument(None, help="One customer id (default: all)."),
    segment: Optional[str] = typer.Option(None, "--segment", help="Segment number or name."),
    at_risk: bool = typer.Option(False, "--at-risk",
                                 help="Only the 10% of customers most likely to churn."),
    goal: Optional[str] = typer.Option(None, "--goal", help="Event to reach (default: "
                                                            "conversion)."),
    avoid: Optional[str] = typer.Option(None, "--avoid", help="Event to stay away from, "
                                                              "e.g. a cancellation."),
    min_support: int = typer.Option(30, "--min-support"),
    csv: Optional[Path] = typer.Option(None, "--csv", metavar="FILE",
                                       help="Write the list for a CRM or email tool import."),
    top: int = typer.Option(20, "--top", help="Rows shown (the CSV has all)."),
    since: Since = None, until: Until = None, channel: Channel = None, device: Device = None,
    where: Where = None, as_json: Json = False, chart: Chart = None,
) -> None:
    """For each customer, the action that most helped customers like them (observational)."""
    filters = _filters(since, until, channel, device, where)
    with _reader(ctx) as con:
        scores = churn_model(con, filters=filters).scores if at_risk else None
        result = next_best_actions(con, goal=goal, avoid=avoid, customer_id=customer,
                                   segment=segment, at_risk=at_risk, risk_scores=scores,
                                   min_support=min_support, filters=filters)
    if csv:
        result.write_csv(csv)
    table = Table(title=f"Next best actions ({result.direction} {result.goal})")
    for col in ("customer", "segment", "stage", "action", "if done", "if not", "basis"):
        table.add_column(col)
    for r in result.recommendations[:top]:
        table.add_row(r.customer_id, r.segment, r.stage, r.action, pct(r.goal_rate_if_done),
                      pct(r.goal_rate_if_not), r.basis)
    _emit(result, as_json, chart, table)
    if not as_json:
        console.print(result.warning)
        if csv:
            console.print(f"{len(result.recommendations):,} rows written to {csv}")
