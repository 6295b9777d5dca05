"""P(alive) and expected purchases for non-subscription businesses: the BG/NBD model.

Fader, Hardie and Lee (2005), "Counting your customers the easy way". Each customer buys at a
Poisson rate drawn from Gamma(r, alpha) and, after each purchase, becomes inactive with a
probability drawn from Beta(a, b). The four parameters are fitted by maximum likelihood on each
customer's (x, t_x, T): repeat purchases, time of the last one and age, all in weeks since the
first purchase. Purchases on the same day count once, as is customary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

from analytics.catalog import Catalog, load_catalog
from analytics.errors import JourneyError
from analytics.filters import Filters, check_filters, scope_sql
from analytics.results import AnalyticResult, pct
from analytics.store.connection import Connection

# (description, done, total) -> None; total 0 when unknown. A face shows it, or nothing does.
Progress = Callable[[str, int, int], None]


def _no_progress(description: str, done: int, total: int) -> None:
    pass


class BetaGeometricNBD:
    """Estimator in the scikit-learn style: `fit` learns r_, alpha_, a_, b_."""

    def __init__(self, penalty: float = 0.0) -> None:
        self.penalty = penalty

    @staticmethod
    def log_likelihood(params, x, t_x, t_age) -> np.ndarray:
        r, alpha, a, b = params
        ln_a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        ln_a2 = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + t_age)
        with np.errstate(divide="ignore", invalid="ignore"):
            ln_a3 = np.where(
                x > 0,
                betaln(a + 1, b + np.maximum(x, 1) - 1) - betaln(a, b)
                - (r + x) * np.log(alpha + t_x),
                -np.inf)
        return ln_a1 + np.logaddexp(ln_a2, ln_a3)

    STARTS = ((0.0, 0.0, 0.0, 0.0), (-1.0, 1.0, -0.5, 0.5))  # the better fit of the two wins

    def fit(self, x, t_x, t_age, progress: Progress | None = None) -> BetaGeometricNBD:
        report = progress or _no_progress
        x, t_x, t_age = (np.asarray(v, dtype=float) for v in (x, t_x, t_age))

        def objective(log_params):
            params = np.exp(log_params)
            return -(self.log_likelihood(params, x, t_x, t_age).sum()
                     - self.penalty * (params ** 2).sum())

        best = None
        for tried, start in enumerate(self.STARTS):
            report(f"Fitting the purchase model to {len(x):,} customers", tried, len(self.STARTS))
            res = minimize(objective, np.array(start), method="Nelder-Mead",
                           options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-8})
            if best is None or res.fun < best.fun:
                best = res
        report(f"Fitting the purchase model to {len(x):,} customers", len(self.STARTS),
               len(self.STARTS))
        assert best is not None  # the loop above always runs
        self.r_, self.alpha_, self.a_, self.b_ = np.exp(best.x)
        self.log_likelihood_ = -best.fun
        self.converged_ = bool(best.success)
        return self

    def p_alive(self, x, t_x, t_age) -> np.ndarray:
        x, t_x, t_age = (np.asarray(v, dtype=float) for v in (x, t_x, t_age))
        r, alpha, a, b = self.r_, self.alpha_, self.a_, self.b_
        ratio = (a / (b + np.maximum(x, 1) - 1)) * ((alpha + t_age) / (alpha + t_x)) ** (r + x)
        return np.where(x > 0, 1.0 / (1.0 + ratio), 1.0)

    def expected_purchases(self, t, x, t_x, t_age) -> np.ndarray:
        """Expected repeat purchases in the next t weeks for each customer."""
        x, t_x, t_age = (np.asarray(v, dtype=float) for v in (x, t_x, t_age))
        r, alpha, a, b = self.r_, self.alpha_, self.a_, self.b_
        head = (a + b + x - 1) / (a - 1)
        hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + t_age + t))
        body = 1 - ((alpha + t_age) / (alpha + t_age + t)) ** (r + x) * hyp
        alive_term = np.where(
            x > 0, (a / (b + np.maximum(x, 1) - 1)) * ((alpha + t_age) / (alpha + t_x)) ** (r + x),
            0.0)
        return head * body / (1 + alive_term)


@dataclass
class CustomerValue:
    customer_id: str
    repeat_purchases: int
    weeks_since_last: float
    p_alive: float
    expected_purchases: float


@dataclass
class PAliveResult(AnalyticResult):
    purchase_event: str = ""
    customers: int = 0
    params: dict[str, float] = field(default_factory=dict)
    horizon_weeks: float = 12.0
    mean_p_alive: float | None = None
    expected_purchases_total: float | None = None
    least_alive: list[CustomerValue] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict, repr=False)

    internal = ("scores",)  # one entry per person: too big for an answer
    kind = "p_alive"


    def figure(self):
        import plotly.graph_objects as go

        fig = go.Figure(go.Histogram(x=list(self.scores.values()), nbinsx=20))
        fig.update_layout(title="P(alive) across customers", xaxis_title="P(alive)",
                          yaxis_title="customers")
        return fig


def p_alive(con: Connection, purchase_event: str, *, horizon_weeks: float = 12,
            top: int = 20, filters: Filters = Filters(), catalog: Catalog | None = None,
            progress: Progress | None = None) -> PAliveResult:
    report = progress or _no_progress
    catalog = catalog or load_catalog(con)
    catalog.check_event(purchase_event)
    check_filters(filters, catalog)
    scope = scope_sql(filters)
    report(f"Reading every {purchase_event}", 0, 0)
    # Ages are measured to the end of the window asked about (a calibration period), not to
    # the last event the store holds: data after --until must not make customers look older.
    end_day = ("CAST(? AS DATE)" if filters.end else
               "(SELECT CAST(max(ts) AS DATE) FROM events)")
    end_params = [filters.end] if filters.end else []
    rows = con.execute(f"""
{scope.ctes},
days AS (SELECT DISTINCT person_id, CAST(ts AS DATE) AS day FROM ev
         WHERE event_name = ? AND customer_id IS NOT NULL),
