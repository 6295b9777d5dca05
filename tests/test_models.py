"""Segments, churn, BG/NBD and next-best-action: toy cases and planted truths."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from analytics.bgnbd import BetaGeometricNBD
from analytics.churn import churn_model
from analytics.errors import JourneyError
from analytics.next_best_action import next_best_actions
from analytics.segments import segments
from analytics.store import EventStore, ingest_files

UTC = UTC


@pytest.fixture(scope="module")
def demo_con(demo_store):
    with demo_store.reader() as con:
        yield con


def test_segments_separate_two_obvious_groups(tmp_path):
    lines = ["customer_id,timestamp,event,device"]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(30):
        lines.append(f"m{i},{(start + timedelta(hours=i)).isoformat()},browse,mobile")
        for j in range(12):
            t = start + timedelta(days=j, hours=i)
            lines.append(f"d{i},{t.isoformat()},report,desktop")
    path = tmp_path / "e.csv"
    path.write_text("\n".join(lines) + "\n")
    store = EventStore(tmp_path / "h")
    ingest_files(store, "events", [path])
    with store.reader() as con:
        r = segments(con, k=2, seed=3)
        again = segments(con, k=2, seed=3)
    assert sorted(s.size for s in r.segments) == [30, 30]
    groups = {}
    for person, seg in r.assignments.items():
        groups.setdefault(seg, set()).add(person[0])
    assert sorted("".join(sorted(v)) for v in groups.values()) == ["d", "m"]
    assert r.assignments == again.assignments  # same seed, same segments
    mobile = next(s for s in r.segments if "mobile" in s.name)
    assert any(d.feature == "device_mobile" and d.standardised_difference > 0.9
               for d in mobile.distinguishing)


def test_segments_find_the_billing_churn_segment(demo_con, demo_manifest):
    r = segments(demo_con, customers_only=True, seed=0)
    assert 3 <= r.k <= 8
    billing = [s for s in r.segments
               if any(d.feature in ("n_payment_failed", "n_billing_page_view")
                      and d.standardised_difference > 1 for d in s.distinguishing[:4])]
    assert billing, [s.name for s in r.segments]
    seg = billing[0]
    others = [s for s in r.segments if s is not seg and s.churn_rate]
    assert seg.churn_rate > max(s.churn_rate for s in others)
    assert "billing" in seg.name and "high churn" in seg.name
    truth = demo_manifest["truths"]["billing_churn_segment"]
    assert seg.churn_rate == pytest.approx(truth["churn_rate"], abs=0.15)


def test_churn_model_beats_chance_on_a_future_holdout(demo_con):
    r = churn_model(demo_con, seed=0)
    h = r.holdout
    assert h.cutoff > max(r.training_cutoffs)  # the holdout is in the future of training
    assert h.roc_auc > 0.58 and h.pr_auc > h.base_rate
    assert h.precision_top_decile > h.base_rate
    assert 0 < h.brier < 0.25
    assert any(d.feature in ("n_payment_failed", "n_billing_page_view", "active_days",
                             "tenure_days") for d in r.drivers[:5])
    opted = {row[0] for row in demo_con.execute(
        "SELECT customer_id FROM customers WHERE opted_out").fetchall()}
    assert not opted & {c.customer_id for c in r.at_risk}
    assert all(0 <= v <= 1 for v in r.scores.values())
    data = r.to_dict()  # per-customer scores stay in-process; the drivers are plain dicts
    assert "scores" not in data and data["drivers"][0]["feature"] == r.drivers[0].feature
    assert data["holdout"]["roc_auc"] == pytest.approx(h.roc_auc)


def test_churn_model_needs_history(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("customer_id,timestamp,event\nc1,2024-01-01,subscription_started\n"
                    "c1,2024-01-02,subscription_cancelled\n")
    store = EventStore(tmp_path / "h")
    ingest_files(store, "events", [path])
    with store.reader() as con, pytest.raises(JourneyError, match="Not enough churn history"):
        churn_model(con)


def _simulate_bgnbd(n, r, alpha, a, b, weeks, seed):
    rng = np.random.default_rng(seed)
    lam, p = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n)
    x, t_x, alive = np.zeros(n), np.zeros(n), np.ones(n, bool)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > weeks:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < p[i]:
                alive[i] = False
                break
    return x, t_x, np.full(n, float(weeks)), alive


def test_bgnbd_recovers_known_parameters():
    x, t_x, t_age, alive = _simulate_bgnbd(3000, 0.6, 4.0, 0.8, 2.5, 52, seed=5)
    model = BetaGeometricNBD().fit(x, t_x, t_age)
    assert model.r_ == pytest.approx(0.6, rel=0.2)
    assert model.alpha_ == pytest.approx(4.0, rel=0.3)
    assert model.a_ == pytest.approx(0.8, rel=0.35)
    assert model.b_ == pytest.approx(2.5, rel=0.4)
    assert model.p_alive(x, t_x, t_age).mean() == pytest.approx(alive.mean(), abs=0.05)


def test_bgnbd_formulas_by_hand():
    model = BetaGeometricNBD()
    model.r_, model.alpha_, model.a_, model.b_ = 1.0, 2.0, 1.5, 3.0
    # No repeat purchase: P(alive) = 1. Two repeats at week 4, age 10:
    # 1 / (1 + a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x)) = 1 / (1 + 0.375 * 2^3)
    assert model.p_alive([0], [0], [10])[0] == 1.0
    assert model.p_alive([2], [4], [10])[0] == pytest.approx(1 / (1 + 0.375 * 8))
    # Likelihood of a customer with no repeats: B(a,b)/B(a,b) * (alpha/(alpha+T))^r = 2/12
    assert np.exp(model.log_likelihood((1.0, 2.0, 1.5, 3.0), np.array([0.0]), np.array([0.0]),
                                       np.array([10.0]))[0]) == pytest.approx(2 / 12)


def test_next_best_action_recommends_the_planted_invite(demo_con, tmp_path):
    r = next_best_actions(demo_con, avoid="subscription_cancelled", min_support=20)
    assert r.direction == "avoid" and r.recommendations
    counts = {}
    for rec in r.recommendations:
        counts[rec.action] = counts.get(rec.action, 0) + 1
        assert rec.expected_change < 0
    assert max(counts, key=counts.get) == "invite_teammate"
    opted = {row[0] for row in demo_con.execute(
        "SELECT customer_id FROM customers WHERE opted_out").fetchall()}
    assert not opted & {rec.customer_id for rec in r.recommendations}
    assert r.excluded_opted_out > 0
    path = r.write_csv(tmp_path / "nba.csv")
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == len(r.recommendations)
    assert rows[0]["customer_id"] == r.recommendations[0].customer_id
    # Steps everyone takes on the way are not actions.
    reach = next_best_actions(demo_con, min_support=20)
    assert {rec.action for rec in reach.recommendations}.isdisjoint(
        {"plan_selected", "checkout_started", "signup", "trial_expired"})


def test_p_alive_measures_ages_to_the_end_of_the_window(tmp_path):
    """A calibration window: customers' ages end where the window ends. A store that also
    holds later purchases gives exactly the fit of a store cut at the window's end."""
    import random
    from datetime import date, datetime, timedelta

    from analytics.bgnbd import p_alive
    from analytics.filters import Filters
    from analytics.store import EventStore, ingest_files

    rng = random.Random(5)
    start, cut = datetime(2024, 1, 1), datetime(2024, 6, 30, 23, 0)
    rows = []
    for person in range(60):
        day = start + timedelta(days=rng.randint(0, 60))
        while day < datetime(2024, 12, 31):
            rows.append((f"c{person}", day.isoformat() + "Z"))
            day += timedelta(days=rng.randint(5, 90) * (1 + person % 3))
    header = "customer_id,timestamp,event\n"
    before = [r for r in rows if r[1] < cut.isoformat()]
    assert len(before) < len(rows)  # the full store has purchases after the window
    for name, chosen in (("full", rows), ("cut", before)):
        (tmp_path / f"{name}.csv").write_text(
            header + "".join(f"{c},{t},purchase\n" for c, t in chosen))
    fits = {}
    for name in ("full", "cut"):
        store = EventStore(tmp_path / name)
        ingest_files(store, "events", [tmp_path / f"{name}.csv"])
        with store.reader() as con:
            fits[name] = p_alive(con, "purchase", filters=Filters(end=date(2024, 6, 30)))
    assert fits["full"].params == pytest.approx(fits["cut"].params, rel=1e-9)
    assert fits["full"].scores == pytest.approx(fits["cut"].scores, rel=1e-9)
