"""Paths people take: the most common journeys, the Markov transition matrix, and what comes next.

All three read the same per-person sequence, built in SQL: events ordered by time (ties broken by
event id), optionally starting at the first `from` event, optionally with consecutive repeats
collapsed (login > login > login becomes login), and, for paths, cut at the first `to` event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analytics.catalog import Catalog, load_catalog
from analytics.errors import ArgumentError
from analytics.filters import Filters, check_filters, scope_sql
from analytics.path_sequences import anchored_sequence_sql, sequence_sql, stored_sequence_sql
from analytics.results import AnalyticResult, duration, pct, rate
from analytics.sessions import DEFAULT_GAP_MINUTES
from analytics.store.connection import Connection

START, END = "(start)", "(end)"
OTHER = "(other paths)"


@dataclass
class PathRow:
    path: str
    steps: int
    customers: int
    share: float | None
    converted: int
    conversion_rate: float | None


@dataclass
class SankeyLink:
    step: int
    source: str
    target: str
    customers: int


@dataclass
class PathsResult(AnalyticResult):
    paths: list[PathRow] = field(default_factory=list)
    total_customers: int = 0
    conversion_event: str | None = None
    from_event: str | None = None
    to_event: str | None = None
    max_steps: int = 6
    collapse_repeats: bool = False
    flows: list[SankeyLink] = field(default_factory=list)
    before_event: str | None = None
    within_seconds: int | None = None
    funnel_steps: list[str] = field(default_factory=list)
    dropped_at: int | None = None  # the funnel step they did not reach
    unit: str = "people"  # what a path belongs to: a person's journey, or one session
    session_definition: str | None = None

    kind = "paths"

    def figure(self):
        return sankey_figure(self.flows, "Step-by-step flows")


# Readable at any size of journey: at most this many steps deep and this many named events a
# step; the rest of a step is one "other" node that says how many events it holds.
SANKEY_STEPS, SANKEY_NODES = 4, 5


def readable_flows(flows: list[SankeyLink]) -> list[SankeyLink]:
    """The flows of the first steps, each step's smaller events grouped as "other (N)"."""
    shown = [f for f in flows if f.step < SANKEY_STEPS]
    volume: dict[int, dict[str, int]] = {}
    for f in shown:
        volume.setdefault(f.step, {}).setdefault(f.source, 0)
        volume[f.step][f.source] += f.customers
        volume.setdefault(f.step + 1, {}).setdefault(f.target, 0)
        volume[f.step + 1][f.target] += f.customers
    names: dict[tuple[int, str], str] = {}
    for step, by_name in volume.items():
        ranked = sorted(by_name, key=lambda n: (-by_name[n], n))
        kept, rest = ranked[:SANKEY_NODES], ranked[SANKEY_NODES:]
        for name in kept:
            names[(step, name)] = name
        for name in rest:
            names[(step, name)] = f"other ({len(rest)} events)"
    merged: dict[tuple[int, str, str], int] = {}
    for f in shown:
        key = (f.step, names[(f.step, f.source)], names[(f.step + 1, f.target)])
        merged[key] = merged.get(key, 0) + f.customers
    return [SankeyLink(step=s, source=a, target=b, customers=n)
            for (s, a, b), n in merged.items()]


def sankey_figure(flows: list[SankeyLink], title: str):
    import plotly.graph_objects as go

    flows = readable_flows(flows)
    labels: list[str] = []
    index: dict[tuple[int, str], int] = {}

    def node(step: int, name: str) -> int:
        key = (step, name)
        if key not in index:
            index[key] = len(labels)
            labels.append(f"{step}. {name}")
        return index[key]

    sources = [node(f.step, f.source) for f in flows]
    targets = [node(f.step + 1, f.target) for f in flows]
    fig = go.Figure(go.Sankey(node={"label": labels, "pad": 12},
                              link={"source": sources, "target": targets,
                                    "value": [f.customers for f in flows]}))
    fig.update_layout(title=title)
    return fig


