"""What changed: every step of the main journey and every frequent event, period by period,
with the unusual stretches found, sized and explained.

Two kinds of metric are watched:
* a step rate A -> B: of the people whose first A fell in the period, the share who did B within
  `window_days` after it (one per pair of consecutive main-journey steps);
* an event rate: of the people active in the period, the share who did the event (the frequent
  events, and every error or support-like event however rare, since those rise with trouble).

Periods are weeks (Monday, UTC), or days when the data are dense enough (`grain="auto"`). Each
window of complete periods (one to eight weeks, change_windows.py) is tested against the pooled
rate of the `baseline_periods` unremarkable periods around it (Fisher's exact test, or the
z-test on large counts), and all tests are corrected together (Benjamini-Hochberg within each
family: the steps, the events; change_tests.py). The best of overlapping flagged windows of a
metric is one change:
a window, its size, where it is concentrated (change_drivers.py) and what moved with it.
Periods whose window has not fully elapsed by the end of observation are shown, never flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from analytics.catalog import Catalog, load_catalog
from analytics.change_metrics import (
    choose_grain,
    event_rows,
    step_rows,
    watched_events,
)
from analytics.change_tests import benjamini_hochberg
from analytics.errors import JourneyError
from analytics.filters import Filters, check_filters, observation_end, scope_sql
from analytics.results import AnalyticResult, pct
from analytics.store.connection import Connection

NOT_PROGRESS = ("error", "fail", "cancel", "expire", "churn")


@dataclass
class WeekValue:
    week: datetime  # the period's start (a week or a day)
    people: int
    converted: int
    rate: float | None
    baseline: float | None = None
    z: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    complete: bool = True
    flagged: bool = False


@dataclass
class MetricSeries:
    metric: str  # "A -> B" or "event: E"
    weeks: list[WeekValue]
    last_week_change: float | None = None  # last complete period minus the one before
    kind: str = "step"  # step | event
    events: tuple[str, ...] = ()  # (A, B) or (E,)


@dataclass
class Contribution:
    dimension: str  # device, channel, plan, country or an event property
    value: str
    share_of_people: float  # during the window
    rate_before: float | None
    rate_during: float | None
    share_of_change: float | None  # of the overall change, the part this value's own change makes
    concentration: float | None = None  # share_of_change - share_of_people


@dataclass
class Change:
    metric: str
    kind: str
    start: datetime
    end: datetime  # exclusive
    direction: str  # rose | fell
    rate_before: float | None
    rate_during: float | None
    people: int
    p_adjusted: float
    size: float | None = None  # people affected: (during - before) * people
    concentrated_in: list[Contribution] = field(default_factory=list)
    co_moving: list[str] = field(default_factory=list)  # other changes in the same window

    @property
    def last_day(self) -> datetime:
        return self.end - timedelta(days=1)


@dataclass
class AnomaliesResult(AnalyticResult):
    steps: list[str] = field(default_factory=list)
    window_days: int = 7
    grain: str = "week"
    series: list[MetricSeries] = field(default_factory=list)
    flagged: list[dict] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    tests: int = 0

    kind = "anomalies"

    def figure(self):
        import plotly.graph_objects as go

        fig = go.Figure()
        shown = [s for s in self.series if s.kind == "step"] + [
            s for s in self.series if s.kind == "event" and any(w.flagged for w in s.weeks)]
        for s in shown:
            fig.add_trace(go.Scatter(x=[w.week for w in s.weeks], y=[w.rate for w in s.weeks],
                                     mode="lines", name=s.metric))
            flagged = [w for w in s.weeks if w.flagged]
            fig.add_trace(go.Scatter(x=[w.week for w in flagged], y=[w.rate for w in flagged],
                                     mode="markers", marker={"size": 12, "symbol": "x"},
                                     name=f"unusual: {s.metric}"))
        for c in self.changes[:3]:
            fig.add_vrect(x0=c.start, x1=c.end, opacity=0.1, line_width=0,
                          annotation_text=c.metric)
        fig.update_layout(title=f"What changed, {self.grain} by {self.grain}",
                          yaxis={"tickformat": ".0%"})
        return fig


def key_steps(con: Connection) -> list[str]:
    """The main journey of the journey model (inferred from behaviour, or the user's own)."""
    from analytics.journey_model import journey_model

    return list(journey_model(con).funnel)


def anomalies(con: Connection, *, steps: list[str] | None = None,
              window_days: int = 7, baseline_weeks: int = 8,
              false_discovery_rate: float = 0.05, min_people: int = 20,
              min_change: float = 0.02, grain: str = "auto", watch_events: bool = True,
              filters: Filters = Filters(), catalog: Catalog | None = None) -> AnomaliesResult:
    catalog = catalog or load_catalog(con)
    check_filters(filters, catalog)
    steps = steps or key_steps(con)
    if len(steps) < 2:
        raise JourneyError("What changed needs at least two steps of the journey: set the main "
                           "journey with `journey model set funnel A B ...` or name the steps")
    from analytics.funnel import parse_steps

    parsed = dict(zip(steps, parse_steps(steps, catalog)))  # 'a|b', 'page[path=/x]' alike
    if grain not in ("auto", "week", "day"):
        raise JourneyError("grain must be auto, week or day")
    scope = scope_sql(filters, light=True)
    data_end = observation_end(con, filters)
    grain = choose_grain(con, scope, parsed[steps[0]], grain)
    period = timedelta(days=7 if grain == "week" else 1)
    baseline_periods = baseline_weeks if grain == "week" else 28
    series: list[MetricSeries] = []
    for a, b in zip(steps, steps[1:]):
        weeks = [WeekValue(p, n, int(c), c / n if n else None)
                 for p, n, c in step_rows(con, scope, parsed[a], parsed[b], window_days,
                                           grain)]
        for w in weeks:
            w.complete = w.week + period + timedelta(days=window_days) <= data_end
        series.append(MetricSeries(f"{a} -> {b}", weeks, kind="step", events=(a, b)))
    if watch_events:
        for event, rows in event_rows(con, scope, watched_events(con, scope), grain).items():
            weeks = [WeekValue(p, n, int(c), c / n if n else None) for p, n, c in rows]
            for w in weeks:
                w.complete = w.week + period <= data_end
            series.append(MetricSeries(f"event: {event}", weeks, kind="event",
                                       events=(event,)))
    from analytics.change_windows import LENGTHS, best_windows, window_tests

    tested: list = []
    for s in series:
        # Periods unusual on their own stay out of every baseline, so an incident does not
        # become its own baseline.
        singles = window_tests(s, (1,), baseline_periods, min_people, set())
        suspect = {t.start for t in singles if t.p < false_discovery_rate}
        tested += window_tests(s, LENGTHS[grain], baseline_periods, min_people, suspect)
    # Two families, each corrected on its own: the journey's steps (what is asked about) are
    # not diluted by the many event rates watched beside them.
    flagged_windows = []
    for family in ("step", "event"):
        chosen = [t for t in tested if t.series.kind == family]
        for t, adjusted in zip(chosen, benjamini_hochberg([t.p for t in chosen])):
            t.adjusted = adjusted
            if t.length == 1:
                t.series.weeks[t.start].p_adjusted = adjusted
            if adjusted <= false_discovery_rate and abs(t.rate - t.baseline) >= min_change:
                flagged_windows.append(t)
    windows_kept = best_windows(flagged_windows)
    for t in windows_kept:
        for w in t.series.weeks[t.start:t.stop]:
            w.flagged = True
    for s in series:
        complete = [w.rate for w in s.weeks if w.complete and w.rate is not None
                    and w.people >= min_people]
        s.last_week_change = (complete[-1] - complete[-2]) if len(complete) >= 2 else None
    from analytics.change_drivers import explain_changes

    changes = _changes(windows_kept, period)
    explain_changes(con, scope, changes, grain, window_days, baseline_periods * period, parsed)
    flagged: list[dict[str, Any]] = [
        {"metric": s.metric, "week": w.week, "rate": w.rate, "baseline": w.baseline,
         "z": w.z, "p_adjusted": w.p_adjusted, "people": w.people}
        for s in series for w in s.weeks if w.flagged]
    flagged.sort(key=lambda f: (f["p_adjusted"], -abs(f["z"] or 0)))
    result = AnomaliesResult(
        steps=steps, window_days=window_days, grain=grain, series=series, flagged=flagged,
        changes=changes, tests=len(tested), filters=filters.describe(), definitions={
            "step rate": f"of people whose first A fell in the {grain} (UTC), the share who did "
                         f"B within {window_days} days",
            "event rate": f"of people active in the {grain}, the share who did the event",
            "baseline": f"pooled rate of {baseline_periods} complete {grain}s around the "
                        "period (half before, half after; only before at the end of the "
                        "data), leaving out unusual ones",
            "test": "the period against its baseline by Fisher's exact test (a pooled z-test "
                    "when every expected cell is 10 or more); p-values "
                    f"corrected with Benjamini-Hochberg ({len(tested)} tests, the steps and "
                    "the event rates each as one family), "
                    f"flagged at a false discovery rate of {false_discovery_rate:.0%} and a "
                    f"change of at least {min_change * 100:.0f} points, with >= {min_people} "
                    "people; incomplete periods are never flagged",
            "concentrated_in": "the value whose own change makes the largest part of the "
                               "overall change beyond its share of the people (a ranked "
                               "decomposition: share of people x change of rate)",
            "last_week_change": f"last complete {grain}'s rate minus the one before",
        })
    result.summary = _summary(result)
    return result


def _changes(kept: list, period: timedelta) -> list[Change]:
    out: list[Change] = []
    for t in kept:
        weeks = t.series.weeks
        out.append(Change(
            metric=t.series.metric, kind=t.series.kind, start=weeks[t.start].week,
            end=weeks[t.stop - 1].week + period,
            direction="rose" if t.rate > t.baseline else "fell", rate_before=t.baseline,
            rate_during=t.rate, people=t.people, p_adjusted=t.adjusted,
            size=(t.rate - t.baseline) * t.people))
    # The journey's own steps first (what a marketer asks about), each kind biggest first.
    out.sort(key=lambda c: (c.kind != "step", -abs(c.size or 0)))
    return out


def _summary(result: AnomaliesResult) -> str:
    unit = result.grain
    near = sorted(((s.metric, w) for s in result.series if s.kind == "step" for w in s.weeks
                   if not w.flagged and w.p_value is not None and w.p_value < 0.01),
                  key=lambda m: m[1].p_value or 1)
    if not result.tests:
        parts = [f"Too little data to test: no {unit} has enough people at a step, with "
                 f"4 usable {unit}s around it to compare with (at least 20 people each)."]
    elif not result.changes:
        parts = [f"No unusual {unit}s in {len(result.series)} metrics "
                 f"({result.tests} tests, Benjamini-Hochberg corrected)."]
    else:
        c = result.changes[0]
        length = (c.end - c.start).days // (7 if unit == "week" else 1)
        name = (c.metric if c.kind == "step"
                else f"The share of active people doing {c.metric.removeprefix('event: ')}")
        parts = [f"{name} {c.direction} from {pct(c.rate_before)} to {pct(c.rate_during)} "
                 f"between {c.start:%Y-%m-%d} and {c.last_day:%Y-%m-%d} ({length} {unit}"
                 f"{'s' if length != 1 else ''}, {c.people:,} people"
                 + (f", about {abs(c.size):,.0f} {'more' if (c.size or 0) > 0 else 'fewer'} "
                    + (f"reached {c.metric.split(' -> ', 1)[1]}" if c.kind == "step"
                       else "did it") if c.size else "") + ")."]
        if c.concentrated_in:
            top = c.concentrated_in[0]
            part = ("all of the change (the rest moved the other way)"
                    if (top.share_of_change or 0) >= 0.995
                    else f"{pct(top.share_of_change, 0)} of the change")
            parts.append(f"Concentrated in {top.dimension} = {top.value}: "
                         f"{pct(top.rate_before)} to {pct(top.rate_during)} there, {part}, "
                         f"from {pct(top.share_of_people, 0)} of the people.")
        elif c.kind == "step":
            parts.append("Not concentrated in any one device, channel, plan, country or "
                         "property value: it hit them alike.")
        if c.co_moving:
            parts.append("At the same time: " + "; ".join(c.co_moving[:3]) + ".")
        others = len(result.changes) - 1
        if others:
            parts.append(f"{others} other change(s) found.")
    if near and not any(c.kind == "step" for c in result.changes):
        metric, w = near[0]
        parts.append(f"Closest among the journey's steps: {metric} in the {unit} of "
                     f"{w.week:%Y-%m-%d} at {pct(w.rate)} against a usual {pct(w.baseline)} "
                     f"({w.people:,} people; p = {w.p_value:.2g} alone, {w.p_adjusted:.2g} "
                     "after correcting for every test: not conclusive).")
    moves = [(s.metric, s.last_week_change) for s in result.series
             if s.kind == "step" and s.last_week_change is not None]
    if moves:
        metric, moved = max(moves, key=lambda m: abs(m[1]))
        parts.append(f"Since the {unit} before, {metric} moved most ({moved * 100:+.1f} points).")
    return " ".join(parts)