per AS (SELECT person_id, count(*) - 1 AS x, min(day) AS first_day, max(day) AS last_day
        FROM days GROUP BY person_id),
horizon AS (SELECT {end_day} AS end_day)
SELECT p.person_id, p.x, date_diff('day', p.first_day, p.last_day) / 7.0 AS t_x,
       date_diff('day', p.first_day, h.end_day) / 7.0 AS t_age,
       COALESCE(c.opted_out, FALSE) AS opted_out
FROM per AS p CROSS JOIN horizon AS h LEFT JOIN customers AS c ON c.customer_id = p.person_id
ORDER BY p.person_id
""", scope.params + [purchase_event] + end_params).fetchall()
    if len(rows) < 20:
        raise JourneyError(f"Only {len(rows)} customers did {purchase_event}: too few to fit "
                           "a purchase model")
    ids = [r[0] for r in rows]
    x = np.array([r[1] for r in rows], dtype=float)
    t_x = np.array([r[2] for r in rows], dtype=float)
    t_age = np.maximum(np.array([r[3] for r in rows], dtype=float), 1 / 7)
    if x.sum() == 0:
        raise JourneyError(f"No customer did {purchase_event} on two different days: P(alive) "
                           "needs repeat purchases")
    model = BetaGeometricNBD().fit(x, t_x, t_age, progress=report)
    report(f"Scoring {len(ids):,} customers", 0, 0)
    alive = model.p_alive(x, t_x, t_age)
    expected = model.expected_purchases(horizon_weeks, x, t_x, t_age)
    values = [CustomerValue(i, int(xi), float(ta - tx), float(pa), float(e))
              for i, xi, tx, ta, pa, e in zip(ids, x, t_x, t_age, alive, expected)]
    opted_out = {r[0] for r in rows if r[4]}
    # Customers who bought more than once and now look gone: the ones worth winning back.
    at_risk = sorted((v for v in values if v.repeat_purchases > 0 and
                      v.customer_id not in opted_out),
                     key=lambda v: (v.p_alive, -v.repeat_purchases))[:top]
    result = PAliveResult(
        purchase_event=purchase_event, customers=len(values),
        params={"r": model.r_, "alpha": model.alpha_, "a": model.a_, "b": model.b_},
        horizon_weeks=horizon_weeks, mean_p_alive=float(alive.mean()),
        expected_purchases_total=float(expected.sum()), least_alive=at_risk,
        scores={v.customer_id: v.p_alive for v in values}, filters=filters.describe(),
        definitions={
            "model": "BG/NBD (Fader, Hardie & Lee 2005), maximum likelihood",
            "repeat purchases": f"distinct days with {purchase_event}, minus the first",
            "p_alive": "probability the customer has not silently stopped buying",
            "expected_purchases": f"expected repeat purchases in the next {horizon_weeks:g} weeks",
            "least_alive": "repeat buyers with the lowest P(alive); opted-out customers left out",
        })
    result.summary = (f"{len(values):,} customers bought ({purchase_event}). Average P(alive) "
                      f"{pct(result.mean_p_alive)}; about {result.expected_purchases_total:,.0f} "
                      f"repeat purchases expected in the next {horizon_weeks:g} weeks.")
    return result