def _prepare(con, catalog, filters, events: list[str | None]) -> Catalog:
    catalog = catalog or load_catalog(con)
    check_filters(filters, catalog)
    for name in events:
        if name:
            catalog.check_event(name)
    return catalog


def _whole_journeys(con: Connection, filters: Filters) -> bool:
    """No scope: every person's whole journey, which journey_steps holds when complete."""
    from analytics.store.steps import steps_complete

    return not filters.describe() and filters.segment_people is None and steps_complete(con)


def default_conversion_event(con: Connection) -> str | None:
    """The journey model's conversion (inferred from behaviour, or the user's own)."""
    from analytics.journey_model import journey_model

    return journey_model(con).conversion_event


def top_paths(con: Connection, *, top: int = 10, from_event: str | None = None,
              to_event: str | None = None, max_steps: int = 6, collapse_repeats: bool = False,
              conversion_event: str | None = None, filters: Filters = Filters(),
              catalog: Catalog | None = None, sankey_steps: int = 5,
              before_event: str | None = None, within: int | None = None,
              funnel_steps: list[str] | None = None, dropped_at: int | None = None,
              by_session: bool = False) -> PathsResult:
    """The most common journeys: whole, from the first `from_event` (cut at the first
    `to_event`), up to the first `before_event` (its last `max_steps` steps), or, for the
    people who reached funnel step `dropped_at - 1` and not `dropped_at`, from that step on.
    `within` (seconds) keeps only the steps that close to the anchor; `by_session` makes each
    session a journey of its own."""
    if top < 1 or max_steps < 1:
        raise ArgumentError("top" if top < 1 else "max_steps", "must be at least 1")
    _check_anchors(from_event, to_event, before_event, within, funnel_steps, dropped_at,
                   by_session)
    conversion_event = conversion_event or default_conversion_event(con)
    catalog = _prepare(con, catalog, filters,
                       [from_event, to_event, before_event, conversion_event])
    # Those who dropped are the funnel's own people: step 1 in the date range, later steps
    # (and what they did after) whenever they came.
    scope = scope_sql(filters, light=True, date_range=dropped_at is None)
    params = list(scope.params)
    prefix, source, session_definition = "", "ev", None
    if by_session:
        prefix, session_definition = _sessions_prefix(catalog)
        params.append(DEFAULT_GAP_MINUTES * 60_000.0)
        source = "journeys"
    anchored = before_event or dropped_at or within
    if dropped_at:
        funnel_sql, funnel_params, anchor, with_properties = _dropped_anchor(
            funnel_steps or [], dropped_at, filters, catalog)
        prefix += funnel_sql
        params += funnel_params
        seq = anchored_sequence_sql(anchor, "after", within, collapse_repeats,
                                    with_properties=with_properties,
                                    candidates="SELECT person_id FROM dropped")
    elif anchored:
        seq = anchored_sequence_sql(
            "SELECT person_id, min(rn0) AS rn_anchor FROM ordered WHERE event_name = ? "
            "GROUP BY person_id", "before" if before_event else "after", within,
            collapse_repeats, source=source,
            candidates=f"SELECT person_id FROM {source} WHERE event_name = ?")
        params += [before_event or from_event] * 2
    elif not by_session and _whole_journeys(con, filters):
        # Read from the positions kept at ingest; without an end event only the first steps
        # (and one more, to know a path is longer) are needed.
        seq, seq_params = stored_sequence_sql(from_event, collapse_repeats,
                                              None if to_event else max_steps + 1)
        params += seq_params
    else:
        seq, seq_params = sequence_sql(from_event, collapse_repeats, source=source)
        params += seq_params
    cut = "numbered"
    extra = ""
    if to_event:
        extra = (",\nends AS (SELECT person_id, min(rn) AS rn_end FROM numbered "
                 "WHERE event_name = ? GROUP BY person_id),\n"
                 "cut AS (SELECT n.person_id, n.event_name, n.rn, n.next_event FROM numbered AS n "
                 "JOIN ends AS e ON e.person_id = n.person_id WHERE n.rn <= e.rn_end)")
        params.append(to_event)
        cut = "cut"
    conv = "SELECT NULL::VARCHAR AS person_id WHERE FALSE"
    if conversion_event:
        # A session converts when the conversion happens in it; a person, whenever.
        conv = f"SELECT DISTINCT person_id FROM {source} WHERE event_name = ?"
        params.append(conversion_event)
    # The first max_steps steps pivoted into columns: no per-person sort inside the aggregate.
    # Before an anchor they are its last steps, read from the anchor back.
    places = range(1, max_steps + 1)
    if before_event:
        places = range(max_steps, 0, -1)
    steps = ", ".join(f"max(event_name) FILTER (WHERE rn = {k})" for k in places)
    longer = f"CASE WHEN max(rn) > {int(max_steps)} THEN {{}} ELSE '' END"
    path = (f"{longer.format(repr('... > '))} || concat_ws(' > ', {steps})" if before_event
            else f"concat_ws(' > ', {steps}) || {longer.format(repr(' > ...'))}")
    rows = con.execute(f"""
{scope.ctes},{prefix}
{seq}{extra},
per_person AS (
    SELECT person_id, {path} AS path, least(max(rn), {int(max_steps)}) AS steps
    FROM {cut} GROUP BY person_id
),
conv AS ({conv})
SELECT p.path AS path, any_value(p.steps) AS steps, count(*) AS people,
       count(c.person_id) AS converted
FROM per_person AS p LEFT JOIN conv AS c ON c.person_id = p.person_id
GROUP BY p.path ORDER BY people DESC, path
""", params).fetchall()
    total = sum(r[2] for r in rows)
    total_converted = sum(r[3] for r in rows)
    paths = [PathRow(path, steps_, people, rate(people, total), converted,
                     rate(converted, people)) for path, steps_, people, converted in rows[:top]]
    shown = sum(p.customers for p in paths)
    if total > shown:
        # Never hide the rest: the shares of all rows add up to 100%.
        other_conv = total_converted - sum(p.converted for p in paths)
        paths.append(PathRow(OTHER, 0, total - shown, rate(total - shown, total), other_conv,
                             rate(other_conv, total - shown)))
    flows = _flows_from_paths([(r[0].removeprefix("... > "), r[2]) for r in rows],
                              min(sankey_steps, max_steps))
    result = PathsResult(
        paths=paths, total_customers=total, conversion_event=conversion_event,
        from_event=from_event, to_event=to_event, max_steps=max_steps,
        collapse_repeats=collapse_repeats, flows=flows, filters=filters.describe(),
        before_event=before_event, within_seconds=within, funnel_steps=list(funnel_steps or []),
        dropped_at=dropped_at, unit="sessions" if by_session else "people",
        session_definition=session_definition,
        definitions=_paths_definitions(from_event, to_event, before_event, within,
                                       funnel_steps, dropped_at, max_steps, conversion_event,
                                       session_definition))
    result.summary = _paths_summary(result)
    return result


