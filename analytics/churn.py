"""Churn risk: a supervised model with an honest, time-based holdout.

Labels come from a churn event (a cancellation) or, without one, an inactivity rule (no events
for N days). For a cutoff date T, the features are what each customer did before T and the label
is whether they churned in the horizon after T; customers who had already churned by T are left
out. The model trains on earlier cutoffs and is scored on the last cutoff whose horizon has fully
elapsed, so the holdout is in the future of everything it learned from. Gradient boosting gives
the ranking; calibration (isotonic, or sigmoid on small data) makes the probabilities mean what
they say. Drivers are permutation importances on the holdout (what the model relies on, which is
association, not cause).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from analytics.catalog import Catalog, load_catalog
from analytics.errors import ArgumentError, JourneyError
from analytics.features import model_matrix, person_features
from analytics.filters import Filters, check_filters, observation_end
from analytics.paths import default_conversion_event
from analytics.results import AnalyticResult, pct
from analytics.store.connection import Connection

# Known only after the fact (lifetime revenue grows after the cutoff), so never a feature.
LEAKY_FEATURES = ("revenue",)

# (description, done, total) -> None; total 0 when unknown. A face shows it, or nothing does.
Progress = Callable[[str, int, int], None]


@dataclass
class HoldoutMetrics:
    cutoff: datetime
    customers: int
    churned: int
    base_rate: float
    roc_auc: float | None
    pr_auc: float | None
    brier: float
    precision_top_decile: float
    lift_top_decile: float | None


@dataclass
class Driver:
    feature: str
    importance: float  # drop in holdout ROC AUC when the feature is shuffled
    direction: str  # "higher -> more risk" or "higher -> less risk"


@dataclass
class CustomerRisk:
    customer_id: str
    risk: float
    last_event: str | None
    recency_days: float


@dataclass
class ChurnResult(AnalyticResult):
    churn_definition: str = ""
    horizon_days: int = 30
    training_cutoffs: list[datetime] = field(default_factory=list)
    training_rows: int = 0
    holdout: HoldoutMetrics | None = None
    drivers: list[Driver] = field(default_factory=list)
    scored_at: datetime | None = None
    at_risk: list[CustomerRisk] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict, repr=False)

    internal = ("scores",)  # one entry per person: too big for an answer
    kind = "churn"


    def figure(self):
        import plotly.graph_objects as go

        fig = go.Figure(go.Bar(x=[d.importance for d in self.drivers],
                               y=[f"{d.feature} ({d.direction})" for d in self.drivers],
                               orientation="h"))
        fig.update_layout(title="What the churn model relies on (holdout AUC drop)",
                          yaxis={"autorange": "reversed"})
        return fig


def _no_progress(description: str, done: int, total: int) -> None:
    pass


def _label_frame(con, cutoff: datetime, horizon: timedelta, churn_event: str | None,
                 inactive_days: int | None, among: str | None) -> pd.DataFrame:
    """Customers eligible at `cutoff` and whether they churned within the horizon."""
    started = ("SELECT person_id, min(ts) AS t FROM journey_events WHERE event_name = ? "
               "GROUP BY person_id") if among else (
        "SELECT person_id, min(ts) AS t FROM journey_events GROUP BY person_id")
    params: list = [among] if among else []
    if churn_event:
        sql = f"""
WITH started AS ({started}),
churns AS (SELECT person_id, min(ts) AS t FROM journey_events WHERE event_name = ?
           GROUP BY person_id)
SELECT s.person_id AS person_id,
       CASE WHEN c.t >= ? AND c.t < ? THEN 1 ELSE 0 END AS label
FROM started AS s LEFT JOIN churns AS c ON c.person_id = s.person_id
WHERE s.t < ? AND (c.t IS NULL OR c.t >= ?)
  AND s.person_id IN (SELECT customer_id FROM customers UNION
                      SELECT customer_id FROM events WHERE customer_id IS NOT NULL)
"""
        params += [churn_event, cutoff, cutoff + horizon, cutoff, cutoff]
    else:
        assert inactive_days is not None  # churn_model sets it whenever there is no churn_event
        gap = timedelta(days=inactive_days)
        sql = f"""
WITH started AS ({started}),
before AS (SELECT person_id, max(ts) AS last FROM journey_events WHERE ts < ?
           GROUP BY person_id),
