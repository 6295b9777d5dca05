"""What the journey model reads from the events: per person and event, when it first
happened (one temp table of group-bys, no sort of the events), and from that the conversion's
candidates, each event's place relative to converting, and the order steps come in.

Above SAMPLE_PEOPLE people a fixed sample of them (by a hash of the id) is read: shares and
medians of 50,000 journeys are as good as of all, and counts are then taken of everyone.
"""

from __future__ import annotations

from dataclasses import dataclass

from analytics.journey_names import REVENUE_KEYS, conversion_hint
from analytics.store.connection import Connection

SAMPLE_PEOPLE = 50_000


@dataclass
class StepEvidence:
    event_name: str
    people: int  # did it at all
    share_of_people: float | None
    converters_before: int  # converters who did it before their first conversion
    share_of_converters: float | None
    median_position: float | None  # median share of the way, in time, to converting (0..1)
    after_share: float | None  # of the converters who did it, the share who first did it after
    stage: str = ""
    in_journey: bool = False
    why_not: str = ""  # why an event most converters pass is not a step


@dataclass
class ConversionCandidate:
    event_name: str
    people: int
    name_hint: int  # 2 strong, 1 weak, 0 none (journey_names.conversion_hint)
    revenue_share: float  # of its events, the share with a numeric revenue-like property
    median_position: float | None  # median share of the way, in time, through the journey
    score: int




FIRSTS = "_journey_firsts"


def _revenue_sql(con: Connection) -> str:
    """A SQL test that an event row carries a number in a revenue-like property (only the keys
    the store's events have, read from one example of each event, so a store without them
    costs nothing)."""
    keys = [r[0] for r in con.execute("""
        SELECT DISTINCT unnest(json_keys(example)) AS key FROM (
            SELECT any_value(properties) AS example FROM events
            WHERE json_type(properties) = 'OBJECT' GROUP BY event_name)""").fetchall()
            if r[0].lower() in REVENUE_KEYS and '"' not in r[0] and "'" not in r[0]]
    tests = [f"TRY_CAST(json_extract_string(properties, '$.\"{k}\"') AS DOUBLE) IS NOT NULL"
             for k in sorted(keys)]
    return " OR ".join(tests) or "FALSE"


