"""Friction from behaviour: what the people who left at a step did instead of the next step.

People who did the step (their first time) and never did the next step after it have left;
those who did have gone on. For each event, the share of the leavers who did it within
`horizon_days` after the step is set against the share of those who went on who did it between
the step and the next one: errors, support contacts, going back to an earlier step, or nothing
at all (an exit). Leaving is then split by the step's device and channel and the customer's
country to find where it is concentrated (not by plan: a customer's current plan already says
whether they went on). No feedback is needed; where feedback exists, friction.py adds what
people said.
Correlation, as ever: an error the leavers hit is a lead to check, not a proven cause.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from analytics.change_metrics import TROUBLE_WORDS
from analytics.journey_names import is_setback
from analytics.results import pct
from analytics.store.connection import Connection

SUPPORT_WORDS = ("support", "ticket", "contact", "help", "chat", "complain")
MIN_PEOPLE = 5


@dataclass
class InsteadEvent:
    event: str
    kind: str  # setback | support | back to an earlier step | repeat of the step | other
    dropped_share: float
    passed_share: float
    dropped_people: int
    lift: float | None


@dataclass
class SegmentDrop:
    dimension: str
    value: str
    people: int
    left_rate: float  # of the people with this value who did the step, the share who left
    others_rate: float | None  # the same for everyone else


@dataclass
class BehaviourFriction:
    step: str
    next_step: str
    dropped: int = 0
    passed: int = 0
    exits: float | None = None  # of leavers, the share who did nothing else within the horizon
    instead: list[InsteadEvent] = field(default_factory=list)
    segments: list[SegmentDrop] = field(default_factory=list)
    horizon_days: int = 14

    def sentence(self) -> str:
        if not self.dropped:
            return f"Everyone who did {self.step} went on to {self.next_step}."
        parts = [f"Of the {self.dropped:,} people who did {self.step} and never "
                 f"{self.next_step}"]
        notable = [i for i in self.instead if i.dropped_share > i.passed_share][:3]
        if notable:
            parts.append(", " + ", ".join(
                f"{pct(i.dropped_share)} {did(i)} (against {pct(i.passed_share)} of "
                "those who went on)" for i in notable))
        if self.exits is not None:
            parts.append(f"{'; ' if notable else ', '}{pct(self.exits)} did nothing else "
                         f"within {self.horizon_days} days")
        text = "".join(parts) + "."
        if self.segments:
            s = self.segments[0]
            text += (f" Leaving is most concentrated in {s.dimension} = {s.value}: "
                     f"{pct(s.left_rate)} left there against {pct(s.others_rate)} "
                     "elsewhere.")
        return text


def did(instead: InsteadEvent) -> str:
    """What the people did, as a sentence says it."""
    if instead.kind == "repeat of the step":
        return f"did {instead.event} again"
    if instead.kind == "back to an earlier step":
        return f"went back to {instead.event}"
    return f"then did {instead.event}"


def _kind(event: str, step: str, earlier: list[str]) -> str:
    lowered = event.lower()
    if any(w in lowered for w in SUPPORT_WORDS):
        return "support"
    if is_setback(event) or any(w in lowered for w in TROUBLE_WORDS):
        return "setback"
    if event == step:
        return "repeat of the step"
    if event in earlier:
        return "back to an earlier step"
    return "other"


def behaviour_friction(con: Connection, scope: Any, step: str, next_step: str,
                       journey: list[str], horizon_days: int = 14) -> BehaviourFriction:
    """`scope`: the analytic's scope_sql (filters); `journey`: the main journey, for loops."""
    base = f"""
{scope.ctes},
at_rows AS (
    SELECT person_id, ts, device, channel,
           row_number() OVER (PARTITION BY person_id ORDER BY ts, event_id) AS rn
    FROM ev WHERE event_name = ?),
at_step AS (SELECT person_id, ts AS t, device, channel FROM at_rows WHERE rn = 1),
first_next AS (
    SELECT a.person_id, min(e.ts) AS tb FROM at_step AS a
    JOIN ev AS e ON e.person_id = a.person_id AND e.event_name = ? AND e.ts >= a.t
    GROUP BY a.person_id),
grouped AS (
    SELECT a.person_id AS person_id, a.t AS t, f.tb AS tb, f.tb IS NOT NULL AS passed,
           a.device AS device, a.channel AS channel
    FROM at_step AS a LEFT JOIN first_next AS f ON f.person_id = a.person_id),
after AS (
    SELECT DISTINCT g.person_id AS person_id, g.passed AS passed, e.event_name AS event_name
    FROM grouped AS g JOIN ev AS e ON e.person_id = g.person_id AND e.ts > g.t
     AND e.ts <= g.t + INTERVAL {int(horizon_days)} DAY
     AND (NOT g.passed OR e.ts < g.tb) AND e.event_name <> ?)"""
    params = scope.params + [step, next_step, next_step]
    result = BehaviourFriction(step, next_step, horizon_days=horizon_days)
    sizes = con.execute(f"""{base}
SELECT g.passed, count(*) AS people,
       sum(CASE WHEN g.person_id NOT IN (SELECT person_id FROM after) THEN 1 ELSE 0 END) AS idle
FROM grouped AS g GROUP BY g.passed""", params).fetchall()
    counts = {bool(p): (int(n), int(idle)) for p, n, idle in sizes}
    dropped, dropped_idle = counts.get(False, (0, 0))
    passed = counts.get(True, (0, 0))[0]
    result.dropped, result.passed = dropped, passed
    result.exits = dropped_idle / dropped if dropped else None
    if not dropped:
        return result
    rows = con.execute(f"""{base}
SELECT event_name, sum(CASE WHEN passed THEN 0 ELSE 1 END) AS dropped_people,
       sum(CASE WHEN passed THEN 1 ELSE 0 END) AS passed_people
FROM after GROUP BY event_name""", params).fetchall()
    earlier = journey[:journey.index(step)] if step in journey else []
    for event, d, p in rows:
        if d < MIN_PEOPLE:
            continue
        d_share, p_share = d / dropped, (p / passed if passed else 0.0)
        result.instead.append(InsteadEvent(event, _kind(event, step, earlier), d_share,
                                           p_share, int(d), d_share / p_share if p_share
                                           else None))
    # What sets the leavers apart first: the largest excess over those who went on.
    result.instead.sort(key=lambda i: (-(i.dropped_share - i.passed_share), i.event))
    result.segments = _segments(con, base, params, dropped, passed)
    return result