def _paths_definitions(from_event, to_event, before_event, within, funnel_steps, dropped_at,
                       max_steps, conversion_event, session_definition) -> dict[str, str]:
    journey = (f"one session's events (a session: {session_definition})" if session_definition
               else "a person's events")
    limit = f", only those within {duration(within)} of it" if within else ""
    if before_event:
        path = (f"{journey} in time order (ties by event id) up to their first {before_event}"
                f"{limit}: its last {max_steps} steps shown, '...' first when longer; only "
                f"those who did {before_event}")
    elif dropped_at:
        reached, missed = funnel_steps[dropped_at - 2], funnel_steps[dropped_at - 1]
        path = (f"what the people who reached {reached} and not {missed} (the strict funnel "
                f"{' > '.join(funnel_steps)}, step 1 in the date range) did from {reached} on"
                f"{limit}: the first {max_steps} steps shown, '...' when longer")
    else:
        path = (f"{journey} in time order (ties by event id), the first {max_steps} shown, "
                "'...' when longer" + (f", from their first {from_event}{limit}"
                                       if from_event else "")
                + (f", up to their first {to_event} (only those who reached it)"
                   if to_event else ""))
    unit = "sessions" if session_definition else "customers"
    return {
        "path": path,
        "share": f"{unit} on the path / all {unit} with a path in scope; '{OTHER}' holds the "
                 "rest so shares add up to 100%",
        "conversion_rate": (f"sessions on the path in which {conversion_event} happened / "
                            "sessions on the path" if session_definition else
                            f"customers on the path who ever did {conversion_event} / "
                            "customers on the path"),
    }


