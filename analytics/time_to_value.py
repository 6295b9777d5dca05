"""Time to value: how long people take from starting to a key action, and how many get there.

A person starts at their first `from_event`, or (by default) at their signup date in the
customers table when the table has signup dates, else at their first event; the start must lie
in the date range. They reach the action at its first occurrence at or after the start, up to
the end of observation (`observation_end`). Everyone who started is in the denominator, reached
or not; a share "within N days" counts only people observed for at least N days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from analytics.catalog import Catalog, load_catalog
from analytics.errors import ArgumentError
from analytics.filters import (
    ATTRIBUTE_RULE,
    Filters,
    check_filters,
    date_bounds,
    observation_end,
    scope_sql,
)
from analytics.results import AnalyticResult, pct, rate
from analytics.store.connection import Connection, one

STANDARD_DAYS = (1.0, 7.0, 30.0)
DAY_MS = 86_400_000.0
SIGNUP = "signup date (customers table)"


def default_action(con: Connection) -> str | None:
    """The key action when none is named: the journey's conversion event (the one place that
    asks, so the journey model can replace it)."""
    from analytics.paths import default_conversion_event

    return default_conversion_event(con)


@dataclass
class WithinShare:
    days: float
    eligible: int  # started at least `days` before the end of observation
    reached: int  # of those, reached the action within `days`
    share: float | None


@dataclass
class CurvePoint:
    day: int
    eligible: int
    reached: int
    share: float | None


@dataclass
class TimeToValueStats:
    group: str
    started: int = 0
    reached: int = 0
    reached_share: float | None = None  # reached by the end of observation / started
    median_days: float | None = None
    p75_days: float | None = None
    p90_days: float | None = None
    within: list[WithinShare] = field(default_factory=list)
    curve: list[CurvePoint] = field(default_factory=list)

    def share_within(self, days: float) -> WithinShare | None:
        return next((w for w in self.within if w.days == days), None)


@dataclass
class TimeToValueResult(AnalyticResult):
    to_event: str = ""
    start_definition: str = ""
    from_event: str | None = None
    within_days: float = 7.0
    observation_end: datetime | None = None
    already_before_start: int = 0  # did the action before they started: left out
    overall: TimeToValueStats = field(default_factory=lambda: TimeToValueStats("all"))
    by: str | None = None
    groups: list[TimeToValueStats] = field(default_factory=list)

    kind = "time_to_value"

    def figure(self):
        import plotly.graph_objects as go

        fig = go.Figure()
        for stats in [self.overall, *self.groups]:
            fig.add_trace(go.Scatter(x=[p.day for p in stats.curve],
                                     y=[p.share for p in stats.curve], mode="lines+markers",
                                     name=stats.group))
        fig.add_vline(x=self.within_days, line_dash="dot")
        fig.update_layout(title=f"Share who did {self.to_event}, by days since "
                                f"{self.start_definition}",
                          xaxis_title="days since start", yaxis_title="share reached",
                          yaxis_tickformat=".0%")
        return fig


def time_to_value(con: Connection, to_event: str | None = None, *,
                  from_event: str | None = None, within_days: float = 7.0,
                  by: str | None = None, filters: Filters = Filters(),
                  catalog: Catalog | None = None) -> TimeToValueResult:
    if within_days <= 0:
        raise ArgumentError("within_days", "must be more than 0 days")
    catalog = catalog or load_catalog(con)
    to_event = to_event or default_action(con)
    if not to_event:
        raise ArgumentError("to_event", "the data have no conversion event yet: name the key "
                                        "action, e.g. the event of a first report or a purchase")
    catalog.check_event(to_event)
    if from_event:
        catalog.check_event(from_event)
    check_filters(filters, catalog)
    if by is not None:
        catalog.check_attribute(by)
    end = observation_end(con, filters)
    # People in scope, with all their events: the start may come before the date range's
    # events, and the action after it (up to the end of observation).
    scope = scope_sql(filters, group_by=by, date_range=False, light=True)
    starts_sql, start_params, definition = _starts(con, from_event)
    range_start, range_end = date_bounds(filters)
    conditions = ["started <= ?"]
    range_params: list = [end]
    if range_start is not None:
        conditions.append("started >= ?")
        range_params.append(range_start)
    if range_end is not None:
        conditions.append("started < ?")
        range_params.append(range_end)
    days = sorted({*STANDARD_DAYS, float(within_days)})
    horizon = int(min(max(30.0, within_days), 365.0))
    grp = "any_value(g.grp)" if by else "''"
    join = "LEFT JOIN people AS g ON g.person_id = s.person_id" if by else ""
    labelled = ("SELECT TRUE AS overall, '' AS g, p.* FROM per_person AS p" +
                ("\n    UNION ALL SELECT FALSE AS overall, p.grp AS g, p.* FROM per_person AS p"
                 if by else ""))
    within_cols = ",\n       ".join(
        f"sum(CASE WHEN observed_days >= {d!r} THEN 1 ELSE 0 END) AS eligible_{k},\n       "
        f"sum(CASE WHEN observed_days >= {d!r} AND days_to <= {d!r} THEN 1 ELSE 0 END) "
        f"AS reached_{k}" for k, d in enumerate(days))
    base = f"""
{scope.ctes},
raw_starts AS ({starts_sql}),
starts AS (SELECT person_id, started FROM raw_starts WHERE {' AND '.join(conditions)}),
actions AS (
    SELECT s.person_id AS person_id, min(e.ts) AS reached_at
    FROM starts AS s JOIN ev AS e ON e.person_id = s.person_id
    WHERE e.event_name = ? AND e.ts <= ?
    GROUP BY s.person_id
),
all_starters AS (
    SELECT s.person_id AS person_id, {grp} AS grp, any_value(s.started) AS started,
           any_value(a.reached_at) AS reached_at
    FROM starts AS s LEFT JOIN actions AS a ON a.person_id = s.person_id {join}
    GROUP BY s.person_id
),
per_person AS (
    SELECT person_id, grp,
           CASE WHEN reached_at IS NOT NULL
                THEN (epoch_ms(reached_at) - epoch_ms(started)) / {DAY_MS} END AS days_to,
           (epoch_ms(CAST(? AS TIMESTAMPTZ)) - epoch_ms(started)) / {DAY_MS} AS observed_days
    FROM all_starters WHERE reached_at IS NULL OR reached_at >= started
),
labelled AS (
    {labelled}
)"""
    params = scope.params + start_params + range_params + [to_event, end, end]
    rows = con.execute(f"""{base}
