"""Funnel, paths, transitions and next steps on a log small enough to count by hand."""

from __future__ import annotations

from datetime import date

import pytest

from analytics.errors import JourneyError, UnknownNameError
from analytics.filters import Filters
from analytics.funnel import funnel
from analytics.paths import END, OTHER, START, next_steps, top_paths, transitions
from tests.analytics_fixtures import tiny_store


@pytest.fixture
def con(tmp_path):
    store = tiny_store(tmp_path)
    with store.reader() as connection:
        yield connection


def counts(result):
    return [s.customers for s in result.steps]


def test_strict_funnel_counts_times_and_dropoffs(con):
    r = funnel(con, ["view", "pricing", "signup"])
    assert counts(r) == [7, 4, 2]  # p4 priced before viewing; p7 signed up before pricing
    assert [s.dropped for s in r.steps] == [0, 3, 2]
    assert r.steps[1].conversion_from_previous == pytest.approx(4 / 7)
    assert r.steps[2].conversion_from_first == pytest.approx(2 / 7)
    # view -> pricing: 60, 30, 0 (tie counts as in order) and 50 minutes.
    assert r.steps[1].median_seconds_from_previous == pytest.approx(40 * 60)
    assert r.steps[1].p90_seconds_from_previous == pytest.approx(57 * 60)
    assert r.steps[2].median_seconds_from_previous == pytest.approx(45 * 60)
    assert r.biggest_dropoff_step == 2
    assert "biggest drop-off is view -> pricing: 3 customers lost" in r.summary


def test_any_order_window_and_alternatives(con):
    assert counts(funnel(con, ["view", "pricing", "signup"], order="any")) == [7, 4, 3]
    assert counts(funnel(con, ["view", "pricing", "signup"], window=45 * 60)) == [7, 2, 1]
    assert counts(funnel(con, ["view", "pricing|signup"])) == [7, 6]


def test_breakdown_sums_to_the_total(con):
    r = funnel(con, ["view", "pricing", "signup"], by="device")
    by_group = {g.group: counts(g) for g in r.groups}
    assert by_group == {"desktop": [6, 4, 2], "mobile": [1, 0, 0]}
    assert counts(r) == [7, 4, 2]


def test_date_range_applies_to_the_first_step(con):
    r = funnel(con, ["view", "pricing", "signup"], filters=Filters(start=date(2024, 1, 3)))
    assert counts(r) == [5, 2, 1]
    assert "date_range" in r.filters
    r = funnel(con, ["view", "paid"], filters=Filters(end=date(2024, 1, 1)))
    # p1 viewed on Jan 1 and paid on Jan 2: the window, not the date range, bounds later steps.
    assert counts(r) == [1, 1]


def test_empty_and_wrong_names(con):
    r = funnel(con, ["paid", "view"], filters=Filters(device=("mobile",)))
    assert counts(r) == [0, 0] and r.summary.startswith("No one")
    with pytest.raises(UnknownNameError) as info:
        funnel(con, ["veiw", "pricing"])
    assert info.value.suggestions[0] == "view"
    with pytest.raises(JourneyError, match="at least two steps"):
        funnel(con, ["view"])
    with pytest.raises(UnknownNameError):
        funnel(con, ["view", "pricing"], by="favourite_colour")


def test_paths_shares_add_up_and_other_is_shown(con):
    r = top_paths(con, top=2, conversion_event="paid")
    assert [(p.path, p.customers) for p in r.paths] == [
        ("pricing > view > signup", 1), ("view", 1), (OTHER, 5)]
    assert sum(p.share for p in r.paths) == pytest.approx(1.0)
    assert r.paths[-1].converted == 2 and r.total_customers == 7


def test_paths_from_to_and_collapse(con):
    r = top_paths(con, to_event="signup", conversion_event="paid")
    assert [(p.path, p.customers, p.converted) for p in r.paths] == [
        ("view > pricing > signup", 2, 1), ("view > signup", 2, 1),
        ("pricing > view > signup", 1, 0)]
    r = top_paths(con, from_event="pricing", conversion_event="paid")
    assert {p.path for p in r.paths} == {"pricing > signup > paid", "pricing > pricing",
                                        "pricing > view > signup", "pricing > signup", "pricing"}
    collapsed = top_paths(con, collapse_repeats=True, conversion_event="paid")
    assert "view > pricing" in {p.path for p in collapsed.paths}
    truncated = top_paths(con, max_steps=2, conversion_event="paid")
    assert ("view > pricing > ...", 3) in {(p.path, p.customers) for p in truncated.paths}


def test_transition_matrix(con):
    r = transitions(con)
    m = r.matrix()
    assert m[START] == {"view": pytest.approx(6 / 7), "pricing": pytest.approx(1 / 7)}
    assert m["view"] == {"pricing": pytest.approx(3 / 7), "signup": pytest.approx(3 / 7),
                         END: pytest.approx(1 / 7)}
    assert m["pricing"] == {"signup": pytest.approx(2 / 6), "pricing": pytest.approx(1 / 6),
                            END: pytest.approx(2 / 6), "view": pytest.approx(1 / 6)}
    for row in m.values():
        assert sum(row.values()) == pytest.approx(1.0)
    people = {(t.source, t.target): t.customers for t in r.transitions}
    assert people[("pricing", "pricing")] == 1


def test_next_steps(con):
    r = next_steps(con, ["view", "pricing"])
    assert [(n.event, n.occurrences) for n in r.next_steps] == [("signup", 2), ("pricing", 1)]
    assert r.next_steps[0].probability == pytest.approx(2 / 3)
    assert next_steps(con, ["paid", "view"]).next_steps == []


def test_charts_are_built_from_the_numbers(con):
    fig = funnel(con, ["view", "pricing", "signup"]).figure()
    assert list(fig.data[0].x) == [7, 4, 2]
    sankey = top_paths(con, conversion_event="paid").figure()
    assert sum(sankey.data[0].link.value) > 0
    heat = transitions(con).figure()
    assert heat.data[0].type == "heatmap"
