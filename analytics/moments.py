"""Moments of truth: which actions go with a higher (or lower) chance of an outcome.

For each event, and each ordered pair of events (A before B), seen before a person's first
outcome, compare the outcome rate of people who did it with people who did not. This is
correlation, not cause: people who do an action may differ in other ways. An experiment with a
holdout is the way to prove cause.

Events that nearly everyone who reached the outcome did first (>= 95%) are steps on the way, not
moments; they are listed as prerequisites and left out of the ranking.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from scipy import stats

from analytics.catalog import Catalog, load_catalog
from analytics.errors import ArgumentError, JourneyError
from analytics.filters import Filters, check_filters, scope_sql
from analytics.results import AnalyticResult, pct
from analytics.store.connection import Connection, one

PREREQUISITE_SHARE = 0.95
CORRELATION_NOTE = ("Correlation, not cause: people who take an action may differ in other ways. "
                    "Test an action with a holdout before crediting it.")


@dataclass
class Moment:
    moment: str
    kind: str  # "event" or "pair"
    did: int
    outcome_rate_did: float
    did_not: int
    outcome_rate_did_not: float | None
    lift: float | None  # rate_did / rate_did_not
    difference: float | None  # rate_did - rate_did_not
    ci_low: float | None  # 95% interval of the difference
    ci_high: float | None
    p_value: float | None
    q_value: float | None = None  # Benjamini-Hochberg, over all moments tested


@dataclass
class MomentsResult(AnalyticResult):
    outcome: str = ""
    population: int = 0
    outcomes: int = 0
    base_rate: float | None = None
    positive: list[Moment] = field(default_factory=list)
    negative: list[Moment] = field(default_factory=list)
    prerequisites: list[str] = field(default_factory=list)
    tested: int = 0
    min_support: int = 30
    note: str = CORRELATION_NOTE

    kind = "moments"

    def figure(self):
        import plotly.graph_objects as go

        rows = self.positive[:10] + self.negative[:10]
        fig = go.Figure(go.Bar(
            x=[m.difference for m in rows], y=[m.moment for m in rows], orientation="h",
            error_x={"type": "data", "symmetric": False,
                     "array": [(m.ci_high or 0) - (m.difference or 0) for m in rows],
                     "arrayminus": [(m.difference or 0) - (m.ci_low or 0) for m in rows]},
            marker_color=["#2a9d8f" if (m.difference or 0) > 0 else "#e76f51" for m in rows]))
        fig.update_layout(title=f"Difference in {self.outcome} rate (did - did not), 95% CI",
                          yaxis={"autorange": "reversed"}, xaxis={"tickformat": ".0%"})
        return fig


def _compare(name: str, kind: str, did: int, did_out: int, population: int, outcomes: int
             ) -> Moment:
    not_did = population - did
    not_out = outcomes - did_out
    r1 = did_out / did
    r0 = not_out / not_did if not_did else None
    if r0 is None:
        return Moment(name, kind, did, r1, not_did, None, None, None, None, None, None)
    diff = r1 - r0
    se = math.sqrt(r1 * (1 - r1) / did + r0 * (1 - r0) / not_did)
    pooled = outcomes / population
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / did + 1 / not_did))
    p = 2 * stats.norm.sf(abs(diff) / se0) if se0 > 0 else 1.0
    lift = r1 / r0 if r0 > 0 else None
    return Moment(name, kind, did, r1, not_did, r0, lift, diff, diff - 1.96 * se,
                  diff + 1.96 * se, p)


def _benjamini_hochberg(moments: list[Moment]) -> None:
    tested = sorted(((m.p_value, m) for m in moments if m.p_value is not None),
                    key=lambda t: t[0])
    n = len(tested)
    running = 1.0
    for rank in range(n, 0, -1):
        p_value, m = tested[rank - 1]
        running = min(running, p_value * n / rank)
        m.q_value = running


def moments(con: Connection, outcome: str, *, among: str | None = None,
            anchor: str | None = None, within_seconds: int | None = None,
            min_support: int = 30, pairs: bool = True, top: int = 10,
            filters: Filters = Filters(), catalog: Catalog | None = None) -> MomentsResult:
    catalog = catalog or load_catalog(con)
    catalog.check_event(outcome)
    for name in (among, anchor):
        if name:
            catalog.check_event(name)
    check_filters(filters, catalog)
    if min_support < 1:
        raise ArgumentError("min_support", "must be at least 1")
    scope = scope_sql(filters)
    params = list(scope.params)
    population_sql = "SELECT DISTINCT person_id FROM ev"
    if among:
        population_sql = "SELECT DISTINCT person_id FROM ev WHERE event_name = ?"
        params.append(among)
    params.append(outcome)
    anchor_event = anchor or among
    if within_seconds:
        if anchor_event:
            anchor_sql = ("SELECT person_id, min(ts) AS t_anchor FROM ev WHERE event_name = ? "
                          "GROUP BY person_id")
            params.append(anchor_event)
        else:
            anchor_sql = "SELECT person_id, min(ts) AS t_anchor FROM ev GROUP BY person_id"
        window = (f"AND e.ts <= a.t_anchor + INTERVAL {int(within_seconds)} SECOND "
                  "AND e.ts >= a.t_anchor")
        anchor_join = "JOIN anchors AS a ON a.person_id = e.person_id"
    else:
        anchor_sql = "SELECT NULL::VARCHAR AS person_id, NULL::TIMESTAMPTZ AS t_anchor"
        window, anchor_join = "", ""
    params.append(outcome)
    base = f"""
{scope.ctes},
population AS ({population_sql}),
outcome AS (SELECT person_id, min(ts) AS t_out FROM ev WHERE event_name = ? GROUP BY person_id),
anchors AS ({anchor_sql}),
firsts AS (
    SELECT e.person_id AS person_id, e.event_name AS event_name, min(e.ts) AS t
    FROM ev AS e
    JOIN population AS p ON p.person_id = e.person_id
    LEFT JOIN outcome AS o ON o.person_id = e.person_id
    {anchor_join}
    WHERE (o.t_out IS NULL OR e.ts < o.t_out) AND e.event_name <> ? {window}
    GROUP BY e.person_id, e.event_name
)"""
    population, outcomes = one(con, base + """
        SELECT count(*), count(o.person_id) FROM population AS p
        LEFT JOIN outcome AS o ON o.person_id = p.person_id""", params)
    if population == 0:
        raise JourneyError("No one is in scope for this question; widen the filters")
    singles = con.execute(base + """
        SELECT f.event_name, count(*) AS did, count(o.person_id) AS did_out
        FROM firsts AS f LEFT JOIN outcome AS o ON o.person_id = f.person_id
        GROUP BY f.event_name ORDER BY f.event_name""", params).fetchall()
    prerequisites = sorted(name for name, _, did_out in singles
                           if outcomes and did_out / outcomes >= PREREQUISITE_SHARE)
    candidates = [(n, d, o) for n, d, o in singles
                  if n not in prerequisites and d >= min_support
                  and population - d >= min_support]
    found = [_compare(n, "event", d, o, population, outcomes) for n, d, o in candidates]
    if pairs and len(candidates) > 1:
        names = [c[0] for c in candidates]
        pair_rows = con.execute(base + f"""
            SELECT a.event_name || ' -> ' || b.event_name AS moment, count(*) AS did,
                   count(o.person_id) AS did_out
            FROM firsts AS a
            JOIN firsts AS b ON b.person_id = a.person_id AND a.t < b.t
            LEFT JOIN outcome AS o ON o.person_id = a.person_id
            WHERE a.event_name IN ({', '.join('?' for _ in names)})
              AND b.event_name IN ({', '.join('?' for _ in names)})
            GROUP BY a.event_name, b.event_name
            HAVING count(*) >= ? AND ? - count(*) >= ?
            ORDER BY moment""", params + names + names + [min_support, population,
                                                          min_support]).fetchall()
        found += [_compare(n, "pair", d, o, population, outcomes) for n, d, o in pair_rows]
    _benjamini_hochberg(found)
    significant = [m for m in found if m.q_value is not None and m.q_value < 0.05]
    positive = sorted((m for m in significant if m.difference and m.difference > 0),
                      key=lambda m: (-(m.lift or math.inf), -m.did))[:top]
    negative = sorted((m for m in significant if m.difference and m.difference < 0),
                      key=lambda m: ((m.lift if m.lift is not None else 0), -m.did))[:top]
    result = MomentsResult(
        outcome=outcome, population=population, outcomes=outcomes,
        base_rate=outcomes / population, positive=positive, negative=negative,
        prerequisites=prerequisites, tested=len(found), min_support=min_support,
        filters=filters.describe(), definitions={
            "population": f"people in scope{' who did ' + among if among else ''}",
            "did": f"people who did the event (pair: A's first time before B's) before their "
                   f"first {outcome}" + (f", within {within_seconds // 86400} days of their first "
                                         f"{anchor_event or 'event'}" if within_seconds else ""),
            "outcome_rate_did": f"share of them who then did {outcome}",
            "lift": "outcome_rate_did / outcome_rate_did_not",
            "ci": "95% interval of the difference in rates (normal approximation)",
            "p_value": "two-proportion z-test; q_value: Benjamini-Hochberg over all tested",
            "ranking": "q < 0.05 only; positive by lift, negative from the lowest lift",
            "prerequisites": f">= {PREREQUISITE_SHARE:.0%} of people with the outcome did these "
                             "first: steps on the way, left out of the ranking",
            "min_support": f"at least {min_support} people did it and {min_support} did not",
        })
    parts = [f"{outcomes:,} of {population:,} people ({pct(result.base_rate)}) did {outcome}."]
    if positive:
        m = positive[0]
        parts.append(f"Strongest positive moment: {m.moment} ({pct(m.outcome_rate_did)} vs "
                     f"{pct(m.outcome_rate_did_not)} without"
                     + (f", {m.lift:.1f}x" if m.lift else "") + ").")
    if negative:
        m = negative[0]
        parts.append(f"Strongest negative signal: {m.moment} ({pct(m.outcome_rate_did)} vs "
                     f"{pct(m.outcome_rate_did_not)} without).")
    parts.append("Correlation, not cause.")
    result.summary = " ".join(parts)
    return result
