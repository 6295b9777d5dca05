"""Funnels: how many people reach each step, how fast, and where they drop off.

Definitions (returned with every result):
* a person is a customer id, or an anonymous id not (yet) linked to one;
* step 1 is a person's first occurrence of any of its events inside the date range;
* strict order: step k is the first occurrence of step k's events at or after step k-1's time
  (equal timestamps count as in order), within the conversion window from step 1, which may end
  after the date range;
* any order: step k counts when the person did each of steps 1..k within the window from step 1
  (times between steps are then not defined, and are not reported).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from analytics.catalog import Catalog, load_catalog
from analytics.errors import ArgumentError
from analytics.event_filters import StepEvent, parse_step_event, split_alternatives, step_sql
from analytics.filters import (
    Filters,
    attribute_rule,
    check_filters,
    date_bounds,
    one_group_each,
    scope_sql,
)
from analytics.funnel_options import (
    TIME_BUCKETS,
    Exclusion,
    check_hold,
    check_windows,
    parse_exclusion,
    value_sql,
)
from analytics.results import AnalyticResult, duration, pct, rate
from analytics.store.connection import Connection

Order = Literal["strict", "consecutive", "any"]


@dataclass
class FunnelStep:
    step: int
    events: list[str]
    customers: int
    conversion_from_previous: float | None
    conversion_from_first: float | None
    dropped: int  # people at the previous step who did not reach this one
    median_seconds_from_previous: float | None = None
    p90_seconds_from_previous: float | None = None
    p25_seconds_from_previous: float | None = None
    p75_seconds_from_previous: float | None = None
    time_histogram: list = field(default_factory=list)  # [bucket label, people] per bucket


@dataclass
class FunnelGroup:
    group: str
    steps: list[FunnelStep]


@dataclass
class FunnelResult(AnalyticResult):
    steps: list[FunnelStep] = field(default_factory=list)
    order: str = "strict"
    window_seconds: int | None = None
    by: str | None = None
    groups: list[FunnelGroup] = field(default_factory=list)
    biggest_dropoff_step: int | None = None
    exclusions: list[str] = field(default_factory=list)
    excluded: int | None = None  # people removed from the funnel by the exclusions
    step_windows_seconds: list[int] = field(default_factory=list)
    hold: str | None = None
    ignore: list[str] = field(default_factory=list)
    people_at: int | None = None
    people_who: str | None = None
    people: list[str] = field(default_factory=list)  # the ids behind people_at

    kind = "funnel"

    def write_csv(self, path: str) -> None:
        """The people behind the asked step, one id a line, for an export."""
        from analytics.export_files import write_text_whole

        if self.people_at is None:
            raise ArgumentError("people", "name the step whose people to export")
        write_text_whole(path, "person_id\n" + "".join(f"{p}\n" for p in self.people))

    def figure(self):
        import plotly.graph_objects as go

        fig = go.Figure()
        series = ([("all", self.steps)] if not self.groups
                  else [(g.group, g.steps) for g in self.groups])
        for name, steps in series:
            fig.add_trace(go.Funnel(
                name=name, y=[" | ".join(s.events) for s in steps],
                x=[s.customers for s in steps], textinfo="value+percent initial"))
        fig.update_layout(title="Funnel" + (f" by {self.by}" if self.by else ""))
        return fig


def parse_steps(steps: list[str], catalog: Catalog) -> list[list[StepEvent]]:
    """Each step: alternatives separated by '|', each an event, optionally with property
    conditions in brackets (`$pageview[$pathname=/pricing]`)."""
    if len(steps) < 2:
        raise ArgumentError("steps", "a funnel needs at least two steps, e.g. pricing_view signup")
    parsed = []
    for step in steps:
        pieces = [step] if step in catalog.events else split_alternatives(step)
        alternatives = [parse_step_event(s, catalog.events) for s in pieces]
        if not alternatives:
            raise ArgumentError("steps", f"step '{step}' names no event")
        for alternative in alternatives:
            catalog.check_event(alternative.event)
            for condition in alternative.conditions:
                catalog.check_event_property(condition.key)
        parsed.append(alternatives)
    return parsed


def _step_sql(steps: list[list[StepEvent]], order: Order, window: int | None,
              start, end, grouped: bool, *, step_windows: list[int] | None = None,
              hold: str | None = None, ignore: tuple[str, ...] = ()) -> tuple[str, list]:
    """CTEs s1..sN: one row per person who reached the step, with the step's time; grouped,
    one per person and group (a person may be in several groups: see scope_sql).

    Consecutive order numbers each person's events (ignored ones left out, ties broken by
    event id, as the source numbered them, then name) and asks step k to be the event right
    after step k-1's. A held property is read at step 1's first occurrence (`hv`) and every
    later step must have the same."""
    params: list = []
    ctes = []
    grp = ", grp" if grouped else ""
    keys = "person_id, grp" if grouped else "person_id"
    source = "ev"
    if order == "consecutive":
        noise = (f"WHERE event_name NOT IN ({', '.join('?' for _ in ignore)})" if ignore
                 else "")
        params.extend(ignore)
        ctes.append(f"seq AS (SELECT *, row_number() OVER (PARTITION BY {keys} ORDER BY ts, "
                    f"event_id, event_name) AS rn FROM ev {noise})")
        source = "seq"
    first_step, first_params = step_sql(steps[0])
    params.extend(first_params)
    first_cond = []
    if start is not None:
        first_cond.append("ts >= ?")
        params.append(start)
    if end is not None:
        first_cond.append("ts < ?")
        params.append(end)
    where = " AND ".join([first_step] + first_cond)
    carried = []  # columns later steps need from the first occurrence itself
    if hold:
        carried.append(f"{value_sql(hold, 'f')} AS hv")
    if order == "consecutive":
        carried.append("rn")
    if carried:
        # The first occurrence as a row (ties broken by name, then id): its value and place.
        ctes.append(
            f"s1 AS (SELECT person_id, ts AS t, ts AS t1{grp}, {', '.join(carried)} FROM ("
            f"SELECT f.*, row_number() OVER (PARTITION BY {keys} ORDER BY ts, event_id, "
            f"event_name) AS nth FROM {source} AS f WHERE {where}) AS f WHERE nth = 1)")
    else:
        ctes.append(f"s1 AS (SELECT person_id, min(ts) AS t, min(ts) AS t1{grp} FROM ev "
                    f"WHERE {where} GROUP BY {keys})")
    keep = (", p.hv AS hv" if hold else "")
    for k, step in enumerate(steps[1:], start=2):
        condition, step_params = step_sql(step, "e")
        params.extend(step_params)
        conds = [condition]
        if window:
            conds.append(f"e.ts <= p.t1 + INTERVAL {int(window)} SECOND")
        if step_windows:
            conds.append(f"e.ts <= p.t + INTERVAL {int(step_windows[k - 2])} SECOND")
        if hold:
            conds.append(f"{value_sql(hold, 'e')} IS NOT DISTINCT FROM p.hv")
        same_group = " AND e.grp = p.grp" if grouped else ""
        grp_col = ", p.grp AS grp" if grouped else ""
        if order == "consecutive":
            ctes.append(
                f"s{k} AS (SELECT p.person_id, e.ts AS t, p.t1 AS t1, p.t AS t_prev, e.rn AS rn"
                f"{keep}{grp_col} FROM s{k - 1} AS p JOIN seq AS e ON e.person_id = "
                f"p.person_id{same_group} AND e.rn = p.rn + 1 AND {' AND '.join(conds)})")
            continue
        # Strict: at or after the previous step. Any order: anywhere after step 1.
        conds.insert(1, "e.ts >= p.t" if order == "strict" else "e.ts >= p.t1")
        group_keys = "p.person_id, p.grp" if grouped else "p.person_id"
        held = ", any_value(p.hv) AS hv" if hold else ""
        ctes.append(
            f"s{k} AS (SELECT p.person_id, min(e.ts) AS t, any_value(p.t1) AS t1, "
            f"any_value(p.t) AS t_prev{held}{grp_col} FROM s{k - 1} AS p JOIN ev AS e "
            f"ON e.person_id = p.person_id{same_group} AND {' AND '.join(conds)} "
            f"GROUP BY {group_keys})")
    return ",\n".join(ctes), params


def _exclusions_sql(exclusions: list[Exclusion], window: int | None,
                    step_windows: list[int] | None, grouped: bool) -> tuple[str, list]:
    """CTE `x`: the people (per group) removed by an exclusion step: its event strictly after
    their step `first` and strictly before their step `last`, or, when they never reached
    `last`, before the window closes (the overall window; the move's own window when `last`
    is the next step; otherwise any time after)."""
    parts, params = [], []
    keys = ("a.person_id AS person_id, a.grp AS grp" if grouped
            else "a.person_id AS person_id")  # named: ClickHouse keeps "a.person_id"
    for x in exclusions:
        condition, found = step_sql([x.event], "e")
        params.extend(found)
        closes: str | None
        if window:
            closes = f"a.t1 + INTERVAL {int(window)} SECOND"
        elif step_windows and x.last == x.first + 1:
            closes = f"a.t + INTERVAL {int(step_windows[x.first - 1])} SECOND"
        else:
            closes = None  # any time after
        same = " AND b.grp = a.grp" if grouped else ""
        before = (f"e.ts < COALESCE(b.t, {closes})" if closes
                  else "(b.t IS NULL OR e.ts < b.t)")
        parts.append(
            f"SELECT DISTINCT {keys} FROM s{x.first} AS a LEFT JOIN s{x.last} AS b ON "
            f"b.person_id = a.person_id{same} JOIN ev AS e ON e.person_id = a.person_id AND "
            f"{condition} AND e.ts > a.t AND {before}")
    return "x AS (" + " UNION ".join(parts) + ")", params


def funnel(con: Connection, steps: list[str], *, order: Order = "strict",
           window: int | None = None, by: str | None = None,
           filters: Filters = Filters(), catalog: Catalog | None = None,
           exclude: list[str] | None = None, step_windows: list[int] | None = None,
           hold: str | None = None, ignore: list[str] | None = None,
           people_at: int | None = None, people_who: str = "reached") -> FunnelResult:
    """`people_at` lists the people who reached step N (`people_who="reached"`) or who
    reached the step before it and not N (`"dropped"`)."""
    if order not in ("strict", "any", "consecutive"):
        raise ArgumentError("order", "must be 'strict', 'consecutive' or 'any'")
    catalog = catalog or load_catalog(con)
    parsed = parse_steps(steps, catalog)
    check_filters(filters, catalog)
    if by is not None:
        catalog.check_attribute(by)
    check_windows(step_windows, len(parsed), order)
    if hold:
        check_hold(hold, catalog)
    if ignore and order != "consecutive":
        raise ArgumentError("ignore", "ignored events matter only when each step must be the "
                                      "very next event: use the consecutive order")
    for event in ignore or []:
        catalog.check_event(event)
    exclusions = [parse_exclusion(x, len(parsed), catalog) for x in exclude or []]
    if people_at is not None and not (1 <= people_at <= len(parsed)) or (
            people_who == "dropped" and people_at == 1):
        raise ArgumentError("people", f"name a step from {2 if people_who == 'dropped' else 1}"
                                      f" to {len(parsed)}")
    # No stage columns are needed. (Narrowing `ev` to the steps' events made DuckDB slower: it
    # then materialises the scope instead of pushing each step's filter into its own scan.)
    # With one group per person (the first rule, or device and channel) the funnel is computed
    # once for everyone and each step's people are joined to their group at the end; the
    # overall row comes from the same pass (GROUPING SETS). Only the any rule, a person in
    # several groups, keys every step by (person, group) and needs a second, ungrouped run.
    attach = by is not None and one_group_each(filters, by)
    scope = scope_sql(filters, group_by=by, date_range=False, several_groups=True, light=True,
                      join_groups=not attach)
    start, end = date_bounds(filters)
    grouped = by is not None and not attach
    step_ctes, step_params = _step_sql(parsed, order, window, start, end, grouped,
                                       step_windows=step_windows, hold=hold,
                                       ignore=tuple(ignore or ()))
    kept = ""
    if exclusions:
        x_cte, x_params = _exclusions_sql(exclusions, window, step_windows, grouped)
        step_ctes += ",\n" + x_cte
        step_params += x_params
        # An anti-join (x holds each person, or person and group, once), not NOT EXISTS:
        # correlated subqueries do not run on every engine.
        match = "xk.person_id = s.person_id" + (" AND xk.grp = s.grp" if grouped else "")
        kept = f" LEFT JOIN x AS xk ON {match} WHERE xk.person_id IS NULL"
    selects = []
    seconds = "(epoch_ms(s.t) - epoch_ms(s.t_prev)) / 1000.0"
    if attach:
        # Each group, and everyone (the empty grouping set: grouping() = 1).
        group_col, join = "g.grp", " JOIN people AS g ON g.person_id = s.person_id"
        group_by, is_overall = "GROUPING SETS ((g.grp), ())", "grouping(g.grp) = 1"
    elif grouped:
        group_col, join, group_by, is_overall = "s.grp", "", "s.grp", "FALSE"
    else:
        group_col, join, group_by, is_overall = "NULL::VARCHAR", "", "()", "TRUE"
    # Every output column named: engines that compile this SQL refuse duplicate names.
    stat_names = ["median_s", "p90_s", "p25_s", "p75_s"] + [
        f"bucket{i}" for i in range(len(TIME_BUCKETS))]
    nulls = ", ".join(f"NULL::DOUBLE AS {name}" for name in stat_names)
    for k in range(1, len(parsed) + 1):
        if k == 1 or order == "any":
            stats = nulls
        else:
            stats = ", ".join(
                f"{sql} AS {name}" for sql, name in zip(
                    [f"quantile_cont({seconds}, {q})" for q in (0.5, 0.9, 0.25, 0.75)]
                    + [_bucket(seconds, i) for i in range(len(TIME_BUCKETS))], stat_names))
        selects.append(f"SELECT {k} AS step, {is_overall} AS overall, {group_col} AS grp_value, "
                       f"count(*) AS people, {stats} FROM s{k} AS s{join}{kept} "
                       f"GROUP BY {group_by}")
    if exclusions:
        selects.append(f"SELECT 0 AS step, {is_overall} AS overall, {group_col} AS grp_value, "
                       f"count(*) AS people, {nulls} FROM x AS s{join} GROUP BY {group_by}")
    sql = f"{scope.ctes},\n{step_ctes}\n" + "\nUNION ALL\n".join(selects)
    rows = con.execute(sql, scope.params + step_params).fetchall()

    counts: dict[str, dict[int, tuple]] = {}
    everyone: dict[int, tuple] = {}
    for row in rows:
        into = everyone if row[1] else counts.setdefault(row[2], {})
        into[row[0]] = (row[3], *row[4:])

    def build(per_step: dict[int, tuple]) -> list[FunnelStep]:
        out: list[FunnelStep] = []
        first = per_step.get(1, (0,))[0]
        previous = first
        for k, events in enumerate(parsed, start=1):
            people, *stats = per_step.get(k, (0,)) + (None,) * (4 + len(TIME_BUCKETS))
            median_s, p90_s, p25_s, p75_s = stats[:4]
            histogram = ([[label, int(n or 0)] for (label, _), n in
                          zip(TIME_BUCKETS, stats[4:4 + len(TIME_BUCKETS)])]
                         if k > 1 and order != "any" and people else [])
            out.append(FunnelStep(
                step=k, events=[a.text for a in events], customers=people,
                conversion_from_previous=None if k == 1 else rate(people, previous),
                conversion_from_first=rate(people, first),
                dropped=0 if k == 1 else previous - people,
                median_seconds_from_previous=median_s, p90_seconds_from_previous=p90_s,
                p25_seconds_from_previous=p25_s, p75_seconds_from_previous=p75_s,
                time_histogram=histogram))
            previous = people
        return out

    options = dict(exclude=exclude, step_windows=step_windows, hold=hold, ignore=ignore)
    groups = sorted((FunnelGroup(g, build(c)) for g, c in counts.items() if c.get(1)),
                    key=lambda g: (-g.steps[0].customers, g.group))
    excluded = everyone.get(0, (0,))[0]
    if grouped:
        # A person in several groups counts once overall: an ungrouped run of its own.
        whole = funnel(con, steps, order=order, window=window, filters=filters,
                       catalog=catalog, **options)  # type: ignore[arg-type]
        overall, excluded = whole.steps, whole.excluded or 0
    else:
        overall = build(everyone)
    people: list[str] = []
    if people_at is not None:
        people = _people(con, scope, step_ctes, scope.params + step_params, people_at,
                         people_who, kept)
    biggest = max(overall[1:], key=lambda s: s.dropped) if overall[0].customers else None
    result = FunnelResult(
        steps=overall, order=order, window_seconds=window, by=by, groups=groups,
        biggest_dropoff_step=biggest.step if biggest and biggest.dropped else None,
        filters=filters.describe(),
        definitions=_definitions(order, window, filters, exclusions, step_windows, hold,
                                 ignore),
        exclusions=[x.text for x in exclusions],
        excluded=excluded if exclusions else None,
        step_windows_seconds=list(step_windows or []), hold=hold, ignore=list(ignore or []),
        people_at=people_at, people_who=people_who if people_at else None, people=people)
    result.summary = _summary(result)
    return result


def _bucket(seconds: str, i: int) -> str:
    low = TIME_BUCKETS[i - 1][1] if i else None
    high = TIME_BUCKETS[i][1]
    conds = ([f"{seconds} >= {low}"] if low is not None else []) + (
        [f"{seconds} < {high}"] if high is not None else [])
    return f"sum(CASE WHEN {' AND '.join(conds)} THEN 1 ELSE 0 END)"


def _people(con: Connection, scope, step_ctes: str, params: list, at: int, who: str,
            kept: str) -> list[str]:
    """The ids behind a step's number, in id order: who reached it, or who dropped there."""
    if who == "dropped":
        gone = (f"SELECT s.person_id AS person_id FROM s{at - 1} AS s{kept} "
                f"EXCEPT SELECT person_id FROM s{at}")
        sql = f"{scope.ctes},\n{step_ctes}\nSELECT person_id FROM ({gone}) ORDER BY person_id"
    else:
        sql = (f"{scope.ctes},\n{step_ctes}\nSELECT DISTINCT s.person_id AS person_id "
               f"FROM s{at} AS s{kept} ORDER BY person_id")
    return [r[0] for r in con.execute(sql, params).fetchall()]


