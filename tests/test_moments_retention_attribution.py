"""Moments, retention, attribution and anomalies: hand-computed cases."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from scipy import stats

from analytics.anomalies import anomalies
from analytics.attribution import attribution, markov_removal_effects
from analytics.moments import _benjamini_hochberg, _compare, moments
from analytics.retention import retention
from analytics.store import EventStore, ingest_files
from tests.analytics_fixtures import attribution_store, tiny_store

UTC = UTC


def test_two_group_comparison_by_hand():
    m = _compare("x", "event", did=100, did_out=30, population=300, outcomes=50)
    assert (m.outcome_rate_did, m.outcome_rate_did_not) == (0.3, 0.1)
    assert m.lift == pytest.approx(3.0) and m.difference == pytest.approx(0.2)
    se = math.sqrt(0.3 * 0.7 / 100 + 0.1 * 0.9 / 200)
    assert (m.ci_low, m.ci_high) == (pytest.approx(0.2 - 1.96 * se), pytest.approx(0.2 + 1.96 * se))
    pooled = 50 / 300
    z = 0.2 / math.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 200))
    assert m.p_value == pytest.approx(2 * stats.norm.sf(z))
    everyone = _compare("y", "event", did=300, did_out=50, population=300, outcomes=50)
    assert everyone.lift is None and everyone.p_value is None


def test_benjamini_hochberg_by_hand():
    ms = [_compare(str(i), "event", 10, 1, 100, 10) for i in range(3)]
    for m, p in zip(ms, [0.01, 0.04, 0.03]):
        m.p_value = p
    _benjamini_hochberg(ms)
    assert [m.q_value for m in ms] == [pytest.approx(0.03), pytest.approx(0.04),
                                       pytest.approx(0.04)]


def test_moments_on_the_tiny_log(tmp_path):
    store = tiny_store(tmp_path)
    with store.reader() as con:
        r = moments(con, "paid", min_support=1)
    assert (r.population, r.outcomes) == (7, 2)
    # Both payers viewed and signed up first: steps on the way, not moments.
    assert r.prerequisites == ["signup", "view"]
    assert r.tested == 1  # pricing (pairs need two candidate events)
    assert r.positive == [] and r.negative == []  # 7 people prove nothing (q >= 0.05)
    assert "Correlation, not cause" in r.summary


def test_retention_cohorts_by_hand(tmp_path):
    customers = tmp_path / "c.csv"
    customers.write_text("customer_id,signup_at\nc1,2024-01-01\nc2,2024-01-03\nc3,2024-01-08\n")
    events = tmp_path / "e.csv"
    events.write_text("customer_id,timestamp,event\n"
                      "c1,2024-01-01,use\nc1,2024-01-09,use\nc1,2024-01-10,use\nc1,2024-01-23,use\n"
                      "c2,2024-01-04,use\n"
                      "c3,2024-01-08,use\nc3,2024-01-16,use\n"
                      "c2,2024-01-29,other\n")
    store = EventStore(tmp_path / "h")
    ingest_files(store, "customers", [customers])
    ingest_files(store, "events", [events])
    with store.reader() as con:
        r = retention(con, period="week", return_event="use")
    assert [c.cohort.date().isoformat() for c in r.cohorts] == ["2024-01-01", "2024-01-08"]
    assert r.cohorts[0].retained == [2, 1, 0, 1, 0]
    assert r.cohorts[1].retained == [1, 1, 0, 0, None]  # week 4 not observable yet
    assert r.curve == [pytest.approx(1.0), pytest.approx(2 / 3), 0.0, pytest.approx(1 / 3), 0.0]
    assert r.curve_people == [3, 3, 3, 3, 2]


def test_markov_removal_effect_by_hand():
    # start -> a (1/2), start -> b (1/2); a -> conversion (1/2) or null; b -> a (1/2) or null.
    p, effects = markov_removal_effects({("start", "a"): 2, ("start", "b"): 2,
                                         ("a", "conversion"): 1, ("a", "null"): 1,
                                         ("b", "a"): 1, ("b", "null"): 1})
    assert p == pytest.approx(0.375)
    assert effects == {"a": pytest.approx(1.0), "b": pytest.approx(1 / 3)}


def test_attribution_models_by_hand(tmp_path):
    store = attribution_store(tmp_path)
    with store.reader() as con:
        r = attribution(con, "purchase", model="markov")
    by = {c.channel: c.by_model for c in r.channels}
    assert by["email"]["first"] == 1 and by["paid_search"]["first"] == 1
    assert by["email"]["last"] == 0 and by["paid_search"]["last"] == 2
    assert by["email"]["linear"] == pytest.approx(0.5)
    assert by["paid_search"]["linear"] == pytest.approx(1.5)
    assert by["email"]["position"] == pytest.approx(0.5)
    # P(convert) = 1/2; without email 1/3 (effect 1/3); without paid search 0 (effect 1).
    assert r.markov_conversion_probability == pytest.approx(0.5)
    assert r.removal_effects == {"email": pytest.approx(1 / 3), "paid_search": pytest.approx(1.0)}
    assert by["email"]["markov"] == pytest.approx(0.5)
    assert by["paid_search"]["markov"] == pytest.approx(1.5)
    assert r.conversions == 2 and r.channels[0].channel == "paid_search"
    assert {c.channel: c.people_reached for c in r.channels} == {"email": 3, "paid_search": 3}
    # Per 1,000 reached: paid search 1.5 / 3 -> 500.0, email 0.5 / 3 -> 166.7 (the one to cut).
    assert "paid_search is the most effective (500.0 per 1,000" in r.summary
    assert "the least is email (166.7 per 1,000)" in r.summary


def test_anomaly_flags_only_the_broken_week(tmp_path):
    lines = ["customer_id,timestamp,event"]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for week in range(12):
        for i in range(100):
            person = f"w{week}p{i}"
            t = start + timedelta(weeks=week, hours=i)
            lines.append(f"{person},{t.isoformat()},visit")
            converts = i < (5 if week == 9 else 40)
            if converts:
                lines.append(f"{person},{(t + timedelta(hours=5)).isoformat()},buy")
    lines.append(f"end,{(start + timedelta(weeks=14)).isoformat()},visit")
    path = tmp_path / "weekly.csv"
    path.write_text("\n".join(lines) + "\n")
    store = EventStore(tmp_path / "h")
    ingest_files(store, "events", [path])
    with store.reader() as con:
        r = anomalies(con, steps=["visit", "buy"], window_days=2)
    step = [f for f in r.flagged if f["metric"] == "visit -> buy"]
    assert [(f["week"].date().isoformat(), f["rate"]) for f in step] == [("2024-03-04", 0.05)]
    assert step[0]["baseline"] == pytest.approx(0.4)
    weeks = r.series[0].weeks
    assert weeks[0].baseline is None  # no history yet
    assert all(not w.flagged for w in weeks if w.week.date().isoformat() != "2024-03-04")
    # One change, one week long; buying per active person fell in the same week.
    change = r.changes[0]
    assert (change.metric, change.start.date().isoformat(), change.last_day.date().isoformat()
            ) == ("visit -> buy", "2024-03-04", "2024-03-10")
    assert change.size == pytest.approx((0.05 - 0.4) * 100)
    assert change.co_moving == ["buy fell from 40.0% to 5.0% of active people"]
    # Fisher's exact p of 5/100 against 320/800, corrected over every test made.
    from scipy.stats import fisher_exact

    raw = fisher_exact([[5, 95], [320, 480]])[1]
    assert step[0]["p_adjusted"] >= raw and r.tests >= 14
    assert "Benjamini-Hochberg" in r.definitions["test"]


def _full_and_cut_stores(tmp_path, rows, cut):
    """Two stores of (customer, time, event) rows: all of them, and those up to `cut`."""
    from analytics.store import EventStore, ingest_files

    assert any(r[1] > cut for r in rows)  # the full store holds data after the range
    stores = {}
    for name, chosen in (("full", rows), ("cut", [r for r in rows if r[1] <= cut])):
        path = tmp_path / f"{name}.csv"
        path.write_text("customer_id,timestamp,event\n" + "".join(
            f"{c},{t.isoformat()}Z,{e}\n" for c, t, e in chosen))
        stores[name] = EventStore(tmp_path / name)
        ingest_files(stores[name], "events", [path])
    return stores


def test_a_date_range_ends_observation_for_retention_and_weekly_rates(tmp_path):
    """A store holding data after --until answers exactly as a store cut at its end: no cohort
    looks more retained, no week looks complete, because of what happened later."""
    import random
    from datetime import date, datetime, timedelta

    from analytics.anomalies import anomalies
    from analytics.filters import Filters
    from analytics.retention import retention

    rng = random.Random(11)
    rows = []
    for person in range(400):
        day = datetime(2024, 1, 1) + timedelta(days=rng.randint(0, 150), hours=rng.randint(0, 23))
        rows.append((f"p{person}", day, "visit"))
        if rng.random() < 0.5:
            rows.append((f"p{person}", day + timedelta(hours=2), "signup"))
            for k in range(rng.randint(0, 6)):
                rows.append((f"p{person}", day + timedelta(days=7 * (k + 1)), "use"))
    cut = datetime(2024, 4, 30, 23, 59)
    until = Filters(end=date(2024, 4, 30))
    results = {}
    for name, store in _full_and_cut_stores(tmp_path, rows, cut).items():
        with store.reader() as con:
            kept = retention(con, cohort_event="signup", return_event="use", filters=until)
            weekly = anomalies(con, steps=["visit", "signup"], min_people=5, filters=until)
        results[name] = (
            [(c.cohort, c.size, c.retained) for c in kept.cohorts], kept.curve,
            [[(w.week, w.people, w.converted, w.complete) for w in s.weeks] for s in weekly.series],
            weekly.flagged)
    assert results["full"] == results["cut"]


def test_a_date_range_ends_observation_for_the_churn_model(tmp_path):
    """Churn's cutoffs, labels and scoring date come from the range's end, not the store's."""
    import random
    from datetime import date, datetime, timedelta

    from analytics.churn import churn_model
    from analytics.filters import Filters

    rng = random.Random(3)
    rows = []
    for person in range(300):
        day = datetime(2024, 1, 1) + timedelta(days=rng.randint(0, 90))
        for _ in range(rng.randint(1, 30)):
            rows.append((f"p{person}", day, rng.choice(["use", "report", "invite"])))
            day += timedelta(days=rng.expovariate(1 / (3 + person % 10)))
    cut = datetime(2024, 5, 31, 23, 59)
    results = {}
    for name, store in _full_and_cut_stores(tmp_path, rows, cut).items():
        with store.reader() as con:
            model = churn_model(con, inactive_days=14, horizon_days=14,
                                filters=Filters(end=date(2024, 5, 31)))
        results[name] = (model.scored_at, model.training_cutoffs, model.training_rows,
                         model.scores)
    assert results["full"][0] == results["cut"][0] and results["full"][0] <= cut.astimezone()
    assert results["full"][1:3] == results["cut"][1:3]
    assert results["full"][3] == pytest.approx(results["cut"][3])
