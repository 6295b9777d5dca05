"""Next best action: for each customer, the untaken action that most raised the goal among
customers like them (same segment, same furthest stage).

The goal is an event to reach (default: the conversion event) or, with `avoid`, an event to
stay away from (for at-risk customers: the churn event). For each group of similar customers
and each action, the goal rate of those who did the action (before the goal) is compared with
those who did not, exactly as in `moments`; an action qualifies when both arms have at least
`min_support` customers and the difference is significant (p < 0.05). Groups too small to say
anything fall back to the segment, then to everyone. This is observational: the lift is what was
seen, not what the action will cause. Opted-out customers never appear.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from analytics.anomalies import NOT_PROGRESS
from analytics.catalog import Catalog, load_catalog
from analytics.errors import ArgumentError, UnknownNameError
from analytics.filters import Filters, check_filters
from analytics.moments import PREREQUISITE_SHARE, _compare
from analytics.paths import default_conversion_event
from analytics.results import AnalyticResult
from analytics.segments import Progress, segments
from analytics.store.connection import Connection

WARNING = ("Observational: these lifts were seen among similar customers, not caused by the "
           "action. Send each action with a holdout group to measure its real effect.")


@dataclass
class Recommendation:
    customer_id: str
    segment: str
    stage: str
    action: str
    goal_rate_if_done: float
    goal_rate_if_not: float
    expected_change: float  # in goal rate (negative is better when avoiding)
    evidence_customers: int  # customers in the comparison group
    basis: str  # "segment+stage", "segment" or "everyone"


@dataclass
class NextBestActionResult(AnalyticResult):
    goal: str = ""
    direction: str = "reach"
    customers_considered: int = 0
    recommendations: list[Recommendation] = field(default_factory=list)
    without_recommendation: int = 0
    excluded_opted_out: int = 0
    warning: str = WARNING

    kind = "next_best_action"

    def write_csv(self, path: str | Path) -> Path:
        path = Path(path)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(Recommendation.__dataclass_fields__))
            writer.writeheader()
            for r in self.recommendations:
                writer.writerow(asdict(r))
        return path

    def figure(self):
        import plotly.graph_objects as go

        counts = pd.Series([r.action for r in self.recommendations]).value_counts()
        fig = go.Figure(go.Bar(x=counts.values.tolist(), y=counts.index.tolist(),
                               orientation="h"))
        fig.update_layout(title=f"Recommended actions ({self.direction} {self.goal})",
                          yaxis={"autorange": "reversed"})
        return fig


def _no_progress(description: str, done: int, total: int) -> None:
    pass


def _candidate_table(con, groups: pd.DataFrame, goal: str) -> pd.DataFrame:
    """Per person: which events they did before their first goal event (or ever)."""
    con.register("nba_groups", groups.reset_index())
    try:
        return con.execute("""
WITH outcome AS (SELECT person_id, min(ts) AS t FROM journey_events WHERE event_name = ?
                 GROUP BY person_id)
