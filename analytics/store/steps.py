"""Tables derived from the events, maintained at ingest for the people a load touches:

* journey_steps: every event with the one before and after it in its person's journey and its
  place in it (with and without repeats), so the transition matrix and the top paths need no
  sort of all events;
* person_profiles: each person's first-touch device and channel, so a breakdown or a filter by
  them needs no pass over the events.

A load touches the people with new events and, when it links anonymous ids to a customer, both
the customer and the anonymous journeys that merge into theirs. `meta.journey_steps` equal to
`COMPLETE` says the tables cover the whole store; a store from before them is rebuilt when it
is next opened (schema 5) or loaded, and until then the analytics compute the slow way.
"""

from __future__ import annotations

import duckdb

COMPLETE_KEY = "journey_steps"
# The value changes with the tables' shape, so a store with older tables is rebuilt whole.
COMPLETE = "complete:5"

# The derived tables' SELECTs, also compiled as views on an engine whose events live there.
STEPS_SELECT = """
SELECT person_id, prev_event, event_name, next_event,
       row_number() OVER (PARTITION BY person_id, prev_event, event_name ORDER BY rn) = 1
           AS first_of_move,
       rn AS position,
       sum(CASE WHEN prev_event IS NULL OR prev_event <> event_name THEN 1 ELSE 0 END)
           OVER (PARTITION BY person_id ORDER BY rn
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS collapsed_position
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
_STEPS = """
INSERT INTO journey_steps (person_id, prev_event, event_name, next_event, first_of_move,
                           position, collapsed_position)
""" + STEPS_SELECT

# The first touch, as analytics.filters.PROFILE_SQL computes it on the fly (ties by event id).
PROFILES_SELECT = """
SELECT person_id,
       NULLIF(arg_min(COALESCE(device, ''), {{'ts': ts, 'id': event_id}})
                  FILTER (WHERE NOT starts_with(event_id, 'deal:')), '') AS device,
       NULLIF(arg_min(COALESCE(channel, ''), {{'ts': ts, 'id': event_id}})
                  FILTER (WHERE NOT starts_with(event_id, 'deal:')), '') AS channel,
       max(customer_id) AS customer_id
FROM person_events
{where}
GROUP BY person_id
"""
_PROFILES = """
INSERT INTO person_profiles (person_id, device, channel, customer_id)
""" + PROFILES_SELECT


def steps_complete(con) -> bool:
    row = con.execute("SELECT max(value) FROM meta WHERE key = ?", [COMPLETE_KEY]).fetchone()
    return bool(row and row[0] == COMPLETE)


def rebuild_all(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DELETE FROM journey_steps")
    con.execute("DELETE FROM person_profiles")
    con.execute(_STEPS.format(where=""))
    con.execute(_PROFILES.format(where=""))
    con.execute("DELETE FROM meta WHERE key = ?", [COMPLETE_KEY])
    con.execute("INSERT INTO meta VALUES (?, ?)", [COMPLETE_KEY, COMPLETE])


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
    touched = "WHERE person_id IN (SELECT person_id FROM _touched)"
    con.execute(f"DELETE FROM journey_steps {touched}")
    con.execute(f"DELETE FROM person_profiles {touched}")
    con.execute(_STEPS.format(where=touched))
    con.execute(_PROFILES.format(where=touched))


def forget_people(con: duckdb.DuckDBPyConnection, person_ids: list[str]) -> None:
    for table in ("journey_steps", "person_profiles"):
        con.execute(f"DELETE FROM {table} WHERE person_id IN (SELECT unnest(?::VARCHAR[]))",
                    [person_ids])
