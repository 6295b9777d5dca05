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
from analytics.filters import Filters, attribute_rule, check_filters, date_bounds, scope_sql
from analytics.results import AnalyticResult, duration, pct, rate
from analytics.store.connection import Connection

Order = Literal["strict", "any"]


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

    kind = "funnel"

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
              start, end, grouped: bool) -> tuple[str, list]:
    """CTEs s1..sN: one row per person who reached the step, with the step's time; grouped,
    one per person and group (a person may be in several groups: see scope_sql)."""
    params: list = []
    ctes = []
    grp = ", grp AS grp" if grouped else ""
    keys = "person_id, grp" if grouped else "person_id"
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
    ctes.append(f"s1 AS (SELECT person_id, min(ts) AS t, min(ts) AS t1{grp} FROM ev "
                f"WHERE {where} GROUP BY {keys})")
    for k, step in enumerate(steps[1:], start=2):
        condition, step_params = step_sql(step, "e")
        params.extend(step_params)
        # Strict: at or after the previous step. Any order: anywhere after step 1.
        after = "e.ts >= p.t" if order == "strict" else "e.ts >= p.t1"
        window_cond = f" AND e.ts <= p.t1 + INTERVAL {int(window)} SECOND" if window else ""
        grp_col = ", p.grp AS grp" if grouped else ""
        same_group = " AND e.grp = p.grp" if grouped else ""
        group_keys = "p.person_id, p.grp" if grouped else "p.person_id"
        time_expr = "min(e.ts)"
        ctes.append(
            f"s{k} AS (SELECT p.person_id, {time_expr} AS t, any_value(p.t1) AS t1, "
            f"any_value(p.t) AS t_prev{grp_col} FROM s{k - 1} AS p JOIN ev AS e "
            f"ON e.person_id = p.person_id{same_group} AND {condition} AND {after}"
            f"{window_cond} GROUP BY {group_keys})")
    return ",\n".join(ctes), params


def funnel(con: Connection, steps: list[str], *, order: Order = "strict",
           window: int | None = None, by: str | None = None,
           filters: Filters = Filters(), catalog: Catalog | None = None) -> FunnelResult:
    if order not in ("strict", "any"):
        raise ArgumentError("order", "must be 'strict' or 'any'")
    catalog = catalog or load_catalog(con)
    parsed = parse_steps(steps, catalog)
    check_filters(filters, catalog)
    if by is not None:
        catalog.check_attribute(by)
    scope = scope_sql(filters, group_by=by, date_range=False, several_groups=True)
    start, end = date_bounds(filters)
    step_ctes, step_params = _step_sql(parsed, order, window, start, end, by is not None)
    group_col = "grp" if by else "'all'"
    selects = []
    for k in range(1, len(parsed) + 1):
        if k == 1 or order == "any":
            stats = "NULL::DOUBLE AS median_s, NULL::DOUBLE AS p90_s"
        else:
            stats = ("quantile_cont(epoch_ms(t) - epoch_ms(t_prev), 0.5) / 1000.0 AS median_s, "
                     "quantile_cont(epoch_ms(t) - epoch_ms(t_prev), 0.9) / 1000.0 AS p90_s")
        selects.append(f"SELECT {k} AS step, {group_col} AS grp_value, count(*) AS people, "
                       f"{stats} FROM s{k} GROUP BY grp_value")
    sql = f"{scope.ctes},\n{step_ctes}\n" + "\nUNION ALL\n".join(selects)
    rows = con.execute(sql, scope.params + step_params).fetchall()

    counts: dict[str, dict[int, tuple]] = {}
    for step, grp_value, people, median_s, p90_s in rows:
        counts.setdefault(grp_value, {})[step] = (people, median_s, p90_s)
    if by is None:
        counts.setdefault("all", {})

    def build(per_step: dict[int, tuple]) -> list[FunnelStep]:
        out: list[FunnelStep] = []
        first = per_step.get(1, (0, None, None))[0]
        previous = first
        for k, events in enumerate(parsed, start=1):
            people, median_s, p90_s = per_step.get(k, (0, None, None))
            out.append(FunnelStep(
                step=k, events=[a.text for a in events], customers=people,
                conversion_from_previous=None if k == 1 else rate(people, previous),
                conversion_from_first=rate(people, first),
                dropped=0 if k == 1 else previous - people,
                median_seconds_from_previous=median_s, p90_seconds_from_previous=p90_s))
            previous = people
        return out

    if by is None:
        overall = build(counts["all"])
        groups: list[FunnelGroup] = []
    else:
        groups = sorted((FunnelGroup(g, build(c)) for g, c in counts.items()),
                        key=lambda g: -g.steps[0].customers)
        # The overall funnel (with its own time statistics) comes from an ungrouped run; its
        # counts equal the groups' sums when every person is in one group (the first rule;
        # under the any rule a person counts in each group of a value they had).
        overall = funnel(con, steps, order=order, window=window, filters=filters,
                         catalog=catalog).steps
    biggest = max(overall[1:], key=lambda s: s.dropped) if overall[0].customers else None
    result = FunnelResult(
        steps=overall, order=order, window_seconds=window, by=by, groups=groups,
        biggest_dropoff_step=biggest.step if biggest and biggest.dropped else None,
        filters=filters.describe(), definitions=_definitions(order, window, filters))
    result.summary = _summary(result)
    return result


def _definitions(order: str, window: int | None, filters: Filters) -> dict[str, str]:
    return {
        "customers": "distinct people (a customer id, or an anonymous id not linked to one)",
        "step": ("an event, or several separated by '|'; event[property=value] counts only "
                 "events with that property value ('~' contains, '!=' differs)"),
        "attribute": attribute_rule(filters),
        "step 1": "first occurrence of the step's events inside the date range",
        "order": ("strict: each step at or after the previous one's first occurrence (ties count "
                  "as in order)" if order == "strict" else
                  "any: each step done at any time from step 1 within the window"),
        "window": (f"later steps count within {duration(window)} of step 1, even after the date "
                   "range ends" if window else "no conversion window: later steps count whenever "
                   "they happen"),
        "conversion_from_previous": "customers at this step / customers at the previous step",
        "conversion_from_first": "customers at this step / customers at step 1",
        "dropped": "customers at the previous step who did not reach this one",
        "time from previous": "median and 90th percentile, over customers who reached the step",
    }


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
    if result.biggest_dropoff_step:
        s = steps[result.biggest_dropoff_step - 1]
        prev = steps[result.biggest_dropoff_step - 2]
        text += (f" The biggest drop-off is {'|'.join(prev.events)} -> {'|'.join(s.events)}: "
                 f"{s.dropped:,} customers lost ({pct(1 - (s.conversion_from_previous or 0))}).")
    return text
