"""Path patterns with restricted gaps: who did A, then B with no X in between, then C.

Pattern syntax (events as in a funnel step: `a|b` either, `event[property=value]` only such):
* `A -> B`: B after A, anything in between;
* `A ->[^X|Y]*-> B`: B after A with no X and no Y in between (retentioneering's restricted gap).

A person matches when their events, in order (by time, ties by event id), hold the pattern's
steps in order with every restricted gap free of its events. The matcher keeps, for each step,
every position at which the pattern so far can end, and steps on with window functions over
each person's sequence: the latest such position before an event and the latest forbidden
event before it, so a gap is free when the forbidden one (if any) comes no later than the
position (portable SQL: row_number and max over an ordered frame, no list slicing).

Each result also gives the pattern's alternatives: the same steps with each restricted gap
passing through its forbidden events instead, and the pattern's start without its end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from analytics.catalog import Catalog, load_catalog
from analytics.errors import ArgumentError
from analytics.event_filters import StepEvent, step_sql
from analytics.filters import Filters, check_filters, scope_sql
from analytics.funnel import parse_steps
from analytics.results import AnalyticResult, pct, rate
from analytics.store.connection import Connection

GAP = re.compile(r"\s*->\s*(?:\[\^([^\]]+)\]\*\s*->)?\s*")


@dataclass
class Pattern:
    text: str
    steps: list[str]  # as written: "added_to_cart", "a|b", "x[plan=pro]"
    forbidden: list[list[str]]  # per gap (one fewer than the steps): events not allowed in it

    def said(self) -> str:
        parts = [self.steps[0]]
        for gap, step in zip(self.forbidden, self.steps[1:]):
            parts.append(f" ->[^{'|'.join(gap)}]*-> " if gap else " -> ")
            parts.append(step)
        return "".join(parts)


@dataclass
class PatternMatch:
    pattern: str
    people: int  # people whose events hold the pattern
    share: float | None  # of the people in scope
    converted: int  # of them, those who did the conversion event after the match
    conversion: float | None
    kind: str = "pattern"  # pattern, through (a gap through its forbidden events), start


@dataclass
class MatchResult(AnalyticResult):
    pattern: str = ""
    people_in_scope: int = 0
    conversion_event: str | None = None
    matches: list[PatternMatch] = field(default_factory=list)  # the pattern first

    kind = "match"

    def figure(self):
        """People per pattern and alternative, each bar saying its conversion."""
        import plotly.graph_objects as go

        labels = [m.pattern for m in self.matches]
        fig = go.Figure(go.Bar(
            x=[m.people for m in self.matches], y=labels, orientation="h",
            text=[f"{m.people:,} ({pct(m.share)} of everyone), {pct(m.conversion)} converted"
                  for m in self.matches], textposition="auto"))
        fig.update_layout(title=f"Who did {self.pattern}", xaxis_title="people",
                          yaxis={"autorange": "reversed"})
        return fig


def parse_pattern(text: str) -> Pattern:
    pieces = GAP.split(text.strip())
    # split() interleaves step, forbidden group, step, ...
    steps = [p.strip() for p in pieces[0::2]]
    forbidden = [[x.strip() for x in (g or "").split("|") if x.strip()] for g in pieces[1::2]]
    if len(steps) < 2 or any(not s for s in steps):
        raise ArgumentError("pattern", f"'{text}' needs at least two events joined by '->', "
                                       "e.g. added_to_cart ->[^contacted_support]*-> purchased")
    return Pattern(text, steps, forbidden)


def _alternatives(p: Pattern) -> list[tuple[Pattern, str]]:
    out = []
    for k, gap in enumerate(p.forbidden):
        if not gap:
            continue
        steps = p.steps[:k + 1] + ["|".join(gap)] + p.steps[k + 1:]
        forbidden = p.forbidden[:k] + [[], []] + p.forbidden[k + 1:]
        through = Pattern("", steps, forbidden)
        through.text = through.said()
        out.append((through, "through"))
    start = Pattern("", p.steps[:-1], p.forbidden[:-1])
    if len(start.steps) >= 1:
        start.text = start.said() + f" (not then {p.steps[-1]})"
        out.append((start, "start"))
    return out


def match(con: Connection, pattern: str, *, conversion_event: str | None = None,
          filters: Filters = Filters(), catalog: Catalog | None = None) -> MatchResult:
    from analytics.paths import default_conversion_event

    catalog = catalog or load_catalog(con)
    check_filters(filters, catalog)
    parsed = parse_pattern(pattern)
    conversion_event = conversion_event or default_conversion_event(con)
    if conversion_event:
        catalog.check_event(conversion_event)
    for gap in parsed.forbidden:
        for event in gap:
            catalog.check_event(event)
    scope = scope_sql(filters, light=True)
    counted = con.execute(f"{scope.ctes} SELECT count(DISTINCT person_id) FROM ev",
                          scope.params).fetchone()
    total = int(counted[0]) if counted else 0
    found = []
    for p, kind in [(parsed, "pattern"), *_alternatives(parsed)]:
        ctes, params = _match_sql(p, catalog, not_then=parsed.steps[-1] if kind == "start"
                                  else None)
        people, converted = _count(con, scope, ctes, params, conversion_event)
        found.append(PatternMatch(parsed.said() if kind == "pattern" else p.text, people,
                                  rate(people, total), converted, rate(converted, people),
                                  kind))
    head = found[0]
    # A pattern that ends at the conversion has converted by definition: "then did it" after
    # the match would read 0%, so the comparison is with the alternatives' counts instead.
    ends_converted = conversion_event == parsed.steps[-1]
    summary = (f"{head.people:,} of {total:,} people ({pct(head.share)}) did {head.pattern}"
               + (f"; {pct(head.conversion)} of them then did {conversion_event}"
                  if conversion_event and head.people and not ends_converted else "") + ".")
    for m in found[1:]:
        if m.kind == "through" and m.people:
            summary += (f" Through the excluded events ({m.pattern}): {m.people:,}"
                        + ("." if ends_converted else f", {pct(m.conversion)} converting."))
        if m.kind == "start" and ends_converted:
            summary += f" Started and never reached {parsed.steps[-1]}: {m.people:,}."
    return MatchResult(
        summary=summary, pattern=parsed.said(), people_in_scope=total,
        conversion_event=conversion_event, matches=found, filters=filters.describe(),
        definitions={
            "order": "each person's events by time, ties by event id",
            "->": "the next step at any later position, anything in between",
            "->[^X|Y]*->": "the next step later with no X and no Y in between",
            "share": "people matching / people with any event in scope",
            "conversion": f"people matching who did {conversion_event} after the match's "
                          "first completion / people matching",
            "through": "the same steps with a restricted gap passing through its excluded "
                       "events",
            "start": "people who did the pattern's start and never its last step after it"})


def _one_step(step: str, catalog: Catalog) -> list[StepEvent]:
    return parse_steps([step, step], catalog)[0]


def _match_sql(p: Pattern, catalog: Catalog, not_then: str | None = None) -> tuple[str, list]:
    """CTEs (after the scope's) ending in `who`: (person_id, seq) of each person's first
    position where the pattern can end; with `not_then`, only people who never did that step
    after it."""
    ctes = ["seq AS (SELECT person_id, event_name, properties, channel, device, event_id, ts, "
            "row_number() OVER (PARTITION BY person_id ORDER BY ts, event_id, event_name) AS seq "
            "FROM ev)"]
    params: list = []
    first, first_params = step_sql(_one_step(p.steps[0], catalog))
    params += first_params
    ctes.append(f"m1 AS (SELECT person_id, seq FROM seq WHERE {first})")
    window = ("OVER (PARTITION BY s.person_id ORDER BY s.seq ROWS BETWEEN UNBOUNDED "
              "PRECEDING AND 1 PRECEDING)")
    for k, step in enumerate(p.steps[1:], start=2):
        cond, cond_params = step_sql(_one_step(step, catalog), "s")
        gap = p.forbidden[k - 2]
        forbidden = f"s.event_name IN ({', '.join('?' for _ in gap)})" if gap else "FALSE"
        # For each event: the latest position before it where the pattern so far ends, and
        # the latest forbidden event before it; the gap is free when that one is no later.
        ctes.append(
            f"r{k} AS (SELECT s.person_id, s.seq, CASE WHEN {cond} THEN 1 ELSE 0 END AS is_step,"
            f" max(CASE WHEN m.seq IS NOT NULL THEN s.seq END) {window} AS last_m, "
            f"max(CASE WHEN {forbidden} THEN s.seq END) {window} AS last_f "
            f"FROM seq AS s LEFT JOIN m{k - 1} AS m ON m.person_id = s.person_id AND "
            f"m.seq = s.seq)")
        params += cond_params + gap
        ctes.append(f"m{k} AS (SELECT person_id, seq FROM r{k} WHERE is_step = 1 AND last_m IS "
                    "NOT NULL AND (last_f IS NULL OR last_f <= last_m))")
    n = len(p.steps)
    ctes.append(f"ends AS (SELECT person_id, min(seq) AS seq FROM m{n} GROUP BY person_id)")
    if not_then is None:
        ctes.append("who AS (SELECT person_id, seq FROM ends)")
    else:
        cond, cond_params = step_sql(_one_step(not_then, catalog), "s")
        params += cond_params
        # Anti-joins, not NOT EXISTS: correlated subqueries do not run on every engine.
        ctes.append(f"spoilt AS (SELECT DISTINCT e.person_id AS person_id FROM ends AS e "
                    f"JOIN seq AS s ON s.person_id = e.person_id AND s.seq > e.seq AND {cond})")
        ctes.append("who AS (SELECT e.person_id, e.seq FROM ends AS e LEFT JOIN spoilt AS x "
                    "ON x.person_id = e.person_id WHERE x.person_id IS NULL)")
    return ",\n".join(ctes), params


def _count(con: Connection, scope, ctes: str, params: list,
           conversion_event: str | None) -> tuple[int, int]:
    """People matching, and those of them who did the conversion event after the match."""
    converted, joined, extra = "0", "", []
    if conversion_event:
        # who holds each person once; those who converted after their match, joined.
        ctes += (",\nconverted AS (SELECT DISTINCT w.person_id AS person_id FROM who AS w "
                 "JOIN seq AS c ON c.person_id = w.person_id AND c.seq > w.seq "
                 "AND c.event_name = ?)")
        converted = "count(cv.person_id)"
        joined = " LEFT JOIN converted AS cv ON cv.person_id = w.person_id"
        extra.append(conversion_event)
    row = con.execute(f"{scope.ctes},\n{ctes}\nSELECT count(*) AS matched, {converted} AS "
                      f"converted FROM who AS w{joined}",
                      scope.params + params + extra).fetchone()
    return (int(row[0]), int(row[1] or 0)) if row else (0, 0)


