"""How many people did an event, when, in which groups, and who they are.

The direct answer to "how many new subscriptions did we get last month?", "who churned last
quarter?", "cancellations by month": people (distinct) and times the event happened in the
scope's period, by calendar week or month, optionally by group, with the most recent people who
did it (opted-out customers are never listed, only counted). An event that carries a
revenue-like property ("price", "amount", "revenue") is also summed, so "how much revenue did
subscriptions bring?" is answered from the events' own amounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from analytics.catalog import Catalog, load_catalog
from analytics.errors import ArgumentError
from analytics.filters import Filters, check_filters, scope_sql
from analytics.journey_names import REVENUE_KEYS
from analytics.results import AnalyticResult, pct
from analytics.store.connection import Connection, one

Interval = Literal["week", "month"]


@dataclass
class PeriodCount:
    period: datetime
    people: int
    times: int
    value: float | None = None  # the summed revenue-like property, where the event has one


@dataclass
class GroupCount:
    group: str
    people: int
    of_group: int  # people in scope in that group
    share: float | None


@dataclass
class PersonDid:
    customer_id: str
    first: datetime
    last: datetime
    times: int


@dataclass
class EventCountsResult(AnalyticResult):
    event: str = ""
    people: int = 0
    times: int = 0
    people_in_scope: int = 0
    interval: str = "month"
    periods: list[PeriodCount] = field(default_factory=list)
    by: str | None = None
    groups: list[GroupCount] = field(default_factory=list)
    recent: list[PersonDid] = field(default_factory=list)
    excluded_opted_out: int = 0
    value_key: str | None = None  # the revenue-like property summed ("price")
    value_total: float | None = None
    currency: str | None = None  # where the events name one currency only

    kind = "event_counts"

    def figure(self):
        import plotly.graph_objects as go

        if self.groups:
            fig = go.Figure(go.Bar(x=[g.group for g in self.groups],
                                   y=[g.share for g in self.groups], name="share"))
            fig.update_layout(title=f"Share who did {self.event} by {self.by}",
                              yaxis_tickformat=".0%")
            return fig
        fig = go.Figure(go.Bar(x=[p.period for p in self.periods],
                               y=[p.people for p in self.periods], name="people"))
        fig.update_layout(title=f"People who did {self.event} by {self.interval}")
        return fig


def event_counts(con: Connection, event: str, *, interval: Interval = "month",
                 by: str | None = None, people_listed: int = 10, filters: Filters = Filters(),
                 catalog: Catalog | None = None) -> EventCountsResult:
    if interval not in ("week", "month"):
        raise ArgumentError("interval", "must be 'week' or 'month'")
    if people_listed < 0:
        raise ArgumentError("people_listed", "must be 0 or more")
    catalog = catalog or load_catalog(con)
    check_filters(filters, catalog)
    catalog.check_event(event)
    if by is not None:
        catalog.check_attribute(by)
    scope = scope_sql(filters, group_by=by)
    base = scope.ctes
    people, times = one(con, f"{base} SELECT count(DISTINCT person_id), count(*) FROM ev "
                             "WHERE event_name = ?", [*scope.params, event])
    in_scope = one(con, f"{base} SELECT count(DISTINCT person_id) FROM ev", scope.params)[0]
    periods = [PeriodCount(p, n, t) for p, n, t in con.execute(
        f"{base} SELECT date_trunc('{interval}', ts) AS p, count(DISTINCT person_id), count(*) "
        "FROM ev WHERE event_name = ? GROUP BY p ORDER BY p", [*scope.params, event]).fetchall()]
    key = _value_key(con, event)
    value_total, currency = None, None
    if key:
        amount = f"TRY_CAST(json_extract_string(properties, '$.\"{key}\"') AS DOUBLE)"
        value_total = one(con, f"{base} SELECT round(sum({amount}), 2) FROM ev "
                               "WHERE event_name = ?", [*scope.params, event])[0]
        by_period = dict(con.execute(
            f"{base} SELECT date_trunc('{interval}', ts) AS p, round(sum({amount}), 2) FROM ev "
            "WHERE event_name = ? GROUP BY p", [*scope.params, event]).fetchall())
        for p in periods:
            p.value = by_period.get(p.period)
        currencies = [r[0] for r in con.execute(
            f"{base} SELECT DISTINCT json_extract_string(properties, '$.currency') FROM ev "
            "WHERE event_name = ? LIMIT 3", [*scope.params, event]).fetchall() if r[0]]
        currency = currencies[0] if len(currencies) == 1 else None
    groups: list[GroupCount] = []
    if by is not None:
        rows = con.execute(
            f"{base} SELECT grp, count(DISTINCT person_id) FILTER (WHERE event_name = ?), "
            "count(DISTINCT person_id) FROM ev GROUP BY grp", [*scope.params, event]).fetchall()
        groups = sorted((GroupCount(g, n, total, n / total if total else None)
                         for g, n, total in rows), key=lambda g: (-(g.share or 0), g.group))
    opted = one(con, f"{base} SELECT count(DISTINCT e.person_id) FROM ev AS e JOIN customers "
                     "AS c ON c.customer_id = e.person_id WHERE e.event_name = ? AND "
                     "c.opted_out", [*scope.params, event])[0]
    recent = [PersonDid(*row) for row in con.execute(
        f"{base} SELECT e.person_id, min(e.ts), max(e.ts), count(*) FROM ev AS e "
        "LEFT JOIN customers AS c ON c.customer_id = e.person_id WHERE e.event_name = ? AND "
        "NOT COALESCE(c.opted_out, FALSE) GROUP BY e.person_id ORDER BY max(e.ts) DESC, "
        "e.person_id LIMIT ?", [*scope.params, event, people_listed]).fetchall()]
    return EventCountsResult(
        event=event, people=people, times=times, people_in_scope=in_scope, interval=interval,
        periods=periods, by=by, groups=groups, recent=recent, excluded_opted_out=opted,
        value_key=key, value_total=value_total, currency=currency, filters=filters.describe(),
        summary=_summary(event, people, times, in_scope, groups, by, recent, opted)
        + _value_said(event, key, value_total, currency),
        definitions={"people": f"distinct people who did {event} in scope (and period)",
                     "times": f"every {event} event in scope",
                     "periods": f"calendar {interval}s (UTC) of the event",
                     "recent": "the people who did it most recently; opted-out customers are "
                               "never listed",
                     "value_total": f"the sum of {event}'s {key} property in scope"
                                    if key else "no revenue-like property on this event"})


def _value_key(con: Connection, event: str) -> str | None:
    """The first revenue-like property (in REVENUE_KEYS' order) that holds a number on at
    least one of the event's rows."""
    keys = {r[0] for r in con.execute(
        "SELECT DISTINCT unnest(json_keys(properties)) FROM events WHERE event_name = ? AND "
        "json_type(properties) = 'OBJECT'", [event]).fetchall()}
    for key in REVENUE_KEYS:
        if key in keys and '"' not in key and "'" not in key and con.execute(
                f"SELECT 1 FROM events WHERE event_name = ? AND TRY_CAST(json_extract_string("
                f"properties, '$.\"{key}\"') AS DOUBLE) IS NOT NULL LIMIT 1",
                [event]).fetchone():
            return key
    return None


def _value_said(event: str, key: str | None, total: float | None, currency: str | None) -> str:
    if not key or total is None:
        return ""
    return (f" The {key} on these {event} events adds up to {total:,.2f}"
            + (f" {currency}" if currency else "") + ".")



def _summary(event: str, people: int, times: int, in_scope: int, groups: list[GroupCount],
             by: str | None, recent: list[PersonDid], opted: int) -> str:
    if not people:
        return f"No one did {event} in this scope ({in_scope:,} people in it)."
    text = (f"{people:,} people did {event} ({times:,} times), {pct(people / in_scope)} of the "
            f"{in_scope:,} people in scope.")
    rated = [g for g in groups if g.of_group >= 10]
    if len(rated) >= 2:
        text += (f" By {by}: " + ", ".join(f"{g.group} {pct(g.share)} ({g.people:,} of "
                                           f"{g.of_group:,})" for g in rated[:6]) + ".")
    if recent:
        # Every listed person up to 20 (a list asked for is read whole), most recent first.
        shown = recent[:20]
        more = people - opted - len(shown)
        text += (" Most recent: " + ", ".join(
            f"{p.customer_id} ({p.last:%Y-%m-%d})" for p in shown)
            + (f", and {more:,} more." if more > 0 else "."))
    if opted and recent:
        text += (f" {opted:,} opted-out customer{'s are' if opted != 1 else ' is'} counted but "
                 "not listed.")
    return text
