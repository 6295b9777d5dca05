"""The living map: weekly values of the key funnel rates, with unusual weeks flagged.

For each pair of consecutive key steps (A -> B), a week's rate is: of the people whose first A
fell in that week, the share who did B within the window after it. A week is flagged when its
two-proportion z-score against the pooled rate of the previous `baseline_weeks` complete,
unflagged weeks reaches `threshold`, with enough people behind it. Weeks
whose window has not fully elapsed by the end of the data are reported but never flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from analytics.catalog import Catalog, load_catalog
from analytics.errors import JourneyError
from analytics.filters import Filters, check_filters, observation_end, scope_sql
from analytics.results import AnalyticResult, pct
from analytics.store.connection import Connection

NOT_PROGRESS = ("error", "fail", "cancel", "expire", "churn")


@dataclass
class WeekValue:
    week: datetime
    people: int
    converted: int
    rate: float | None
    baseline: float | None = None
    z: float | None = None
    complete: bool = True
    flagged: bool = False


@dataclass
class MetricSeries:
    metric: str  # "A -> B"
    weeks: list[WeekValue]
    last_week_change: float | None = None  # last complete week minus the week before


@dataclass
class AnomaliesResult(AnalyticResult):
    steps: list[str] = field(default_factory=list)
    window_days: int = 7
    series: list[MetricSeries] = field(default_factory=list)
    flagged: list[dict] = field(default_factory=list)

    kind = "anomalies"

    def figure(self):
        import plotly.graph_objects as go

        fig = go.Figure()
        for s in self.series:
            fig.add_trace(go.Scatter(x=[w.week for w in s.weeks], y=[w.rate for w in s.weeks],
                                     mode="lines", name=s.metric))
            flagged = [w for w in s.weeks if w.flagged]
            fig.add_trace(go.Scatter(x=[w.week for w in flagged], y=[w.rate for w in flagged],
                                     mode="markers", marker={"size": 12, "symbol": "x"},
                                     name=f"unusual: {s.metric}"))
        fig.update_layout(title="Weekly conversion between key steps", yaxis={"tickformat": ".0%"})
        return fig


def key_steps(con: Connection) -> list[str]:
    """Per stage in order, the event most people do (errors, cancellations and expiries aside)."""
    rows = con.execute("""
        SELECT stage, event_name, count(DISTINCT person_id) AS people, min(stage_position) AS pos
        FROM journey_events WHERE stage <> 'unmapped'
        GROUP BY stage, event_name ORDER BY pos, people DESC, event_name
    """).fetchall()
    chosen: dict[str, str] = {}
    for stage, event, _, _ in rows:
        if stage not in chosen and not any(w in event.lower() for w in NOT_PROGRESS):
            chosen[stage] = event
    return list(chosen.values())


def anomalies(con: Connection, *, steps: list[str] | None = None,
              window_days: int = 7, baseline_weeks: int = 8, threshold: float = 3.5,
              min_people: int = 20, filters: Filters = Filters(),
              catalog: Catalog | None = None) -> AnomaliesResult:
    catalog = catalog or load_catalog(con)
    check_filters(filters, catalog)
    steps = steps or key_steps(con)
    for s in steps:
        catalog.check_event(s)
    if len(steps) < 2:
        raise JourneyError("Anomalies need at least two key steps")
    scope = scope_sql(filters)
    data_end = observation_end(con, filters)
    series: list[MetricSeries] = []
    for a, b in zip(steps, steps[1:]):
        rows = con.execute(f"""
{scope.ctes},
firsts AS (SELECT person_id, min(ts) AS t FROM ev WHERE event_name = ? GROUP BY person_id),
reached AS (
    SELECT f.person_id, max(CASE WHEN e.person_id IS NULL THEN 0 ELSE 1 END) AS did
    FROM firsts AS f LEFT JOIN ev AS e
      ON e.person_id = f.person_id AND e.event_name = ? AND e.ts >= f.t
     AND e.ts <= f.t + INTERVAL {int(window_days)} DAY
    GROUP BY f.person_id
)
SELECT date_trunc('week', f.t) AS week, count(*) AS people, sum(r.did) AS converted
FROM firsts AS f JOIN reached AS r ON r.person_id = f.person_id
GROUP BY week ORDER BY week
""", scope.params + [a, b]).fetchall()
        weeks = [WeekValue(w, n, int(c), c / n if n else None) for w, n, c in rows]
        for i, w in enumerate(weeks):
            w.complete = w.week + timedelta(days=7 + window_days) <= data_end
            history = [x for x in weeks[:i] if x.complete and x.people >= min_people
                       and not x.flagged][-baseline_weeks:]
            if len(history) >= 4 and w.rate is not None:
                base_people = sum(x.people for x in history)
                baseline = sum(x.converted for x in history) / base_people
                w.baseline = baseline
                # Two-proportion z: the week against its pooled baseline weeks.
                variance = baseline * (1 - baseline) * (1 / w.people + 1 / base_people)
                w.z = (w.rate - baseline) / max(variance ** 0.5, 1e-9)
                w.flagged = (w.complete and w.people >= min_people and abs(w.z) >= threshold)
        complete = [w.rate for w in weeks if w.complete and w.rate is not None
                    and w.people >= min_people]
        change = (complete[-1] - complete[-2]) if len(complete) >= 2 else None
        series.append(MetricSeries(f"{a} -> {b}", weeks, change))
    flagged: list[dict[str, Any]] = [
        {"metric": s.metric, "week": w.week, "rate": w.rate, "baseline": w.baseline,
         "z": w.z, "people": w.people} for s in series for w in s.weeks if w.flagged]
    flagged.sort(key=lambda f: -abs(f["z"]))
    result = AnomaliesResult(
        steps=steps, window_days=window_days, series=series, flagged=flagged,
        filters=filters.describe(), definitions={
            "weekly rate": f"of people whose first A fell in the week (Monday, UTC), the share who "
                           f"did B within {window_days} days",
            "baseline": f"pooled rate of the previous {baseline_weeks} complete, unflagged weeks",
            "flag": f"two-proportion z-score of the week against its baseline, |z| >= {threshold}, "
                    f"with >= {min_people} people; incomplete weeks are never flagged",
            "last_week_change": "last complete week's rate minus the week before",
        })
    parts = []
    if flagged:
        f = flagged[0]
        parts.append(f"{len(flagged)} unusual week(s). Largest: {f['metric']} in the week of "
                     f"{f['week']:%Y-%m-%d} at {pct(f['rate'])} against a usual "
                     f"{pct(f['baseline'])}.")
    else:
        parts.append("No unusual weeks.")
    changes = [(s.metric, s.last_week_change) for s in series if s.last_week_change is not None]
    if changes:
        metric, moved = max(changes, key=lambda c: abs(c[1]))
        parts.append(f"Since the week before, {metric} moved most "
                     f"({moved * 100:+.1f} points).")
    result.summary = " ".join(parts)
    return result