def _paths_summary(result: PathsResult) -> str:
    if not result.paths:
        if result.dropped_at:
            reached = result.funnel_steps[result.dropped_at - 2]
            missed = result.funnel_steps[result.dropped_at - 1]
            return (f"No one in scope reached {reached} and stopped before {missed}: everyone "
                    "who got there went on.")
        if result.before_event:
            return f"No one in scope did {result.before_event}."
        return "No journeys in this scope."
    best = result.paths[0]
    unit = "sessions" if result.unit == "sessions" else "customers"
    limit = f" (within {duration(result.within_seconds)})" if result.within_seconds else ""
    taken = f"is taken by {best.customers:,} ({pct(best.share)})" + (
        "." if result.before_event == result.conversion_event else
        f"; {pct(best.conversion_rate)} of them converted.")
    return _paths_headline(result, best, unit, limit, taken) + _runners_up(result)


def _runners_up(result: PathsResult) -> str:
    """The next paths after the top one, where the paths are around an anchor (the answer is
    the list, not one path)."""
    if not (result.before_event or result.dropped_at or result.within_seconds
            or result.unit == "sessions"):
        return ""
    more = [p for p in result.paths[1:3] if p.path != OTHER]
    if not more:
        return ""
    return " Then: " + "; ".join(f"{p.path} ({p.customers:,}, {pct(p.share)})"
                                 for p in more) + "."


def _paths_headline(result: PathsResult, best: PathRow, unit: str, limit: str,
                    taken: str) -> str:
    if result.dropped_at:
        reached = result.funnel_steps[result.dropped_at - 2]
        missed = result.funnel_steps[result.dropped_at - 1]
        return (f"{result.total_customers:,} people reached {reached} and did not go on to "
                f"{missed}. From {reached} on{limit}, their most common path ({best.path}) "
                + taken.replace("converted.", "converted later."))
    if result.before_event:
        back = (f" in the {duration(result.within_seconds)} before it"
                if result.within_seconds else "")
        return (f"{result.total_customers:,} {unit} did {result.before_event}. The most common "
                f"path leading to it{back} ({best.path}) {taken}")
    if result.from_event:
        after = (f" in the {duration(result.within_seconds)} after it" if result.within_seconds
                 else " from it on")
        return (f"{result.total_customers:,} {unit} did {result.from_event}. Their most common "
                f"path{after} ({best.path}) {taken}")
    return (f"{result.total_customers:,} {unit} in scope. The most common path "
            f"({best.path}) {taken}")


def _check_anchors(from_event, to_event, before_event, within, funnel_steps, dropped_at,
                   by_session) -> None:
    if before_event and (from_event or to_event or dropped_at):
        raise ArgumentError("before_event", "paths leading to an event are read back from "
                                            "it: ask without a start, an end or a funnel step")
    if dropped_at is not None:
        if from_event:
            raise ArgumentError("dropped_at", "the paths of those who dropped start at the "
                                              "step they last reached: ask without a start")
        if by_session:
            raise ArgumentError("by_session", "the paths of those who dropped follow each "
                                              "person, not each session: ask for one or the "
                                              "other")
        if not funnel_steps or len(funnel_steps) < 2:
            raise ArgumentError("funnel_steps", "name the funnel's steps (at least two) to "
                                                "find who dropped at a step")
        if not 2 <= dropped_at <= len(funnel_steps):
            raise ArgumentError("dropped_at", f"name a step from 2 to {len(funnel_steps)}: "
                                              "the step they did not reach")
    elif funnel_steps:
        raise ArgumentError("funnel_steps", "funnel steps go with the step they dropped at "
                                            "(the one they did not reach)")
    if within is not None and within <= 0:
        raise ArgumentError("within", "must be a positive duration, e.g. 30m or 1d")
    if within and not (from_event or before_event or dropped_at):
        raise ArgumentError("within", "a time limit counts from an event: give the event "
                                      "paths start from, lead to, or a funnel step they "
                                      "dropped at")