def sample_sql(con: Connection) -> str:
    """A store with more than SAMPLE_PEOPLE people is read through a fixed sample of them (by a
    hash of the id, so the same people every time): shares and medians of 50,000 journeys
    are as good as of all, and a load of millions of events does not wait on them."""
    row = con.execute("SELECT approx_count_distinct(person_id) FROM person_events").fetchone()
    people = row[0] if row and row[0] else 0
    if people <= SAMPLE_PEOPLE:
        return ""
    every = -(-people // SAMPLE_PEOPLE)
    return f"WHERE hash(person_id) % {int(every)} = 0"


def build_firsts(con: Connection, sample: str) -> None:
    """Per person and event: when it first happened, how often, how often with revenue, and
    when the person's journey starts and ends (a temp table of group-bys, no sort of the
    events: positions are read in time, as a share of the way from the first event)."""
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE {FIRSTS} AS
WITH per_event AS (
    SELECT person_id, event_name, min(ts) AS first_ts, count(*) AS events,
           sum(CASE WHEN {_revenue_sql(con)} THEN 1 ELSE 0 END) AS paid, max(ts) AS last_ts
    FROM person_events {sample} GROUP BY person_id, event_name),
span AS (
    SELECT person_id, min(first_ts) AS start_ts, max(last_ts) AS end_ts
    FROM per_event GROUP BY person_id)
SELECT e.person_id, e.event_name, e.first_ts, e.events, e.paid, s.start_ts, s.end_ts
FROM per_event AS e JOIN span AS s ON s.person_id = e.person_id""")


def _share_of(ts: str, start: str, end: str) -> str:
    """SQL: how far `ts` lies from `start` to `end`, 0..1 (0 when they coincide)."""
    return (f"COALESCE(epoch_ms({ts}) - epoch_ms({start}), 0) * 1.0 / "
            f"NULLIF(epoch_ms({end}) - epoch_ms({start}), 0)")


def conversion_candidates(con: Connection) -> tuple[int, list[ConversionCandidate]]:
    """(people, candidates best first) for the conversion event (reads build_firsts)."""
    rows = con.execute(f"""
SELECT event_name, count(*) AS people, sum(paid) * 1.0 / sum(events) AS revenue_share,
       median(COALESCE({_share_of('first_ts', 'start_ts', 'end_ts')}, 0)) AS position
FROM {FIRSTS} GROUP BY event_name ORDER BY event_name""").fetchall()
    counted = con.execute(f"SELECT count(DISTINCT person_id) FROM {FIRSTS}").fetchone()
    people = counted[0] if counted else 0
    out = []
    for name, reached, revenue_share, position in rows:
        hint = conversion_hint(name)
        if hint < 0:
            continue
        score = {2: 3, 1: 1, 0: 0}[hint] + (2 if revenue_share >= 0.5 else 0)
        if score >= 2:
            out.append(ConversionCandidate(name, reached, hint, float(revenue_share),
                                           position, score))
    # The best score; of equal ones, the one reached first (a first subscription before the
    # renewals that follow it), then the one more people reach.
    out.sort(key=lambda c: (-c.score, c.median_position if c.median_position is not None else 1,
                            -c.people, c.event_name))
    return int(people), out


def step_evidence(con: Connection, conversion: str | None) -> tuple[int, list[StepEvidence]]:
    """(converters, evidence per event) relative to the first `conversion` of each person:
    who did it first before converting, and (after_share) of the converters who did it, the
    share who first did it after converting."""
    rows = con.execute(f"""
WITH conv AS (SELECT person_id, first_ts AS conv_ts FROM {FIRSTS} WHERE event_name = ?),
per_person AS (
    SELECT f.event_name, f.first_ts, f.start_ts, f.end_ts, c.conv_ts,
           c.conv_ts IS NOT NULL AND f.first_ts < c.conv_ts AS before
    FROM {FIRSTS} AS f LEFT JOIN conv AS c ON c.person_id = f.person_id)
SELECT event_name, count(*) AS people,
       sum(CASE WHEN before THEN 1 ELSE 0 END) AS converters_before,
       median(CASE WHEN before THEN COALESCE({_share_of('first_ts', 'start_ts', 'conv_ts')}, 0)
              END) AS position,
       median(COALESCE({_share_of('first_ts', 'start_ts', 'end_ts')}, 0)) AS position_all,
       sum(CASE WHEN conv_ts IS NOT NULL AND first_ts > conv_ts THEN 1 ELSE 0 END) AS after,
       count(conv_ts) AS by_converters
FROM per_person GROUP BY event_name ORDER BY event_name
""", [conversion or ""]).fetchall()
    counts = con.execute(f"""
SELECT count(DISTINCT person_id) AS people,
       count(DISTINCT CASE WHEN event_name = ? THEN person_id END) AS converters FROM {FIRSTS}
""", [conversion or ""]).fetchone()
    people, converters = counts if counts else (0, 0)
    out = []
    for name, reached, before, position, position_all, after, by_converters in rows:
        out.append(StepEvidence(
            event_name=name, people=int(reached), share_of_people=reached / people,
            converters_before=int(before),
            share_of_converters=(before / converters) if converters else None,
            median_position=position if conversion else position_all,
            after_share=(after / by_converters) if by_converters else None))
    return int(converters), out


def precedence(con: Connection, events: list[str], conversion: str | None) -> dict[str, float]:
    """For each event, the average share of the other events it comes before (first
    occurrences, the converters' before converting; a tie counts half): the order in which
    journeys typically pass them, robust to steps minutes apart in journeys of weeks."""
    if len(events) < 2:
        return {}
    marks = ", ".join("?" for _ in events)
    joined = ("JOIN conv AS c ON c.person_id = a.person_id AND a.first_ts < c.conv_ts "
              "AND b.first_ts < c.conv_ts") if conversion else ""
    rows = con.execute(f"""
WITH conv AS (SELECT person_id, first_ts AS conv_ts FROM {FIRSTS} WHERE event_name = ?),
f AS (SELECT person_id, event_name, first_ts FROM {FIRSTS} WHERE event_name IN ({marks})),
pairs AS (
    SELECT a.event_name AS event_name,
           avg(CASE WHEN a.first_ts < b.first_ts THEN 1.0
                    WHEN a.first_ts = b.first_ts THEN 0.5 ELSE 0.0 END) AS ahead
    FROM f AS a JOIN f AS b ON b.person_id = a.person_id AND b.event_name <> a.event_name
    {joined}
    GROUP BY a.event_name, b.event_name)
SELECT event_name, avg(ahead) AS score FROM pairs GROUP BY event_name
""", [conversion or ""] + events).fetchall()
    return {name: float(score) for name, score in rows}


def exact_counts(con: Connection, conversion: str | None, evidence: list[StepEvidence],
                  candidates: list[ConversionCandidate]) -> tuple[int, int]:
    """Counts of everyone (the sample gave the shares): people per event, in all, converted."""
    per_event = dict(con.execute("SELECT event_name, count(DISTINCT person_id) FROM "
                                 "person_events GROUP BY event_name").fetchall())
    row = con.execute("SELECT count(DISTINCT person_id), count(DISTINCT CASE WHEN event_name "
                      "= ? THEN person_id END) FROM person_events", [conversion or ""]).fetchone()
    people, converters = (int(row[0]), int(row[1])) if row else (0, 0)
    for s in evidence:
        s.people = int(per_event.get(s.event_name, 0))
        s.share_of_people = s.people / people if people else None
    for c in candidates:
        c.people = int(per_event.get(c.event_name, 0))
    return people, converters