SELECT overall, g, count(*) AS started, count(days_to) AS reached,
       quantile_cont(days_to, 0.5) AS median_days, quantile_cont(days_to, 0.75) AS p75_days,
       quantile_cont(days_to, 0.9) AS p90_days,
       (SELECT count(*) FROM all_starters WHERE reached_at < started) AS before_start,
       {within_cols}
FROM labelled GROUP BY overall, g
""", params).fetchall()
    # The days as a VALUES list, not range(): a table function no other engine shares.
    day_values = ", ".join(f"({d})" for d in range(horizon + 1))
    curve_rows = con.execute(f"""{base},
days AS (SELECT d FROM (VALUES {day_values}) AS t(d))
SELECT l.overall AS overall, l.g AS g, days.d AS d,
       sum(CASE WHEN l.observed_days >= days.d THEN 1 ELSE 0 END) AS eligible,
       sum(CASE WHEN l.observed_days >= days.d AND l.days_to <= days.d THEN 1 ELSE 0 END)
           AS reached
FROM labelled AS l CROSS JOIN days GROUP BY l.overall, l.g, days.d
ORDER BY overall DESC, g, d
""", params).fetchall()
    stats: dict[tuple[bool, str], TimeToValueStats] = {}
    before = 0
    for overall, group, started, reached, median, p75, p90, before_start, *within in rows:
        key = (overall, "all" if overall else group)
        stats[key] = TimeToValueStats(
            key[1], started, reached, rate(reached, started), median, p75, p90,
            within=[WithinShare(days_n, int(within[2 * k]), int(within[2 * k + 1]),
                                rate(within[2 * k + 1], within[2 * k]))
                    for k, days_n in enumerate(days)])
        before = before_start
    for overall, group, d, eligible, reached in curve_rows:
        key = (overall, "all" if overall else group)
        if eligible and key in stats:
            stats[key].curve.append(CurvePoint(d, int(eligible), int(reached),
                                               rate(reached, eligible)))
    overall_stats = stats.get((True, "all"), TimeToValueStats("all"))
    groups = sorted((s for (is_all, _), s in stats.items() if not is_all),
                    key=lambda s: (-s.started, s.group))
    result = TimeToValueResult(
        to_event=to_event, start_definition=definition, from_event=from_event,
        within_days=float(within_days), observation_end=end, already_before_start=before,
        overall=overall_stats, by=by, groups=groups, filters=filters.describe(),
        definitions=_definitions(to_event, definition, within_days, end, by))
    result.summary = _summary(result)
    return result


def _starts(con: Connection, from_event: str | None) -> tuple[str, list, str]:
    """SQL of (person_id, started), its parameters, and the start as the result names it."""
    if from_event:
        return ("SELECT person_id, min(ts) AS started FROM ev WHERE event_name = ? "
                "GROUP BY person_id", [from_event], f"first {from_event}")
    has_signups = one(con, "SELECT count(*) FROM customers WHERE signup_at IS NOT NULL")[0] > 0
    if has_signups:
        return ("SELECT c.customer_id AS person_id, min(c.signup_at) AS started "
                "FROM customers AS c WHERE c.signup_at IS NOT NULL AND "
                "c.customer_id IN (SELECT person_id FROM ev) GROUP BY c.customer_id", [],
                SIGNUP)
    return ("SELECT person_id, min(ts) AS started FROM ev GROUP BY person_id", [],
            "first event")


def _started_phrase(result: TimeToValueResult) -> str:
    if result.from_event:
        return f"did {result.from_event}"
    if result.start_definition == SIGNUP:
        return "signed up (signup date in the customers table)"
    return "started (their first event)"


def _days_text(days: float) -> str:
    return f"{days:g} day" + ("" if days == 1 else "s")


def _definitions(to_event: str, definition: str, within_days: float, end: datetime,
                 by: str | None) -> dict[str, str]:
    out = {
        "started": (f"people whose {definition} falls in the date range (and at or before the "
                    "end of observation)" + ("; only customers with a signup date and at least "
                                             "one event in scope" if definition == SIGNUP
                                             else "")),
        "reached": f"started and did {to_event} at or after their start, by the end of "
                   "observation",
        "denominator": "everyone who started, whether they reached the action or not",
        "already before start": f"people whose first {to_event} came before their start are "
                                "left out of every figure and counted apart",
        "days to reach": "from the start to the first action after it; median, 75th and 90th "
                         "percentile over the people who reached it",
        "within N days": "reached within N days / started at least N days before the end of "
                         "observation (people who started later are left out of that share, "
                         "reached or not)",
        "curve": "for each day d: reached within d days / started at least d days before the "
                 "end of observation",
        "end of observation": f"{end.isoformat()}: the last event at or before the date "
                              "range's end",
        "within_days": f"{_days_text(within_days)}, asked for; 1, 7 and 30 days always shown",
    }
    if by:
        out["attribute"] = ATTRIBUTE_RULE
        out["by"] = f"each person's {by}; every figure per group"
    return out


def _summary(result: TimeToValueResult) -> str:
    o = result.overall
    if not o.started:
        return f"No one started ({result.start_definition}) in this scope."
    text = (f"{o.started:,} people {_started_phrase(result)}; {o.reached:,} "
            f"({pct(o.reached_share)}) did {result.to_event} by the end of observation.")
    if o.reached:
        text += (f" Those who did took a median {o.median_days:.1f} days (75th percentile "
                 f"{o.p75_days:.1f}, 90th {o.p90_days:.1f}).")
    windows = list(dict.fromkeys([result.within_days, 30.0]))
    for days in windows:
        share = o.share_within(days)
        if share is not None and share.eligible:
            text += (f" Within {_days_text(days)}: {pct(share.share)} of the "
                     f"{share.eligible:,} people observed that long.")
    for days in windows:  # groups compared on the first window where they differ
        scored = [(g, w.share) for g in result.groups
                  for w in [g.share_within(days)] if w and w.share is not None]
        if len(scored) < 2:
            continue
        best = max(scored, key=lambda gs: gs[1])
        worst = min(scored, key=lambda gs: gs[1])
        if best[1] != worst[1]:
            text += (f" By {result.by}: {best[0].group} gets there within {_days_text(days)} "
                     f"most often ({pct(best[1])}), {worst[0].group} least "
                     f"({pct(worst[1])}).")
            break
    if result.already_before_start:
        n = result.already_before_start
        text += (f" {n:,} {'person' if n == 1 else 'people'} did it before their start "
                 f"and {'is' if n == 1 else 'are'} left out.")
    return text
