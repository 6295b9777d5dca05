"""Cohort retention: of the people who started in a week (or month), how many came back later.

A cohort is the period of a customer's signup (customers table), or of their first
`--cohort-event`; a person is retained in period k when they did any event (or the
`--return-event`) in the k-th period after their cohort's. Periods are calendar weeks (Monday)
or months in UTC; the curve averages cohorts weighted by size, using only cohorts old enough to
have reached period k.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from analytics.catalog import Catalog, load_catalog
from analytics.errors import ArgumentError
from analytics.filters import Filters, check_filters, observation_end, scope_sql
from analytics.results import AnalyticResult, pct
from analytics.store.connection import Connection, one

Period = Literal["week", "month"]


@dataclass
class Cohort:
    cohort: datetime
    size: int
    retained: list[int | None]  # by period offset; None where not yet observable
    rates: list[float | None]


@dataclass
class RetentionResult(AnalyticResult):
    period: str = "week"
    cohort_definition: str = ""
    cohorts: list[Cohort] = field(default_factory=list)
    curve: list[float | None] = field(default_factory=list)
    curve_people: list[int] = field(default_factory=list)  # cohort people behind each point

    kind = "retention"

    def figure(self):
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        fig = make_subplots(rows=1, cols=2, subplot_titles=("Cohorts", "Average curve"))
        fig.add_trace(go.Heatmap(
            z=[c.rates for c in self.cohorts], x=list(range(len(self.curve))),
            y=[c.cohort.strftime("%Y-%m-%d") for c in self.cohorts], colorscale="Greens",
            zmin=0, zmax=1, colorbar={"title": "retained"}), row=1, col=1)
        fig.add_trace(go.Scatter(x=list(range(len(self.curve))), y=self.curve,
                                 mode="lines+markers", name="retained"), row=1, col=2)
        fig.update_layout(title=f"Retention by {self.period} since {self.cohort_definition}")
        return fig


def retention(con: Connection, *, period: Period = "week",
              cohort_event: str | None = None, return_event: str | None = None,
              max_periods: int = 26, filters: Filters = Filters(),
              catalog: Catalog | None = None) -> RetentionResult:
    if period not in ("week", "month"):
        raise ArgumentError("period", "must be 'week' or 'month'")
    catalog = catalog or load_catalog(con)
    check_filters(filters, catalog)
    for name in (cohort_event, return_event):
        if name:
            catalog.check_event(name)
    scope = scope_sql(filters)
    params = list(scope.params)
    has_signups = one(con, "SELECT count(*) FROM customers WHERE signup_at IS NOT NULL")[0] > 0
    if cohort_event:
        cohorts_sql = (f"SELECT person_id, date_trunc('{period}', min(ts)) AS cohort FROM ev "
                       "WHERE event_name = ? GROUP BY person_id")
        params.append(cohort_event)
        definition = f"first {cohort_event}"
    elif has_signups:
        cohorts_sql = (f"SELECT c.customer_id AS person_id, date_trunc('{period}', c.signup_at) "
                       "AS cohort FROM customers AS c WHERE c.signup_at IS NOT NULL AND "
                       "c.customer_id IN (SELECT person_id FROM ev)")
        definition = "signup (customers table)"
    else:
        cohorts_sql = (f"SELECT person_id, date_trunc('{period}', min(ts)) AS cohort FROM ev "
                       "GROUP BY person_id")
        definition = "first event"
    activity_filter = ""
    if return_event:
        activity_filter = "AND e.event_name = ?"
        params.append(return_event)
    rows = con.execute(f"""
{scope.ctes},
cohorts AS ({cohorts_sql}),
activity AS (
    SELECT DISTINCT c.person_id AS person_id, c.cohort AS cohort,
           date_diff('{period}', c.cohort, date_trunc('{period}', e.ts)) AS k
    FROM cohorts AS c JOIN ev AS e ON e.person_id = c.person_id
    WHERE e.ts >= c.cohort {activity_filter}
),
sizes AS (SELECT cohort, count(*) AS size FROM cohorts GROUP BY cohort),
counts AS (SELECT cohort, k, count(*) AS active FROM activity WHERE k <= {int(max_periods)}
           GROUP BY cohort, k)
SELECT s.cohort, s.size, c.k, c.active FROM sizes AS s LEFT JOIN counts AS c ON c.cohort = s.cohort
ORDER BY s.cohort, c.k
""", params).fetchall()
    end = observation_end(con, filters)
    last = one(con, f"SELECT date_trunc('{period}', CAST(? AS TIMESTAMPTZ))", [end])[0]
    by_cohort: dict = {}
    for cohort, size, k, active in rows:
        entry = by_cohort.setdefault(cohort, (size, {}))
        if k is not None:
            entry[1][k] = active
    cohorts: list[Cohort] = []
    observed: list[tuple[int, list[int]]] = []  # (size, retained) per cohort, before padding
    width = 0
    for cohort, (size, active) in sorted(by_cohort.items()):
        observable = _periods_between(cohort, last, period)
        n = min(observable, max_periods) + 1
        width = max(width, n)
        retained: list[int] = [active.get(k, 0) for k in range(n)]
        observed.append((size, retained))
        cohorts.append(Cohort(cohort, size, list(retained), [r / size for r in retained]))
    curve, curve_people = [], []
    for k in range(width):
        eligible = [(people_in, counts) for people_in, counts in observed if len(counts) > k]
        people = sum(people_in for people_in, _ in eligible)
        curve.append(sum(counts[k] for _, counts in eligible) / people if people else None)
        curve_people.append(people)
    for c in cohorts:  # pad to a rectangle: None = not observable yet
        c.retained += [None] * (width - len(c.retained))
        c.rates += [None] * (width - len(c.rates))
    result = RetentionResult(
        period=period, cohort_definition=definition, cohorts=cohorts, curve=curve,
        curve_people=curve_people, filters=filters.describe(), definitions={
            "cohort": f"calendar {period} (UTC, weeks start Monday) of each person's {definition}",
            "retained in period k": f"did {'any event' if not return_event else return_event} in "
                                    f"the k-th {period} after the cohort's {period} (k=0 is the "
                                    "cohort's own)",
            "curve": "retained people / cohort people, over cohorts old enough to reach period k",
        })
    if cohorts and len(curve) > 1:
        point = min(4 if period == "week" else 3, len(curve) - 1)
        result.summary = (f"{sum(c.size for c in cohorts):,} people in {len(cohorts)} cohorts. "
                          f"{pct(curve[1])} are active in {period} 1 and {pct(curve[point])} in "
                          f"{period} {point} after their {definition}.")
    else:
        result.summary = "Not enough history in this scope for a retention curve."
    return result


def _periods_between(start: datetime, end: datetime, period: str) -> int:
    if period == "week":
        return max((end - start).days // 7, 0)
    return max((end.year - start.year) * 12 + end.month - start.month, 0)
