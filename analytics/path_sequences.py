"""Each journey as numbered steps, the SQL every path analytic starts from.

A CTE `numbered` (person_id, event_name, rn, next_event) holds a journey's steps, rn = 1, 2, ...
in time order (ties broken by event id), built one of three ways:

* sequence_sql: from the scoped events `ev` by a window pass (any filter);
* stored_sequence_sql: from journey_steps' positions, kept at ingest (whole journeys, no scope);
* anchored_sequence_sql: the steps after, or before, an anchor event in each journey, within a
  time limit; rn counts away from the anchor (1 is the anchor itself).

"A journey" is a person's, or one session's when the source's person_id is keyed by session.
Only window functions with tie-breakers, joins and aggregates: the portable SQL subset.
"""

from __future__ import annotations

from typing import Literal

Direction = Literal["after", "before"]


def sequence_sql(from_event: str | None, collapse_repeats: bool,
                 source: str = "ev") -> tuple[str, list]:
    """CTEs after `ev`: `numbered` (person_id, event_name, rn, next_event).

    The common case (whole journeys, repeats kept) is one window pass: one sort of the events
    by person and time gives both the step number and the next event.
    """
    window = "PARTITION BY person_id ORDER BY ts, event_id"
    if not from_event and not collapse_repeats:
        return (f"numbered AS (SELECT person_id, event_name, row_number() OVER w AS rn, "
                f"lead(event_name) OVER w AS next_event FROM {source} WINDOW w AS ({window}))"), []
    params: list = []
    ctes = [f"ordered AS (SELECT person_id, event_name, row_number() OVER ({window}) AS rn0, "
            f"lag(event_name) OVER ({window}) AS prev FROM {source})"]
    conditions = []
    if from_event:
        ctes.append("starts AS (SELECT person_id, min(rn0) AS rn_start FROM ordered "
                    "WHERE event_name = ? GROUP BY person_id)")
        params.append(from_event)
        conditions.append("o.rn0 >= s.rn_start")
    join = "JOIN starts AS s ON s.person_id = o.person_id" if from_event else ""
    if collapse_repeats:
        # A repeat is dropped unless it is the journey's new first step.
        start_cond = " OR o.rn0 = s.rn_start" if from_event else ""
        conditions.append(f"(o.prev IS NULL OR o.prev <> o.event_name{start_cond})")
    where = " AND ".join(conditions) if conditions else "TRUE"
    ctes.append(f"kept AS (SELECT o.person_id, o.event_name, o.rn0 FROM ordered AS o {join} "
                f"WHERE {where})")
    ctes.append("numbered AS (SELECT person_id, event_name, row_number() OVER w AS rn, "
                "lead(event_name) OVER w AS next_event FROM kept "
                "WINDOW w AS (PARTITION BY person_id ORDER BY rn0))")
    return ",\n".join(ctes), params


def stored_sequence_sql(from_event: str | None, collapse_repeats: bool,
                        limit: int | None) -> tuple[str, list]:
    """The same `numbered` CTE as sequence_sql, read from journey_steps' positions (kept at
    ingest) instead of sorting every event: for whole journeys, no scope. `limit` keeps only
    the first steps (a path shows `limit - 1` and needs one more to know it is longer)."""
    params: list = []
    fresh = "(prev_event IS NULL OR prev_event <> event_name)"
    place = "collapsed_position" if collapse_repeats else "position"
    if not from_event:
        where = [fresh] if collapse_repeats else []
        if limit:
            where.append(f"{place} <= {int(limit)}")
        cond = " AND ".join(where) or "TRUE"
        return (f"numbered AS (SELECT person_id, event_name, {place} AS rn, next_event "
                f"FROM journey_steps WHERE {cond})"), params
    # From the first `from_event`: places count from it (a repeat there starts the journey:
    # it shares its place with the event it repeats, so the places after it still follow).
    params.append(from_event)
    kept = ["j.position >= s.start_position"]
    if collapse_repeats:
        kept.append("(j.prev_event IS NULL OR j.prev_event <> j.event_name "
                    "OR j.position = s.start_position)")
    rn = f"j.{place} - s.start_{place} + 1"
    if limit:
        kept.append(f"{rn} <= {int(limit)}")
    ctes = ("starts AS (SELECT person_id, min(position) AS start_position, "
            "arg_min(collapsed_position, position) AS start_collapsed_position "
            "FROM journey_steps WHERE event_name = ? GROUP BY person_id),\n"
            f"numbered AS (SELECT j.person_id AS person_id, j.event_name AS event_name, "
            f"{rn} AS rn, j.next_event AS next_event FROM journey_steps AS j "
            f"JOIN starts AS s ON s.person_id = j.person_id WHERE {' AND '.join(kept)})")
    return ctes, params


def anchored_sequence_sql(anchor_select: str, direction: Direction, within_seconds: int | None,
                          collapse_repeats: bool, *, source: str = "ev",
                          with_properties: bool = False, candidates: str | None = None) -> str:
    """CTEs `ordered`, `anchors`, `marks`, `kept`, `numbered`: each journey's steps from its
    anchor on (`after`) or up to it (`before`), only those within `within_seconds` of the
    anchor's time when given; rn = 1 is the anchor, 2 the step next to it (later, or earlier).

    `anchor_select` selects (person_id, rn_anchor) from `ordered` (rn0: the event's place in
    the journey, ts, event_name and, with `with_properties`, properties). Repeats are collapsed
    inside the kept steps, so a cut never drops the first of a run it keeps. `candidates`
    selects the person_ids that can have an anchor: only their events are sorted."""
    props = ", properties" if with_properties else ""
    window = "PARTITION BY person_id ORDER BY ts, event_id"
    side = ">=" if direction == "after" else "<="
    conds = [f"o.rn0 {side} m.rn_anchor"]
    if within_seconds:
        conds.append(f"o.ts <= m.t_anchor + INTERVAL {int(within_seconds)} SECOND"
                     if direction == "after" else
                     f"o.ts >= m.t_anchor - INTERVAL {int(within_seconds)} SECOND")
    ctes = [
        f"ordered AS (SELECT person_id, event_name, ts{props}, "
        f"row_number() OVER ({window}) AS rn0 FROM {source}"
        + (f" WHERE person_id IN ({candidates})" if candidates else "") + ")",
        f"anchors AS ({anchor_select})",
        "marks AS (SELECT a.person_id AS person_id, a.rn_anchor AS rn_anchor, o.ts AS t_anchor "
        "FROM anchors AS a JOIN ordered AS o ON o.person_id = a.person_id "
        "AND o.rn0 = a.rn_anchor)",
        "kept AS (SELECT o.person_id AS person_id, o.event_name AS event_name, o.rn0 AS rn0, "
        "lag(o.event_name) OVER (PARTITION BY o.person_id ORDER BY o.rn0) AS prev "
        "FROM ordered AS o JOIN marks AS m ON m.person_id = o.person_id "
        f"WHERE {' AND '.join(conds)})",
    ]
    fresh = "WHERE prev IS NULL OR prev <> event_name" if collapse_repeats else ""
    order = "rn0" if direction == "after" else "rn0 DESC"
    ctes.append(f"numbered AS (SELECT person_id, event_name, row_number() OVER "
                f"(PARTITION BY person_id ORDER BY {order}) AS rn, "
                f"lead(event_name) OVER (PARTITION BY person_id ORDER BY rn0) AS next_event "
                f"FROM kept {fresh})")
    return ",\n".join(ctes)