def _segments(con: Connection, base: str, params: list, dropped: int,
              passed: int) -> list[SegmentDrop]:
    rows = con.execute(f"""{base},
split AS (
    SELECT 'device' AS dimension, g.device AS value, g.passed AS passed FROM grouped AS g
    UNION ALL SELECT 'channel', g.channel, g.passed FROM grouped AS g
    UNION ALL SELECT 'country', c.country, g.passed FROM grouped AS g
        JOIN customers AS c ON c.customer_id = g.person_id)
SELECT dimension, value, count(*) AS people,
       sum(CASE WHEN passed THEN 0 ELSE 1 END) AS left_people
FROM split WHERE value IS NOT NULL GROUP BY dimension, value""", params).fetchall()
    totals: dict[str, tuple[int, int]] = {}
    for dim, _, n, left in rows:
        people, gone = totals.get(dim, (0, 0))
        totals[dim] = (people + n, gone + left)
    out = []
    for dim, value, n, left in rows:
        people, gone = totals[dim]
        if n < 2 * MIN_PEOPLE or people - n < 2 * MIN_PEOPLE:
            continue
        out.append(SegmentDrop(dim, str(value), int(n), left / n,
                               (gone - left) / (people - n)))
    # Where leaving is most out of line, weighted by how many people it touches.
    out.sort(key=lambda s: -((s.left_rate - (s.others_rate or 0)) * s.people ** 0.5))
    # Out of line means clearly: a quarter more leaving, and five points at least.
    return [s for s in out if s.left_rate >= 1.25 * (s.others_rate or 0)
            and s.left_rate - (s.others_rate or 0) >= 0.05][:5]
