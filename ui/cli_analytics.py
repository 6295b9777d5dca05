"""Analytics commands: funnel, paths, transitions, next, moments, retention, attribution,
anomalies. Each prints a readable table, or the full result with --json, and can save its chart
as a self-contained HTML file with --chart (plotly.js inlined: no CDN, no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer
from rich.table import Table

from analytics.anomalies import anomalies
from analytics.attribution import MODELS, attribution
from analytics.filters import Filters, parse_filters
from analytics.funnel import funnel
from analytics.moments import moments
from analytics.paths import next_steps, top_paths, transitions
from analytics.results import AnalyticResult, duration, parse_window, pct
from analytics.retention import retention
from analytics.store import EventStore
from ui.cli import app
from ui.cli_output import console, print_json

Since = Annotated[Optional[str], typer.Option("--since", help="First day, YYYY-MM-DD (UTC).")]
Until = Annotated[Optional[str], typer.Option("--until", help="Last day, YYYY-MM-DD (UTC).")]
Channel = Annotated[Optional[List[str]], typer.Option(
    "--channel", help="Only people whose first touch came from this channel (repeatable).")]
Device = Annotated[Optional[List[str]], typer.Option(
    "--device", help="Only people on this device (their first event's; repeatable).")]
Where = Annotated[Optional[List[str]], typer.Option(
    "--where", metavar="ATTRIBUTE=VALUE",
    help="Only customers with this attribute, e.g. plan=starter (repeatable).")]
Segment = Annotated[Optional[str], typer.Option(
    "--segment", help="Only one segment from `journey segments` (its number or part of its "
                      "name).")]
Json = Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")]
Chart = Annotated[Optional[Path], typer.Option(
    "--chart", metavar="FILE.html", help="Also save the chart as a standalone HTML file.")]


def _filters(since, until, channel, device, where) -> Filters:
    return parse_filters(since, until, channel, device, where)


def _scoped(con, filters: Filters, segment: str | None) -> Filters:
    if not segment:
        return filters
    from analytics.segments import segment_filter

    return segment_filter(con, segment, filters)


def _emit(result: AnalyticResult, as_json: bool, chart: Path | None, table: Table | None) -> None:
    if chart:
        result.figure().write_html(str(chart), include_plotlyjs=True, full_html=True)
    if as_json:
        print_json(result.to_dict())
        return
    console.print(result.summary, highlight=False)
    if table is not None:
        console.print(table)
    if result.filters:
        console.print("Filters: " + ", ".join(f"{k}={v}" for k, v in result.filters.items()),
                      highlight=False)
    if chart:
        console.print(f"Chart saved to {chart}")


def _reader(ctx: typer.Context):
    return EventStore(ctx.obj.get("home") if ctx.obj else None).reader()


@app.command("funnel")
def funnel_cmd(
    ctx: typer.Context,
    steps: List[str] = typer.Argument(..., help="Events in order; a|b means either event."),
    order: str = typer.Option("strict", "--order", help="strict (in order) or any."),
    window: Optional[str] = typer.Option(None, "--window",
                                         help="Conversion window from step 1, e.g. 14d, 12h."),
    by: Optional[str] = typer.Option(None, "--by", help="Break down by device, channel, plan, "
                                     "country or any customer attribute."),
    since: Since = None, until: Until = None, channel: Channel = None, device: Device = None,
    where: Where = None, segment: Segment = None, as_json: Json = False, chart: Chart = None,
) -> None:
    """How many customers reach each step, how fast, and where they drop off."""
    with _reader(ctx) as con:
        result = funnel(con, steps, order=order, window=parse_window(window), by=by,
                        filters=_scoped(con, _filters(since, until, channel, device, where), segment))
    table = Table(title="Funnel")
    for col in ("group", "step", "customers", "from previous", "from first", "dropped",
                "median time", "p90 time"):
        table.add_column(col, justify="left" if col in ("group", "step") else "right")
    for name, steps_ in ([("all", result.steps)] + [(g.group, g.steps) for g in result.groups]):
        for s in steps_:
            table.add_row(name, "|".join(s.events), f"{s.customers:,}",
                          pct(s.conversion_from_previous), pct(s.conversion_from_first),
                          f"{s.dropped:,}", duration(s.median_seconds_from_previous),
                          duration(s.p90_seconds_from_previous))
    _emit(result, as_json, chart, table)


@app.command("paths")
def paths_cmd(
    ctx: typer.Context,
    top: int = typer.Option(10, "--top", help="How many paths to list (the rest are summed)."),
    from_event: Optional[str] = typer.Option(None, "--from", help="Start at this event."),
    to_event: Optional[str] = typer.Option(None, "--to", help="End at this event."),
    max_steps: int = typer.Option(6, "--max-steps", help="Steps shown per path."),
    collapse_repeats: bool = typer.Option(False, "--collapse-repeats",
                                          help="Count a repeated event once (a > a > b = a > b)."),
    conversion: Optional[str] = typer.Option(None, "--conversion",
                                             help="Conversion event (default: guessed)."),
    since: Since = None, until: Until = None, channel: Channel = None, device: Device = None,
    where: Where = None, segment: Segment = None, as_json: Json = False, chart: Chart = None,
) -> None:
    """The most common journeys, the share of customers on each, and how well each converts."""
    with _reader(ctx) as con:
        result = top_paths(con, top=top, from_event=from_event, to_event=to_event,
                           max_steps=max_steps, collapse_repeats=collapse_repeats,
                           conversion_event=conversion,
                           filters=_scoped(con, _filters(since, until, channel, device, where), segment))
    table = Table(title=f"Top paths (conversion: {result.conversion_event})")
    for col in ("path", "customers", "share", "converted"):
        table.add_column(col, justify="left" if col == "path" else "right")
    for p in result.paths:
        table.add_row(p.path, f"{p.customers:,}", pct(p.share), pct(p.conversion_rate))
    _emit(result, as_json, chart, table)


@app.command("transitions")
def transitions_cmd(
    ctx: typer.Context,
    collapse_repeats: bool = typer.Option(False, "--collapse-repeats", help="a > a counts once."),
    top: int = typer.Option(25, "--top", help="Rows shown in the table (JSON has all)."),
    since: Since = None, until: Until = None, channel: Channel = None, device: Device = None,
    where: Where = None, segment: Segment = None, as_json: Json = False, chart: Chart = None,
) -> None:
    """Which event follows which: counts, customers and probabilities, from start to end."""
    with _reader(ctx) as con:
        result = transitions(con, collapse_repeats=collapse_repeats,
                             filters=_scoped(con, _filters(since, until, channel, device, where), segment))
    table = Table(title="Most frequent transitions")
    for col in ("from", "to", "transitions", "customers", "probability"):
        table.add_column(col, justify="left" if col in ("from", "to") else "right")
    for t in sorted(result.transitions, key=lambda t: -t.transitions)[:top]:
        table.add_row(t.source, t.target, f"{t.transitions:,}", f"{t.customers:,}",
                      pct(t.probability))
    _emit(result, as_json, chart, table)


@app.command("next")
def next_cmd(
    ctx: typer.Context,
    events: List[str] = typer.Argument(..., help="A partial path, e.g. pricing_view signup."),
    top: int = typer.Option(10, "--top"),
    collapse_repeats: bool = typer.Option(False, "--collapse-repeats"),
    since: Since = None, until: Until = None, channel: Channel = None, device: Device = None,
    where: Where = None, segment: Segment = None, as_json: Json = False, chart: Chart = None,
) -> None:
    """What customers most often do next after a partial path."""
    with _reader(ctx) as con:
        result = next_steps(con, events, top=top, collapse_repeats=collapse_repeats,
                            filters=_scoped(con, _filters(since, until, channel, device, where), segment))
    table = Table(title="Next step after " + " > ".join(events))
    for col in ("next", "times", "customers", "probability"):
        table.add_column(col, justify="left" if col == "next" else "right")
    for n in result.next_steps:
        table.add_row(n.event, f"{n.occurrences:,}", f"{n.customers:,}", pct(n.probability))
    _emit(result, as_json, chart, table)


@app.command("moments")
def moments_cmd(
    ctx: typer.Context,
    outcome: str = typer.Option(..., "--outcome", help="The outcome, e.g. subscription_started."),
    among: Optional[str] = typer.Option(None, "--among",
                                        help="Only people who did this event."),
    anchor: Optional[str] = typer.Option(None, "--anchor",
                                         help="Count actions from this event (with --within)."),
    within: Optional[str] = typer.Option(None, "--within",
                                         help="Only actions within this time, e.g. 7d."),
    min_support: int = typer.Option(30, "--min-support", help="Minimum customers per group."),
    top: int = typer.Option(10, "--top"),
    since: Since = None, until: Until = None, channel: Channel = None, device: Device = None,
    where: Where = None, segment: Segment = None, as_json: Json = False, chart: Chart = None,
) -> None:
    """Moments of truth: actions that go with more (or fewer) outcomes. Correlation, not cause."""
    with _reader(ctx) as con:
        result = moments(con, outcome, among=among, anchor=anchor,
                         within_seconds=parse_window(within), min_support=min_support, top=top,
                         filters=_scoped(con, _filters(since, until, channel, device, where), segment))
    table = Table(title=f"Moments for {outcome}")
    for col in ("", "moment", "did", "rate if did", "rate if not", "lift", "q"):
        table.add_column(col, justify="left" if col in ("", "moment") else "right")
    for sign, items in (("+", result.positive), ("-", result.negative)):
        for m in items:
            table.add_row(sign, m.moment, f"{m.did:,}", pct(m.outcome_rate_did),
                          pct(m.outcome_rate_did_not), f"{m.lift:.2f}" if m.lift else "n/a",
                          f"{m.q_value:.1g}" if m.q_value is not None else "n/a")
    _emit(result, as_json, chart, table)
    if not as_json:
        console.print(result.note)


@app.command("retention")
def retention_cmd(
    ctx: typer.Context,
    period: str = typer.Option("week", "--period", help="week or month."),
    cohort_event: Optional[str] = typer.Option(None, "--cohort-event",
                                               help="Cohort by this event (default: signup)."),
    return_event: Optional[str] = typer.Option(None, "--return-event",
                                               help="Count only this event as coming back."),
    since: Since = None, until: Until = None, channel: Channel = None, device: Device = None,
    where: Where = None, segment: Segment = None, as_json: Json = False, chart: Chart = None,
) -> None:
    """Cohort retention: of those who started in a period, how many are still active later."""
    with _reader(ctx) as con:
        result = retention(con, period=period, cohort_event=cohort_event,
                           return_event=return_event,
                           filters=_scoped(con, _filters(since, until, channel, device, where), segment))
    shown = min(len(result.curve), 9)
    table = Table(title=f"Retention by {period}")
    table.add_column("cohort")
    table.add_column("size", justify="right")
    for k in range(shown):
        table.add_column(str(k), justify="right")
    for c in result.cohorts:
        table.add_row(c.cohort.strftime("%Y-%m-%d"), f"{c.size:,}",
                      *[pct(r, 0) if r is not None else "" for r in c.rates[:shown]])
    table.add_row("all", f"{sum(c.size for c in result.cohorts):,}",
                  *[pct(r, 0) for r in result.curve[:shown]])
    _emit(result, as_json, chart, table)


@app.command("attribution")
def attribution_cmd(
    ctx: typer.Context,
    conversion: str = typer.Option(..., "--conversion", help="The conversion event."),
    model: str = typer.Option("markov", "--model", help=", ".join(MODELS) + "."),
    since: Since = None, until: Until = None, channel: Channel = None, device: Device = None,
    where: Where = None, segment: Segment = None, as_json: Json = False, chart: Chart = None,
) -> None:
    """Credit per channel for conversions, by first/last/linear/position/Markov models."""
    with _reader(ctx) as con:
        result = attribution(con, conversion, model=model,
                             filters=_scoped(con, _filters(since, until, channel, device, where), segment))
    table = Table(title=f"Attribution ({model}) for {conversion}")
    for col in ("channel", "credit", "share", "reached", "per 1,000 reached", *MODELS):
        table.add_column(col, justify="left" if col == "channel" else "right")
    for c in result.channels:
        table.add_row(c.channel, f"{c.credit:,.1f}", pct(c.share), f"{c.people_reached:,}",
                      f"{c.conversions_per_1000_reached:,.1f}",
                      *[f"{c.by_model[m]:,.1f}" for m in MODELS])
    _emit(result, as_json, chart, table)


@app.command("anomalies")
def anomalies_cmd(
    ctx: typer.Context,
    steps: Optional[List[str]] = typer.Argument(None, help="Key steps (default: one per stage)."),
    window_days: int = typer.Option(7, "--window-days"),
    threshold: float = typer.Option(3.5, "--threshold", help="z-score that flags a week."),
    since: Since = None, until: Until = None, channel: Channel = None, device: Device = None,
    where: Where = None, segment: Segment = None, as_json: Json = False, chart: Chart = None,
) -> None:
    """What changed: weekly conversion between key steps, unusual weeks flagged."""
    with _reader(ctx) as con:
        result = anomalies(con, steps=steps or None, window_days=window_days,
                           threshold=threshold,
                           filters=_scoped(con, _filters(since, until, channel, device, where), segment))
    table = Table(title="Unusual weeks")
    for col in ("metric", "week", "rate", "usual", "z", "customers"):
        table.add_column(col, justify="left" if col in ("metric", "week") else "right")
    for f in result.flagged:
        table.add_row(f["metric"], f"{f['week']:%Y-%m-%d}", pct(f["rate"]), pct(f["baseline"]),
                      f"{f['z']:.1f}", f"{f['people']:,}")
    _emit(result, as_json, chart, table)
