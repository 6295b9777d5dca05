"""Funnel options on a log small enough to count by hand: exclusion steps (ranged, filtered by
a property), a window per move (ending exactly on a boundary), a property held constant, the
consecutive order with noise ignored, time to convert by bucket, and the people behind a step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analytics.errors import ArgumentError, UnknownNameError
from analytics.funnel import funnel
from tests.analytics_fixtures import store_from_lines

# person: [(minutes after the person's day, event, device, plan)]
LOG = {
    "q1": [(0, "view"), (10, "cart"), (20, "buy")],
    "q2": [(0, "view"), (10, "cart"), (15, "support", "desktop", "pro"), (20, "buy")],
    "q3": [(0, "view"), (5, "support", "desktop", "pro"), (10, "cart"), (30, "buy")],
    "q4": [(0, "view", "mobile"), (10, "cart"), (20, "buy")],  # changes device after step 1
    "q5": [(0, "view"), (0, "cart"), (2 * 1440, "buy")],  # a tie; buys two days later
    "q6": [(0, "view"), (5, "noise"), (10, "cart"), (15, "buy")],
    "q7": [(0, "view"), (10, "cart"), (20, "cart"), (30, "buy")],  # repeats a step
    "q8": [(0, "view"), (60, "cart"), (120, "buy")],  # cart exactly one hour after view
    "q9": [(0, "view"), (61, "cart")],
    "q10": [(0, "view"), (5, "support", "desktop", "trial"), (10, "cart")],
    "q11": [(0, "view"), (100, "support", "desktop", "pro")],  # never reaches cart
    "q12": [(0, "view"), (10, "cart"), (20, "buy", "mobile")],
}
STEPS = ["view", "cart", "buy"]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    folder = tmp_path_factory.mktemp("options")
    lines = ["event_id,customer_id,timestamp,event_name,device,plan"]
    base = datetime(2024, 3, 1, tzinfo=UTC)
    for n, (person, events) in enumerate(LOG.items()):
        day = base + timedelta(days=n)
        for k, (minutes, event, *rest) in enumerate(events, start=1):
            device = rest[0] if rest else "desktop"
            plan = rest[1] if len(rest) > 1 else ""
            ts = (day + timedelta(minutes=minutes)).isoformat()
            lines.append(f"{person}-{k},{person},{ts},{event},{device},{plan}")
    with store_from_lines(folder, lines).reader() as connection:
        yield connection


def counts(result):
    return [s.customers for s in result.steps]


def test_the_plain_strict_funnel_of_the_log(con):
    # cart: all but q11; buy: q9 and q10 never buy.
    assert counts(funnel(con, STEPS)) == [12, 11, 9]


def test_exclusion_steps_remove_people_from_the_whole_funnel(con):
    # support between view and buy (or after view, never buying): q2, q3, q10, q11.
    r = funnel(con, STEPS, exclude=["support"])
    assert counts(r) == [8, 8, 7] and r.excluded == 4
    assert "4 people were removed by the exclusion steps (support)" in r.summary
    assert "removed from the whole funnel" in r.definitions["exclusions"]
    # Only between view and cart: q2's support came after its cart.
    r = funnel(con, STEPS, exclude=["support@1-2"])
    assert counts(r) == [9, 9, 8] and r.excluded == 3
    # Filtered by a property: only q10's support was on the trial plan.
    r = funnel(con, STEPS, exclude=["support[plan=trial]"])
    assert counts(r) == [11, 10, 9] and r.excluded == 1
    # A window closes the exclusion for those who never reach the step: q11's support came
    # 100 minutes after its view, outside a one-hour window.
    r = funnel(con, STEPS, exclude=["support@1-2"], window=3600)
    assert r.excluded == 2  # q3 and q10


def test_a_window_per_move_counts_the_boundary_in(con):
    # view -> cart within 1 h (q8 at exactly 60 min counts, q9 at 61 does not), cart -> buy
    # within 1 day (q5 buys two days later).
    r = funnel(con, STEPS, step_windows=[3600, 86400])
    assert counts(r) == [12, 10, 8]
    assert "1->2 60 min, 2->3 24.0 h" in r.definitions["step windows"]


def test_holding_a_property_constant(con):
    # q4 viewed on mobile and carted on desktop; q12 bought on mobile after desktop steps.
    r = funnel(con, STEPS, hold="device")
    assert counts(r) == [12, 10, 7]
    assert "same device" in r.summary
    by = funnel(con, STEPS, hold="device", by="device")
    assert {g.group: counts(g) for g in by.groups} == {"desktop": [11, 10, 7], "mobile": [1, 0, 0]}


def test_consecutive_order_and_ignored_noise(con):
    # The very next event: q2 (support), q3 (support), q6 (noise), q7 (cart again), q10 fall.
    assert counts(funnel(con, STEPS, order="consecutive")) == [12, 8, 5]
    assert counts(funnel(con, STEPS, order="consecutive", ignore=["noise"])) == [12, 9, 6]
    both = funnel(con, STEPS, order="consecutive", ignore=["noise", "support"])
    assert counts(both) == [12, 11, 8]
    assert "skipped as noise: noise, support" in both.definitions["order"]
    with pytest.raises(ArgumentError, match="consecutive"):
        funnel(con, STEPS, ignore=["noise"])


def test_time_to_convert_by_bucket_and_percentiles(con):
    step = funnel(con, STEPS).steps[1]
    # view -> cart minutes: 0 (q5), 10 (eight people), 60 (q8), 61 (q9).
    assert step.median_seconds_from_previous == 600
    assert step.p25_seconds_from_previous == 600 and step.p75_seconds_from_previous == 600
    # Buckets are [low, high): ten minutes exactly is in 10-60 min, one hour in 1-24 h.
    assert dict(step.time_histogram) == {"< 1 min": 1, "1-10 min": 0, "10-60 min": 8,
                                         "1-24 h": 2, "1-7 days": 0, "7-30 days": 0,
                                         "30+ days": 0}
    assert funnel(con, STEPS).steps[0].time_histogram == []


def test_the_people_behind_a_step(con, tmp_path):
    assert funnel(con, STEPS, people_at=2, people_who="dropped").people == ["q11"]
    assert funnel(con, STEPS, people_at=3, people_who="dropped").people == ["q10", "q9"]
    reached = funnel(con, STEPS, people_at=3, exclude=["support"])
    assert reached.people == ["q1", "q12", "q4", "q5", "q6", "q7", "q8"]
    reached.write_csv(str(tmp_path / "people.csv"))
    assert (tmp_path / "people.csv").read_text().splitlines()[:2] == ["person_id", "q1"]


def test_bad_options_say_what_to_change(con):
    with pytest.raises(ArgumentError, match="one window per move"):
        funnel(con, STEPS, step_windows=[3600])
    with pytest.raises(ArgumentError, match="two of 1-3"):
        funnel(con, STEPS, exclude=["support@2-2"])
    with pytest.raises(UnknownNameError):
        funnel(con, STEPS, exclude=["suport"])
    with pytest.raises(ArgumentError, match="from 2 to 3"):
        funnel(con, STEPS, people_at=1, people_who="dropped")
    with pytest.raises(ArgumentError, match="order"):
        funnel(con, STEPS, order="any", step_windows=[60, 60])