SELECT e.person_id AS person_id, e.event_name AS action
FROM journey_events AS e
JOIN nba_groups AS g ON g.person_id = e.person_id
LEFT JOIN outcome AS o ON o.person_id = e.person_id
WHERE e.event_name <> ? AND (o.t IS NULL OR e.ts < o.t)
GROUP BY e.person_id, e.event_name
""", [goal, goal]).df()
    finally:
        con.unregister("nba_groups")


def next_best_actions(con: Connection, *, goal: str | None = None,
                      avoid: str | None = None, customer_id: str | None = None,
                      segment: str | None = None, at_risk: bool = False,
                      risk_scores: dict[str, float] | None = None, min_support: int = 30,
                      seed: int = 0, filters: Filters = Filters(),
                      catalog: Catalog | None = None,
                      progress: Progress | None = None) -> NextBestActionResult:
    report = progress or _no_progress
    catalog = catalog or load_catalog(con)
    check_filters(filters, catalog)
    if goal and avoid:
        raise ArgumentError("goal", "give either a goal or an event to avoid, not both")
    if at_risk and not (goal or avoid):
        from analytics.journey_model import journey_model

        avoid = journey_model(con).churn_event
    target = avoid or goal or default_conversion_event(con)
    if not target:
        raise ArgumentError("goal", "name the goal event (e.g. subscription_started)")
    catalog.check_event(target)
    direction = "avoid" if avoid else "reach"
    # Staying away from churn only concerns customers who could churn: those who bought.
    among = default_conversion_event(con) if direction == "avoid" else None
    seg = segments(con, customers_only=True, seed=seed, filters=filters, catalog=catalog,
                   progress=report)
    report("Reading what each customer did", 0, 0)
    names = {s.segment: f"{s.segment}: {s.name}" for s in seg.segments}
    stage_names = {i: s for i, s in enumerate(catalog.stages, start=1)}
    features = con.execute("""
        SELECT person_id, max(stage_position) AS furthest FROM journey_events
        WHERE customer_id IS NOT NULL GROUP BY person_id""").df().set_index("person_id")
    groups = pd.DataFrame({"segment": pd.Series(seg.assignments)})
    groups = groups.join(features, how="left")
    groups["stage"] = groups["furthest"].map(stage_names).fillna("unmapped")
    groups.index.name = "person_id"
    outcome_people = {r[0] for r in con.execute(
        "SELECT DISTINCT person_id FROM journey_events WHERE event_name = ?", [target]
    ).fetchall()}
    groups["outcome"] = groups.index.isin(outcome_people)
    opted = {r[0] for r in con.execute(
        "SELECT customer_id FROM customers WHERE opted_out").fetchall()}
    if among:
        buyers = {r[0] for r in con.execute(
            "SELECT DISTINCT person_id FROM journey_events WHERE event_name = ?", [among]
        ).fetchall()}
        groups = groups[groups.index.isin(buyers)]
    did = _candidate_table(con, groups[["segment", "stage"]], target)
    did_sets = did.groupby("action")["person_id"].apply(set).to_dict()
    reached = set(groups.index[groups["outcome"]])
    # Not actions: steps nearly everyone takes on the way to the goal, errors and expiries,
    # and what the population was chosen by.
    actions = sorted(
        a for a, people in did_sets.items()
        if not any(word in a.lower() for word in NOT_PROGRESS) and a != among
        and not (direction == "reach" and reached
                 and len(people & reached) / len(reached) >= PREREQUISITE_SHARE))

    def best_action(members: pd.Index) -> dict[str, tuple]:
        """action -> (rate did, rate not, difference, n) for qualifying actions in a group."""
        population = len(members)
        outcomes = int(groups.loc[members, "outcome"].sum())
        member_set = set(members)
        out: dict[str, tuple] = {}
        if population < 2 * min_support:
            return out
        for action in actions:
            doers = did_sets[action] & member_set
            d = len(doers)
            if d < min_support or population - d < min_support:
                continue
            d_out = int(groups.loc[list(doers), "outcome"].sum())
            m = _compare(action, "event", d, d_out, population, outcomes)
            if m.p_value is None or m.p_value >= 0.05:
                continue
            assert m.difference is not None  # _compare gives a p-value only with a difference
            good = m.difference < 0 if direction == "avoid" else m.difference > 0
            if good:
                out[action] = (m.outcome_rate_did, m.outcome_rate_did_not, m.difference, population)
        return out

    # Who gets a recommendation: customers who have not yet reached (or already suffered) the
    # goal, narrowed by the request.
    chosen = groups[~groups["outcome"]]
    if customer_id is not None:
        if customer_id not in groups.index:
            raise UnknownNameError("customer", customer_id, [])
        chosen = groups.loc[[customer_id]]
    if segment is not None:
        match = [k for k, v in names.items() if segment == str(k) or segment.lower() in v.lower()]
        if not match:
            raise UnknownNameError("segment", segment, list(names.values()))
        chosen = chosen[chosen["segment"].isin(match)]
    if at_risk:
        scores = risk_scores or {}
        if scores:
            cutoff = sorted(scores.values(), reverse=True)[max(0, len(scores) // 10 - 1)]
            chosen = chosen[chosen.index.map(lambda p: scores.get(p, 0.0) >= cutoff)]
    excluded = int(chosen.index.isin(opted).sum())
    chosen = chosen[~chosen.index.isin(opted)]

    def members(segment: object, stage: object) -> pd.Index:
        # Only on a group's first customer (the result is cached): comparing every person
        # with every other for each customer was what made 55,000 customers take minutes.
        mask = pd.Series(True, index=groups.index)
        if segment is not None:
            mask &= groups["segment"] == segment
        if stage is not None:
            mask &= groups["stage"] == stage
        return groups.index[mask]

    cache: dict[tuple, dict] = {}
    recommendations: list[Recommendation] = []
    missing = 0
    total = len(chosen)
    every = max(1, total // 200)  # a few hundred updates at most, whatever the size
    for done, row in enumerate(chosen.itertuples()):
        person = row.Index
        if done % every == 0:
            report("Scoring customers", done, total)
        options = []
        for basis, key in (  # noqa: B007  (the last basis tried is reported)
            ("segment+stage", (row.segment, row.stage)),
            ("segment", (row.segment, None)),
            ("everyone", (None, None)),
        ):
            if key not in cache:
                cache[key] = best_action(members(*key))
            taken = {a for a in cache[key] if person in did_sets.get(a, set())}
            options = [(a, v) for a, v in cache[key].items() if a not in taken]
            if options:
                break
        if not options:
            missing += 1
            continue
        pick = max if direction == "reach" else min
        action, (r1, r0, diff, n) = pick(options, key=lambda kv: (kv[1][2], kv[0]))
        recommendations.append(Recommendation(
            str(person), names[row.segment], row.stage, action, r1, r0, diff, n, basis))
    report("Scoring customers", total, total)
    recommendations.sort(key=lambda r: (-abs(r.expected_change), r.customer_id))
    result = NextBestActionResult(
        goal=target, direction=direction, customers_considered=len(chosen),
        recommendations=recommendations, without_recommendation=missing,
        excluded_opted_out=excluded, filters=filters.describe(), definitions={
            "similar customers": "same behavioural segment and furthest stage (falls back to the "
                                 "segment, then everyone, when too few)",
            "goal_rate_if_done": f"share of similar customers who did the action and then "
                                 f"{'did' if direction == 'reach' else 'still did'} {target}",
            "expected_change": "goal_rate_if_done - goal_rate_if_not (observational)",
            "qualifies": f">= {min_support} customers did and did not do it; p < 0.05",
            "excluded": "opted-out customers are never listed",
            "actions": "events other than the goal; steps >= 95% of goal-reachers took first, "
                       "errors, failures, expiries and cancellations are not actions",
        })
    if recommendations:
        common = pd.Series([r.action for r in recommendations]).value_counts()
        result.summary = (f"{len(recommendations):,} of {len(chosen):,} customers have a next "
                          f"best action to {direction} {target}; the most common is "
                          f"{common.index[0]} ({common.iloc[0]:,} customers). "
                          f"{excluded:,} opted-out customers left out. Observational, not causal.")
    else:
        result.summary = (f"No action shows a clear link with {direction}ing {target} for these "
                          f"customers ({len(chosen):,} considered).")
    return result
