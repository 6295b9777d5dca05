"""What changed: day by day on dense data, concentration, co-moving events, and no flukes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from analytics.anomalies import anomalies
from analytics.change_drivers import decompose
from analytics.change_tests import benjamini_hochberg
from analytics.store import EventStore, ingest_files

T0 = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday


def _load(tmp_path, rows: list[tuple], name: str) -> EventStore:
    path = tmp_path / f"{name}.csv"
    path.write_text("user_id,event_time,event,platform\n" + "".join(
        f"{p},{t.isoformat()},{e},{d}\n" for p, t, e, d in rows))
    store = EventStore(tmp_path / name)
    ingest_files(store, "events", [path])
    return store


def test_a_three_day_incident_on_one_platform_is_found_day_by_day(tmp_path):
    rng = random.Random(5)
    rows = []
    broken = range(40, 43)  # days 40..42: iOS payments fail
    for day in range(63):
        for i in range(200):
            person, platform = f"d{day}p{i}", ("iOS" if i % 2 else "Web")
            t = T0 + timedelta(days=day, minutes=3 * i)
            rows.append((person, t, "Basket Opened", platform))
            failing = day in broken and platform == "iOS"
            if rng.random() < (0.05 if failing else 0.4):
                rows.append((person, t + timedelta(minutes=5), "Order Placed", platform))
            if failing and rng.random() < 0.7:
                rows.append((person, t + timedelta(minutes=2), "Card Declined", platform))
    store = _load(tmp_path, rows, "daily")
    with store.reader() as con:
        r = anomalies(con, steps=["Basket Opened", "Order Placed"], window_days=1)
    assert r.grain == "day"  # 200 people a day: dense enough to watch days
    change = r.changes[0]
    assert (change.metric, change.start.date(), change.last_day.date()) == (
        "Basket Opened -> Order Placed", (T0 + timedelta(days=40)).date(),
        (T0 + timedelta(days=42)).date())
    top = change.concentrated_in[0]
    assert (top.dimension, top.value) == ("device", "iOS")  # the platform column, as loaded
    assert top.rate_during == pytest.approx(0.05, abs=0.04)
    assert top.share_of_change > 0.9
    assert change.co_moving[0].startswith("Card Declined rose")
    assert len([c for c in r.changes if c.kind == "step"]) == 1
    # Steps written as a funnel writes them: alternatives and property conditions.
    with store.reader() as con:
        either = anomalies(con, steps=["Basket Opened", "Order Placed|Card Declined"],
                           window_days=1, watch_events=False)
    assert either.series[0].metric == "Basket Opened -> Order Placed|Card Declined"
    # A decline counts as going on here: on the broken days, more "went on", not fewer.
    assert either.changes[0].direction == "rose"


def test_stationary_data_flags_nothing_across_many_metrics(tmp_path):
    """Twenty weeks of small weekly counts and a dozen events, nothing planted, ten times over:
    every period of every metric is tested (hundreds of tests a store), and the correction
    keeps the chance of any fluke at all near the false discovery rate (5%): one store of ten
    with a flagged change is already more than expected."""
    with_flukes = []
    for seed in range(10):
        rng = random.Random(seed)
        rows = []
        for week in range(20):
            for i in range(40):
                person = f"w{week}p{i}"
                t = T0 + timedelta(weeks=week, hours=4 * i)
                rows.append((person, t, "Visit", "Web"))
                if rng.random() < 0.3:
                    rows.append((person, t + timedelta(hours=1), "Signup", "Web"))
                for k in range(12):
                    if rng.random() < 0.1 + 0.05 * k:
                        rows.append((person, t + timedelta(minutes=5 + k), f"Action {k}", "Web"))
        store = _load(tmp_path, rows, f"flat{seed}")
        with store.reader() as con:
            r = anomalies(con, steps=["Visit", "Signup"], window_days=2)
        assert r.tests > 200
        if r.changes:
            with_flukes.append((seed, [(c.metric, c.start.date()) for c in r.changes]))
    assert len(with_flukes) <= 1, with_flukes


def test_benjamini_hochberg_by_hand():
    # m = 4: p*m/rank = 0.04, 0.04, 0.0533, 0.8, made monotone from the top down.
    assert benjamini_hochberg([0.01, 0.02, 0.04, 0.8]) == pytest.approx(
        [0.04, 0.04, 0.05333333, 0.8])


def test_decomposition_by_hand():
    # Baseline: A 50/100 converted, B 50/100. Window: A 10/100, B 50/100. Overall 0.5 -> 0.3;
    # A's own change, weighted by its share now (0.5 * -0.4 = -0.2), is the whole change.
    rows = [("device", "A", 0, 100, 50), ("device", "B", 0, 100, 50),
            ("device", "A", 1, 100, 10), ("device", "B", 1, 100, 50)]
    top = decompose(rows)[0]
    assert (top.value, top.share_of_people, top.share_of_change) == ("A", 0.5, pytest.approx(1))
    assert top.concentration == pytest.approx(0.5)
    # Both halved: in proportion, concentrated nowhere.
    rows = [("device", "A", 0, 100, 60), ("device", "B", 0, 100, 20),
            ("device", "A", 1, 100, 30), ("device", "B", 1, 100, 10)]
    assert decompose(rows) == []