def _definitions(order: str, window: int | None, filters: Filters,
                 exclusions: list[Exclusion] | None = None,
                 step_windows: list[int] | None = None, hold: str | None = None,
                 ignore: list[str] | None = None) -> dict[str, str]:
    out = {
        "customers": "distinct people (a customer id, or an anonymous id not linked to one)",
        "step": ("an event, or several separated by '|'; event[property=value] counts only "
                 "events with that property value ('~' contains, '!=' differs)"),
        "attribute": attribute_rule(filters),
        "step 1": "first occurrence of the step's events inside the date range",
        "order": {"strict": "strict: each step at or after the previous one's first "
                            "occurrence (ties count as in order; other events may come between)",
                  "consecutive": "consecutive: each step the person's very next event after "
                                 "the previous step (events at the same time ordered by their "
                                 "event id, then name)" + (f"; these events are skipped as noise: "
                                               f"{', '.join(ignore)}" if ignore else ""),
                  "any": "any: each step done at any time from step 1 within the window"}[order],
        "window": (f"later steps count within {duration(window)} of step 1, even after the date "
                   "range ends" if window else "no conversion window: later steps count whenever "
                   "they happen"),
        "conversion_from_previous": "customers at this step / customers at the previous step",
        "conversion_from_first": "customers at this step / customers at step 1",
        "dropped": "customers at the previous step who did not reach this one",
        "time from previous": "median, 25th, 75th and 90th percentile, and counts by bucket, "
                              "over customers who reached the step",
    }
    if step_windows:
        out["step windows"] = ("each move counts within its own window of the previous step: "
                               + ", ".join(f"{k + 1}->{k + 2} {duration(w)}"
                                           for k, w in enumerate(step_windows)))
    if hold:
        out["held"] = (f"every step done with the same {hold} as the person's first "
                       "occurrence of step 1 (no value counts as a value)")
    if exclusions:
        out["exclusions"] = (
            "a person who does an exclusion event strictly after reaching its first step and "
            "strictly before reaching its last (or, never reaching it, before the window "
            "closes) is removed from the whole funnel, every step's count included (PostHog's "
            "semantics): " + "; ".join(f"{x.text} between steps {x.first} and {x.last}"
                                       for x in exclusions))
    return out


def _summary(result: FunnelResult) -> str:
    steps = result.steps
    if not steps[0].customers:
        return "No one did the first step in this scope."
    last = steps[-1]
    text = (f"{steps[0].customers:,} customers started at {'|'.join(steps[0].events)}; "
            f"{last.customers:,} ({pct(last.conversion_from_first)}) reached "
            f"{'|'.join(last.events)}"
            + (f" within {duration(result.window_seconds)} of the first step."
               if result.window_seconds else "."))
    if result.hold:
        text += f" Every step with the same {result.hold} as the first."
    if result.exclusions:
        text += (f" {result.excluded or 0:,} people were removed by the exclusion steps "
                 f"({', '.join(result.exclusions)}).")
    if result.biggest_dropoff_step:
        s = steps[result.biggest_dropoff_step - 1]
        prev = steps[result.biggest_dropoff_step - 2]
        text += (f" The biggest drop-off is {'|'.join(prev.events)} -> {'|'.join(s.events)}: "
                 f"{s.dropped:,} customers lost ({pct(1 - (s.conversion_from_previous or 0))}).")
    return text
