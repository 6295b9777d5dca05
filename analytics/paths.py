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
from analytics.results import AnalyticResult, pct, rate
from analytics.store.connection import Connection

START, END = "(start)", "(end)"
OTHER = "(other paths)"


def sequence_sql(from_event: str | None, collapse_repeats: bool) -> tuple[str, list]:
    """CTEs after `ev`: `numbered` (person_id, event_name, rn, next_event).

    The common case (whole journeys, repeats kept) is one window pass: one sort of the events
    by person and time gives both the step number and the next event.
    """
    window = "PARTITION BY person_id ORDER BY ts, event_id"
    if not from_event and not collapse_repeats:
        return (f"numbered AS (SELECT person_id, event_name, row_number() OVER w AS rn, "
                f"lead(event_name) OVER w AS next_event FROM ev WINDOW w AS ({window}))"), []
    params: list = []
    ctes = [f"ordered AS (SELECT person_id, event_name, row_number() OVER ({window}) AS rn0, "
            f"lag(event_name) OVER ({window}) AS prev FROM ev)"]
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


def default_conversion_event(con: Connection) -> str | None:
    """The journey model's conversion (inferred from behaviour, or the user's own)."""
    from analytics.journey_model import journey_model

    return journey_model(con).conversion_event


def top_paths(con: Connection, *, top: int = 10, from_event: str | None = None,
              to_event: str | None = None, max_steps: int = 6, collapse_repeats: bool = False,
              conversion_event: str | None = None, filters: Filters = Filters(),
              catalog: Catalog | None = None, sankey_steps: int = 5) -> PathsResult:
    if top < 1 or max_steps < 1:
        raise ArgumentError("top" if top < 1 else "max_steps", "must be at least 1")
    conversion_event = conversion_event or default_conversion_event(con)
    catalog = _prepare(con, catalog, filters, [from_event, to_event, conversion_event])
    scope = scope_sql(filters, light=True)
    seq, seq_params = sequence_sql(from_event, collapse_repeats)
    params = scope.params + seq_params
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
        conv = "SELECT DISTINCT person_id FROM ev WHERE event_name = ?"
        params.append(conversion_event)
    # The first max_steps events pivoted into columns: no per-person sort inside the aggregate.
    steps = ", ".join(f"max(event_name) FILTER (WHERE rn = {k})" for k in range(1, max_steps + 1))
    rows = con.execute(f"""
{scope.ctes},
{seq}{extra},
per_person AS (
    SELECT person_id,
           concat_ws(' > ', {steps}) || CASE WHEN max(rn) > {int(max_steps)} THEN ' > ...'
                                             ELSE '' END AS path,
           least(max(rn), {int(max_steps)}) AS steps
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
    flows = _flows_from_paths([(r[0], r[2]) for r in rows], min(sankey_steps, max_steps))
    result = PathsResult(
        paths=paths, total_customers=total, conversion_event=conversion_event,
        from_event=from_event, to_event=to_event, max_steps=max_steps,
        collapse_repeats=collapse_repeats, flows=flows, filters=filters.describe(),
        definitions={
            "path": f"a person's events in time order (ties by event id), the first {max_steps} "
                    "shown, '...' when longer" + (f", from their first {from_event}"
                                                  if from_event else "")
                    + (f", up to their first {to_event} (only people who reached it)"
                       if to_event else ""),
            "share": "customers on the path / all customers with a path in scope; "
                     f"'{OTHER}' holds the rest so shares add up to 100%",
            "conversion_rate": f"customers on the path who ever did {conversion_event} / "
                               "customers on the path",
        })
    if paths:
        best = paths[0]
        result.summary = (f"{total:,} customers in scope. The most common path ({best.path}) is "
                          f"taken by {best.customers:,} ({pct(best.share)}); "
                          f"{pct(best.conversion_rate)} of them converted.")
    else:
        result.summary = "No journeys in this scope."
    return result


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
    from analytics.store.steps import steps_complete

    unfiltered = not filters.describe() and filters.segment_people is None
    if unfiltered and not collapse_repeats and steps_complete(con):
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