def _sessions_prefix(catalog: Catalog) -> tuple[str, str]:
    """CTEs after the scope: `journeys`, the events with person_id keyed by session."""
    from analytics.sessions import SESSION_PROPERTIES, session_keys_sql

    known = [p for p in SESSION_PROPERTIES if p in catalog.event_properties]
    definition = (f"the {known[0]} property, else {DEFAULT_GAP_MINUTES:g} minutes without an "
                  "event" if known else f"{DEFAULT_GAP_MINUTES:g} minutes without an event")
    return ("\n" + session_keys_sql(known) + ",\njourneys AS (SELECT event_id, person_id || "
            "' @ ' || session_key AS person_id, ts, event_name FROM keyed),"), definition


def _dropped_anchor(funnel_steps: list[str], dropped_at: int, filters: Filters,
                    catalog: Catalog) -> tuple[str, list, str, bool]:
    """The funnel's step CTEs and `dropped` (person_id, t: when they reached the step before
    `dropped_at`), and the anchor: that step's event itself (the first of its events at that
    time, by event id)."""
    from analytics.event_filters import step_sql
    from analytics.filters import date_bounds
    from analytics.funnel import _step_sql, parse_steps

    parsed = parse_steps(funnel_steps, catalog)
    start, end = date_bounds(filters)
    steps_sql, params = _step_sql(parsed, "strict", None, start, end, False)
    reached = dropped_at - 1
    condition, condition_params = step_sql(parsed[reached - 1], "o")
    with_properties = any(a.conditions for a in parsed[reached - 1])
    # An anti-join, not NOT EXISTS: correlated subqueries do not run on every engine.
    prefix = (f"\n{steps_sql},\ndropped AS (SELECT p.person_id AS person_id, p.t AS t "
              f"FROM s{reached} AS p LEFT JOIN s{dropped_at} AS n ON n.person_id = p.person_id "
              "WHERE n.person_id IS NULL),")
    anchor = ("SELECT o.person_id AS person_id, min(o.rn0) AS rn_anchor FROM ordered AS o "
              f"JOIN dropped AS d ON d.person_id = o.person_id AND o.ts = d.t AND {condition} "
              "GROUP BY o.person_id")
    # The anchor's parameters come after the funnel's, as the SQL reads them.
    return prefix, params + condition_params, anchor, with_properties


def _flows_from_paths(paths: list[tuple[str, int]], steps: int, per_step: int = 6
                      ) -> list[SankeyLink]:
    """Step-to-step flows, summed from the counted paths (so they match the paths exactly)."""
    links: dict[tuple[int, str, str], int] = {}
    for path, people in paths:
        names = path.split(" > ")
        for i in range(min(len(names), steps)):
            source = names[i]
            if source == "...":
                break
            target = names[i + 1] if i + 1 < len(names) else END
            if i + 1 == steps and target != END:
                continue
            target = "(more)" if target == "..." else target
            links[(i + 1, source, target)] = links.get((i + 1, source, target), 0) + people
    # Keep the busiest events at each step; fold the rest into 'other' for a legible chart.
    volume: dict[tuple[int, str], int] = {}
    for (step, source, _), people in links.items():
        volume[(step, source)] = volume.get((step, source), 0) + people
    keep: dict[int, list[str]] = {}
    for (step, name), _ in sorted(volume.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1])):
        keep.setdefault(step, [])
        if len(keep[step]) < per_step:
            keep[step].append(name)
    merged: dict[tuple[int, str, str], int] = {}
    for (step, source, target), people in links.items():
        src = source if source in keep.get(step, []) else "other"
        tgt = (target if target in (END, "(more)") or target in keep.get(step + 1, [])
               else "other")
        merged[(step, src, tgt)] = merged.get((step, src, tgt), 0) + people
    return [SankeyLink(s, a, b, n) for (s, a, b), n in sorted(merged.items())]