after AS (SELECT DISTINCT person_id FROM journey_events WHERE ts >= ? AND ts < ?)
SELECT s.person_id AS person_id, CASE WHEN a.person_id IS NULL THEN 1 ELSE 0 END AS label
FROM started AS s JOIN before AS b ON b.person_id = s.person_id
LEFT JOIN after AS a ON a.person_id = s.person_id
WHERE s.t < ? AND b.last >= ? AND s.person_id NOT LIKE 'anon:%'
"""
        params += [cutoff, cutoff, cutoff + gap, cutoff, cutoff - gap]
    return con.execute(sql, params).df().set_index("person_id")


def _snapshot(con, cutoff, horizon, churn_event, inactive_days, among, filters, events):
    labels = _label_frame(con, cutoff, horizon, churn_event, inactive_days, among)
    table = person_features(con, filters=filters, as_of=cutoff, customers_only=True,
                            events=events)
    table.numeric = [c for c in table.numeric if c not in LEAKY_FEATURES]
    joined = table.frame.join(labels, how="inner")
    return table, joined


def _matrix(table, frame, columns: list[str]) -> np.ndarray:
    sub = type(table)(frame=frame.reindex(columns=list(frame.columns) + [
        c for c in columns if c not in frame.columns], fill_value=0.0),
        numeric=table.numeric, categorical=[c for c in columns if c not in table.numeric],
        as_of=table.as_of)
    values, names = model_matrix(sub)
    order = [names.index(c) for c in columns]
    return values[:, order]


def _model(n_rows: int, seed: int) -> CalibratedClassifierCV:
    booster = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.08,
                                             max_leaf_nodes=31, l2_regularization=1.0,
                                             random_state=seed)
    return CalibratedClassifierCV(booster, method="isotonic" if n_rows >= 2000 else "sigmoid",
                                  cv=3)


def churn_model(con: Connection, *, churn_event: str | None = None,
                inactive_days: int | None = None, among: str | None = None,
                horizon_days: int = 30, training_snapshots: int = 3, seed: int = 0,
                top: int = 20, filters: Filters = Filters(),
                catalog: Catalog | None = None,
                progress: Progress | None = None) -> ChurnResult:
    catalog = catalog or load_catalog(con)
    check_filters(filters, catalog)
    if not churn_event and inactive_days is None:  # an empty churn_event means none given
        from analytics.journey_model import journey_model

        # The journey model's churn event (a cancellation done after converting), else silence.
        churn_event = journey_model(con).churn_event
        if not churn_event:
            inactive_days = 30
    if churn_event:
        catalog.check_event(churn_event)
        among = among or default_conversion_event(con)
        definition = (f"{churn_event} within {horizon_days} days after the cutoff, among "
                      f"customers who did {among} before it and had not churned yet")
    else:
        assert inactive_days is not None  # set just above when neither was given
        if inactive_days < 1:
            raise ArgumentError("inactive_days", "must be at least 1")
        horizon_days = inactive_days
        definition = (f"no events for {inactive_days} days after the cutoff, among customers "
                      f"active in the {inactive_days} days before it")
    if among:
        catalog.check_event(among)
    horizon = timedelta(days=horizon_days)
    data_end = observation_end(con, filters)
    test_cutoff = data_end - horizon
    cutoffs = [test_cutoff - horizon * i for i in range(training_snapshots, 0, -1)]
    from analytics.features import top_events

    events = top_events(con)
    # One count for the whole fit (each snapshot, the fit, the drivers, the final fit, the
    # scores), so a long run shows how far it is; the drivers' permutations take longest.
    report, steps, done = progress or _no_progress, len(cutoffs) + 5, 0

    def step(description: str) -> None:
        nonlocal done
        report(description, done, steps)
        done += 1

    train_parts = []
    table = None
    for cutoff in cutoffs:
        step(f"Churn model: what customers had done by {cutoff:%Y-%m-%d}")
        table, frame = _snapshot(con, cutoff, horizon, churn_event, inactive_days, among,
                                 filters, events)
        train_parts.append(frame)
    train = pd.concat(train_parts)
    step(f"Churn model: what customers had done by {test_cutoff:%Y-%m-%d} (holdout)")
    test_table, test = _snapshot(con, test_cutoff, horizon, churn_event, inactive_days, among,
                                 filters, events)
    assert table is not None  # with no training cutoff, pd.concat above has already raised
    columns = test_table.numeric + sorted(set(test_table.categorical) | set(table.categorical))
    if train["label"].nunique() < 2 or test["label"].nunique() < 2 or len(train) < 50:
        raise JourneyError(
            f"Not enough churn history to train on ({len(train)} customer snapshots, "
            f"{int(train['label'].sum())} churned). Load more history, use a shorter "
            "horizon, or define churn as a number of days without events.")
    x_train, y_train = _matrix(table, train, columns), train["label"].to_numpy()
    x_test, y_test = _matrix(test_table, test, columns), test["label"].to_numpy()
    step(f"Churn model: training on {len(train):,} customer snapshots")
    model = _model(len(train), seed).fit(x_train, y_train)
    p_test = model.predict_proba(x_test)[:, 1]
    decile = max(1, len(p_test) // 10)
    top_idx = np.argsort(-p_test, kind="stable")[:decile]
    precision_top = float(y_test[top_idx].mean())
    base = float(y_test.mean())
    holdout = HoldoutMetrics(
        cutoff=test_cutoff, customers=len(y_test), churned=int(y_test.sum()), base_rate=base,
        roc_auc=float(roc_auc_score(y_test, p_test)),
        pr_auc=float(average_precision_score(y_test, p_test)),
        brier=float(brier_score_loss(y_test, p_test)), precision_top_decile=precision_top,
        lift_top_decile=precision_top / base if base else None)
    step("Churn model: measuring what drives churn")
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(y_test), size=min(len(y_test), 4000), replace=False)
    importance = permutation_importance(model, x_test[sample], y_test[sample], scoring="roc_auc",
                                        n_repeats=3, random_state=seed)
    drivers = []
    for i in np.argsort(-importance.importances_mean)[:8]:
        if importance.importances_mean[i] <= 0:
            continue
        corr = np.corrcoef(x_test[:, i], p_test)[0, 1] if x_test[:, i].std() > 0 else 0.0
        drivers.append(Driver(columns[i], float(importance.importances_mean[i]),
                              "higher -> more risk" if corr > 0 else "higher -> less risk"))
    # Final model on every labelled snapshot, scoring customers as of the end of the data.
    step("Churn model: training on every snapshot")
    final = _model(len(train) + len(test), seed).fit(
        np.vstack([x_train, x_test]), np.concatenate([y_train, y_test]))
    now = data_end + timedelta(seconds=1)
    step("Churn model: scoring customers as of the latest data")
    now_table, now_frame = _snapshot(con, now, horizon, churn_event, inactive_days, among,
                                     filters, events)
    scores: dict[str, float] = {}
    at_risk: list[CustomerRisk] = []
    if len(now_frame):
        p_now = final.predict_proba(_matrix(now_table, now_frame, columns))[:, 1]
        now_frame = now_frame.assign(risk=p_now)
        scores = {str(k): float(v) for k, v in now_frame["risk"].items()}
        # Opted-out customers are scored (for analysis) but never listed for outreach.
        listed = now_frame[~now_frame["opted_out"].astype(bool)].sort_values(
            ["risk", "recency_days"], ascending=[False, True]).head(top)
        at_risk = [CustomerRisk(str(i), float(r.risk), r.last_event, float(r.recency_days))
                   for i, r in listed.iterrows()]
    step("Churn model: done")
    result = ChurnResult(
        churn_definition=definition, horizon_days=horizon_days, training_cutoffs=cutoffs,
        training_rows=len(train), holdout=holdout, drivers=drivers, scored_at=now,
        at_risk=at_risk, scores=scores, filters=filters.describe(), definitions={
            "label": definition,
            "features": "behaviour before each cutoff (event and stage counts, recency, tenure, "
                        "tickets, first device and channel); lifetime revenue excluded (leaks)",
            "holdout": f"customers at the last cutoff whose {horizon_days}-day horizon has fully "
                       "elapsed; trained only on earlier cutoffs",
            "precision_top_decile": "share of the 10% highest-risk holdout customers who churned",
            "drivers": "drop in holdout ROC AUC when the feature is shuffled (association, not "
                       "cause)",
            "at_risk": "highest current risk, opted-out customers left out",
        })
    result.summary = (
        f"Churn = {definition}. On the holdout ({holdout.customers:,} customers at "
        f"{test_cutoff:%Y-%m-%d}, {pct(base)} churned): ROC AUC {holdout.roc_auc:.2f}, PR AUC "
        f"{holdout.pr_auc:.2f}, Brier {holdout.brier:.3f}; the top 10% by risk churned at "
        f"{pct(precision_top)}" + (f" ({holdout.lift_top_decile:.1f}x the base rate)"
                                   if holdout.lift_top_decile else "") + ".")
    if drivers:
        result.summary += " Main drivers: " + ", ".join(
            f"{d.feature} ({d.direction})" for d in drivers[:3]) + "."
    return result
