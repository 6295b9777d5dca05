"""The journey_steps table: every event with the one before and after it in its person's
journey, maintained at ingest for the people a load touches.

The first-order transition matrix then needs no sort of all events. A load touches the people
with new events and, when it links anonymous ids to a customer, both the customer and the
anonymous journeys that merge into theirs. `meta.journey_steps = 'complete'` says the table
covers the whole store; stores from before it get rebuilt at their next load, and until then
the analytics compute moves the slow way.
"""

from __future__ import annotations

import duckdb

COMPLETE_KEY = "journey_steps"

_STEPS = """
INSERT INTO journey_steps
SELECT person_id, prev_event, event_name, next_event,
       row_number() OVER (PARTITION BY person_id, prev_event, event_name ORDER BY rn) = 1
FROM (
    SELECT person_id, event_name,
           lag(event_name) OVER w AS prev_event,
           lead(event_name) OVER w AS next_event,
           row_number() OVER w AS rn
    FROM person_events
    {where}
    WINDOW w AS (PARTITION BY person_id ORDER BY ts, event_id)
)
"""


def steps_complete(con) -> bool:
    row = con.execute("SELECT max(value) FROM meta WHERE key = ?", [COMPLETE_KEY]).fetchone()
    return bool(row and row[0] == "complete")


def rebuild_all(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DELETE FROM journey_steps")
    con.execute(_STEPS.format(where=""))
    con.execute("DELETE FROM meta WHERE key = ?", [COMPLETE_KEY])
    con.execute("INSERT INTO meta VALUES (?, 'complete')", [COMPLETE_KEY])


def refresh_people(con: duckdb.DuckDBPyConnection, load_ids: list[int],
                   everything: bool = False) -> None:
    """Recompute the journeys touched by these loads (inside the caller's transaction);
    `everything` after --replace, which can move an event from one person to another."""
    if everything or not steps_complete(con):
        rebuild_all(con)
        return
    marks = ", ".join("?" for _ in load_ids)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _touched AS
        SELECT DISTINCT p.person_id AS person_id FROM person_events AS p
        JOIN events AS e ON e.event_id = p.event_id WHERE e.load_id IN ({marks})
        UNION
        SELECT customer_id FROM _new_identities
        UNION
        SELECT 'anon:' || anonymous_id FROM _new_identities
    """, load_ids)
    con.execute("DELETE FROM journey_steps WHERE person_id IN (SELECT person_id FROM _touched)")
    con.execute(_STEPS.format(where="WHERE person_id IN (SELECT person_id FROM _touched)"))


def forget_people(con: duckdb.DuckDBPyConnection, person_ids: list[str]) -> None:
    con.execute("DELETE FROM journey_steps WHERE person_id IN (SELECT unnest(?::VARCHAR[]))",
                [person_ids])