@dataclass
class Transition:
    source: str
    target: str
    transitions: int
    customers: int
    probability: float


@dataclass
class TransitionsResult(AnalyticResult):
    transitions: list[Transition] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    collapse_repeats: bool = False

    kind = "transitions"

    def matrix(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for t in self.transitions:
            out.setdefault(t.source, {})[t.target] = t.probability
        return out

    def figure(self):
        import plotly.graph_objects as go

        sources = [s for s in self.states if s != END]
        targets = [s for s in self.states if s != START]
        m = self.matrix()
        z = [[m.get(s, {}).get(t, 0.0) for t in targets] for s in sources]
        fig = go.Figure(go.Heatmap(z=z, x=targets, y=sources, colorscale="Blues",
                                   colorbar={"title": "P(next)"}))
        fig.update_layout(title="Transition probabilities (row: from, column: to)")
        return fig


def transitions(con: Connection, *, collapse_repeats: bool = False,
                filters: Filters = Filters(), catalog: Catalog | None = None
                ) -> TransitionsResult:
    _prepare(con, catalog, filters, [])
    scope = scope_sql(filters, light=True)
    seq, seq_params = sequence_sql(None, collapse_repeats)
    if not collapse_repeats and _whole_journeys(con, filters):
        # Whole journeys, repeats kept: the moves are maintained at ingest (journey_steps).
        rows = con.execute(f"""
WITH counted AS (
    SELECT COALESCE(prev_event, '{START}') AS source, event_name AS target, count(*) AS n,
           count(*) FILTER (WHERE first_of_move) AS people
    FROM journey_steps GROUP BY COALESCE(prev_event, '{START}'), event_name
    UNION ALL
    SELECT event_name AS source, '{END}' AS target, count(*) AS n, count(*) AS people
    FROM journey_steps WHERE next_event IS NULL GROUP BY event_name
)
SELECT source, target, n, people, n / sum(n) OVER (PARTITION BY source) AS probability
FROM counted ORDER BY source, n DESC, target
""").fetchall()
        return _transitions_result(rows, collapse_repeats, filters)
    if collapse_repeats:
        moves = f"""{seq},
moves AS MATERIALIZED (
    SELECT person_id, event_name, lag(event_name) OVER w AS prev, next_event AS nxt
    FROM numbered WINDOW w AS (PARTITION BY person_id ORDER BY rn)
)"""
    else:
        # One sort of the events gives both neighbours of every event.
        moves = """moves AS MATERIALIZED (
    SELECT person_id, event_name, lag(event_name) OVER w AS prev, lead(event_name) OVER w AS nxt
    FROM ev WINDOW w AS (PARTITION BY person_id ORDER BY ts, event_id)
)"""
        seq_params = []
    rows = con.execute(f"""
{scope.ctes},
{moves},
counted AS (
    SELECT COALESCE(prev, '{START}') AS source, event_name AS target, count(*) AS n,
           count(DISTINCT person_id) AS people
    FROM moves GROUP BY COALESCE(prev, '{START}'), event_name
    UNION ALL
    -- every person ends exactly once, so transitions = people here
    SELECT event_name AS source, '{END}' AS target, count(*) AS n, count(*) AS people
    FROM moves WHERE nxt IS NULL GROUP BY event_name
)
SELECT source, target, n, people, n / sum(n) OVER (PARTITION BY source) AS probability
FROM counted ORDER BY source, n DESC, target
""", scope.params + seq_params).fetchall()
    return _transitions_result(rows, collapse_repeats, filters)


def _transitions_result(rows, collapse_repeats: bool, filters: Filters) -> TransitionsResult:
    items = [Transition(*r) for r in rows]
    states = sorted({t.source for t in items} | {t.target for t in items},
                    key=lambda s: (s != START, s == END, s))
    result = TransitionsResult(
        transitions=items, states=states, collapse_repeats=collapse_repeats,
        filters=filters.describe(), definitions={
            "transitions": "times a person's event was directly followed by the target "
                           f"({START} before the first event, {END} after the last)",
            "customers": "distinct people who made that move at least once",
            "probability": "transitions from source to target / all transitions out of source "
                           "(each row sums to 1)",
        })
    top = [t for t in items if t.source != START]
    if top:
        strongest = max(top, key=lambda t: t.transitions)
        result.summary = (f"{len(states) - 2} events, {sum(t.transitions for t in items):,} "
                          f"transitions. The most frequent move is {strongest.source} -> "
                          f"{strongest.target} ({strongest.transitions:,} times, "
                          f"{pct(strongest.probability)} of moves out of {strongest.source}).")
    else:
        result.summary = "No journeys in this scope."
    return result


@dataclass
class NextStep:
    event: str
    occurrences: int
    customers: int
    probability: float


@dataclass
class NextStepsResult(AnalyticResult):
    after: list[str] = field(default_factory=list)
    matches: int = 0
    next_steps: list[NextStep] = field(default_factory=list)

    kind = "next_steps"

    def figure(self):
        import plotly.graph_objects as go

        fig = go.Figure(go.Bar(x=[n.probability for n in self.next_steps],
                               y=[n.event for n in self.next_steps], orientation="h"))
        fig.update_layout(title="After " + " > ".join(self.after),
                          yaxis={"autorange": "reversed"}, xaxis={"tickformat": ".0%"})
        return fig


def next_steps(con: Connection, after: list[str], *, top: int = 10,
               collapse_repeats: bool = False, filters: Filters = Filters(),
               catalog: Catalog | None = None) -> NextStepsResult:
    if not after:
        raise ArgumentError("after", "give at least one event, e.g. pricing_view")
    _prepare(con, catalog, filters, list(after))
    scope = scope_sql(filters, light=True)
    seq, seq_params = sequence_sql(None, collapse_repeats)
    k = len(after)
    lags = ",\n           ".join(
        f"lag(event_name, {j}) OVER (PARTITION BY person_id ORDER BY rn) AS back{j}"
        for j in range(1, k))
    lag_select = (",\n           " + lags) if lags else ""
    conditions = ["event_name = ?"] + [f"back{j} = ?" for j in range(1, k)]
    match_params = [after[-1]] + [after[-1 - j] for j in range(1, k)]
    rows = con.execute(f"""
{scope.ctes},
{seq},
windowed AS (
    SELECT person_id, event_name, COALESCE(next_event, '{END}') AS next_event{lag_select}
    FROM numbered
),
matched AS (SELECT person_id, next_event FROM windowed WHERE {' AND '.join(conditions)})
SELECT next_event, count(*) AS n, count(DISTINCT person_id) AS people,
       count(*) / sum(count(*)) OVER () AS probability
FROM matched GROUP BY next_event ORDER BY n DESC, next_event
""", scope.params + seq_params + match_params).fetchall()
    matches = sum(r[1] for r in rows)
    result = NextStepsResult(
        after=list(after), matches=matches,
        next_steps=[NextStep(*r) for r in rows[:top]], filters=filters.describe(),
        definitions={
            "occurrences": "times the partial path was directly followed by the event "
                           f"({END}: the journey stopped there)",
            "probability": "occurrences / all occurrences of the partial path",
        })
    if rows:
        best = result.next_steps[0]
        result.summary = (f"The path {' > '.join(after)} occurs {matches:,} times; next comes "
                          f"{best.event} {pct(best.probability)} of the time.")
    else:
        result.summary = f"No one in scope did {' > '.join(after)} in that order."
    return result
