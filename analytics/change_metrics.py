"""The metrics "what changed" watches, as SQL: step rates per period (of those whose first A
fell in it, the share who did B within the window) and event rates per active person, and
which events and which grain to watch."""

from __future__ import annotations

from datetime import datetime

from analytics.event_filters import step_sql
from analytics.journey_names import is_setback
from analytics.store.connection import Connection

TROUBLE_WORDS = ("error", "fail", "crash", "support", "ticket", "complain", "contact", "bug",
                 "timeout", "refund", "return", "declin", "denied")
MAX_EVENTS = 20  # event rates watched, trouble events first
DENSE_PER_DAY = 150  # people a day at the first step: enough to watch days, not weeks


def watched_events(con: Connection, scope, limit: int = MAX_EVENTS) -> list[str]:
    """Frequent events (done by at least 1% of people), and every trouble-like event done by
    at least 5 people: errors and support contacts are what rise with an incident."""
    rows = con.execute(f"""
{scope.ctes}
SELECT event_name, count(DISTINCT person_id) AS people FROM ev
GROUP BY event_name ORDER BY people DESC, event_name
""", scope.params).fetchall()
    counted = con.execute(f"{scope.ctes} SELECT count(DISTINCT person_id) FROM ev",
                          scope.params).fetchone()
    total = (counted[0] if counted else 0) or 1
    trouble = [e for e, n in rows if n >= 5 and (is_setback(e) or any(
        w in e.lower() for w in TROUBLE_WORDS))]
    frequent = [e for e, n in rows if n / total >= 0.01 and e not in trouble]
    return (trouble + frequent)[:limit]


def choose_grain(con: Connection, scope, first_step: list, grain: str) -> str:
    if grain != "auto":
        return grain
    match, params = step_sql(first_step)
    row = con.execute(f"""
{scope.ctes},
firsts AS (SELECT person_id, min(ts) AS t FROM ev WHERE {match} GROUP BY person_id),
daily AS (SELECT date_trunc('day', t) AS d, count(*) AS people FROM firsts GROUP BY d)
SELECT median(people) AS typical, count(*) AS days FROM daily
""", scope.params + params).fetchone()
    return "day" if row and row[0] and row[0] >= DENSE_PER_DAY and row[1] >= 42 else "week"


def step_rate_ctes(scope, a: list, b: list, window_days: int) -> tuple[str, list]:
    """CTEs `firsts` (person, t: their first A) and `reached` (person, did: B within the
    window after it), for the step rate and its decomposition alike."""
    match_a, params_a = step_sql(a)
    match_b, params_b = step_sql(b, "e")
    return f"""
{scope.ctes},
first_rows AS (
    SELECT person_id, ts AS t, device, channel, properties,
           row_number() OVER (PARTITION BY person_id ORDER BY ts, event_id) AS rn
    FROM ev WHERE {match_a}),
firsts AS (SELECT person_id, t, device, channel, properties FROM first_rows WHERE rn = 1),
reached AS (
    SELECT f.person_id, max(CASE WHEN e.person_id IS NULL THEN 0 ELSE 1 END) AS did
    FROM firsts AS f LEFT JOIN ev AS e
      ON e.person_id = f.person_id AND {match_b} AND e.ts >= f.t
     AND e.ts <= f.t + INTERVAL {int(window_days)} DAY
    GROUP BY f.person_id
)""", scope.params + params_a + params_b


def step_rows(con: Connection, scope, a: list, b: list, window_days: int, grain: str):
    ctes, params = step_rate_ctes(scope, a, b, window_days)
    return con.execute(f"""{ctes}
SELECT date_trunc('{grain}', f.t) AS period, count(*) AS people, sum(r.did) AS converted
FROM firsts AS f JOIN reached AS r ON r.person_id = f.person_id
GROUP BY period ORDER BY period
""", params).fetchall()


def event_rows(con: Connection, scope, events: list[str], grain: str) -> dict[str, list]:
    if not events:
        return {}
    marks = ", ".join("?" for _ in events)
    active = dict(con.execute(f"""
{scope.ctes}
SELECT date_trunc('{grain}', ts) AS period, count(DISTINCT person_id) AS people FROM ev
GROUP BY period ORDER BY period
""", scope.params).fetchall())
    rows = con.execute(f"""
{scope.ctes}
SELECT event_name, date_trunc('{grain}', ts) AS period, count(DISTINCT person_id) AS people
FROM ev WHERE event_name IN ({marks}) GROUP BY event_name, period
""", scope.params + events).fetchall()
    did: dict[tuple[str, datetime], int] = {(e, p): n for e, p, n in rows}
    return {e: [(p, n, did.get((e, p), 0)) for p, n in sorted(active.items())] for e in events}
