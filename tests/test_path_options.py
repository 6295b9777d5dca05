"""Paths around an anchor, of the people who dropped at a funnel step, and per session: every
figure counted by hand on a tiny log."""

from __future__ import annotations

import pytest

from analytics.errors import ArgumentError
from analytics.paths import top_paths
from tests.analytics_fixtures import store_from_lines

# person: (minute, event, event id) on 2024-05-01 from 10:00 UTC.
LOG = {
    "p1": [(0, "a", 1), (1, "b", 2), (2, "b", 3), (5, "c", 4), (60, "d", 5)],
    "p2": [(0, "a", 1), (10, "c", 2)],
    "p3": [(0, "b", 1), (1, "c", 2), (2, "d", 3)],
    "p4": [(0, "a", 1), (3, "c", 2), (4, "e", 3), (6, "f", 4)],
    # c and x at the same minute; x's id comes first, so x is before c in the journey.
    "p5": [(0, "a", 1), (5, "x", 2), (5, "c", 3), (7, "e", 4)],
}


def _store(folder, log, extra_header="", extra=None):
    lines = ["event_id,customer_id,timestamp,event_name" + extra_header]
    for person, events in log.items():
        for minute, event, n in events:
            hour, minute = divmod(minute, 60)
            cell = f",{extra[(person, n)]}" if extra else ""
            lines.append(f"{person}-{n},{person},2024-05-01T{10 + hour:02d}:{minute:02d}:00Z,"
                         f"{event}{cell}")
    return store_from_lines(folder, lines)


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    with _store(tmp_path_factory.mktemp("paths"), LOG).reader() as connection:
        yield connection


def counts(result) -> dict[str, int]:
    return {p.path: p.customers for p in result.paths}


def test_paths_before_an_event_show_its_last_steps(con):
    result = top_paths(con, before_event="c", max_steps=2, conversion_event="d")
    # p1 a b b c, p2 a c, p3 b c, p4 a c, p5 a x c: the last two steps up to c.
    assert counts(result) == {"... > b > c": 1, "a > c": 2, "b > c": 1, "... > x > c": 1}
    assert result.total_customers == 5
    converted = {p.path: p.converted for p in result.paths}
    assert converted == {"... > b > c": 1, "a > c": 0, "b > c": 1, "... > x > c": 0}
    assert "did c" in result.summary and "leading to it" in result.summary
    collapsed = top_paths(con, before_event="c", max_steps=3, collapse_repeats=True,
                          conversion_event="d")
    assert counts(collapsed)["a > b > c"] == 1  # p1's b b is one step


def test_a_time_limit_before_the_anchor_includes_its_boundary(con):
    five = top_paths(con, before_event="c", within=5 * 60, max_steps=6, conversion_event="d")
    # p1's c at 10:05: a at 10:00 is exactly 5 minutes before, kept. p2's a is 10 minutes
    # before its c, cut: p2's path is c alone. p5: a at 10:00, x and c at 10:05.
    assert counts(five) == {"a > b > b > c": 1, "c": 1, "b > c": 1, "a > c": 1,
                            "a > x > c": 1}
    four = top_paths(con, before_event="c", within=4 * 60, collapse_repeats=True,
                     conversion_event="d")
    # p1 keeps b b c (10:01 on), collapsed to b c, like p3's.
    assert counts(four)["b > c"] == 2


def test_a_time_limit_after_the_anchor(con):
    result = top_paths(con, from_event="a", within=2 * 60, conversion_event="d")
    # p1: a b b (10:02 is exactly 2 minutes after); p2, p4, p5: a alone.
    assert counts(result) == {"a": 3, "a > b > b": 1}
    assert "in the 2 min after it" in result.summary
    assert "within 2 min of it" in result.definitions["path"]


def test_the_paths_of_those_who_dropped_at_a_funnel_step(con):
    result = top_paths(con, funnel_steps=["a", "c", "d"], dropped_at=3, conversion_event="f")
    # Reached c and never d afterwards: p2, p4, p5 (p1 went on to d; p3 never did a). Their
    # paths start at the c that was their step 2; p5's x at the same minute comes before it.
    assert counts(result) == {"c": 1, "c > e > f": 1, "c > e": 1}
    assert {p.path: p.converted for p in result.paths} == {"c": 0, "c > e > f": 1, "c > e": 0}
    assert result.summary.startswith("3 people reached c and did not go on to d.")
    at_two = top_paths(con, funnel_steps=["a", "b", "c"], dropped_at=2, conversion_event="f")
    # Did a and never b after it: p2, p4, p5 too (p1 did b). Their paths start at a.
    assert counts(at_two) == {"a > c": 1, "a > c > e > f": 1, "a > x > c > e": 1}
    limited = top_paths(con, funnel_steps=["a", "c", "d"], dropped_at=3, within=60,
                        conversion_event="f")
    assert counts(limited) == {"c": 2, "c > e": 1}  # p4's e 1 minute after c is kept


def test_the_people_who_dropped_match_the_funnel(con):
    from analytics.funnel import funnel

    f = funnel(con, ["a", "c", "d"])
    result = top_paths(con, funnel_steps=["a", "c", "d"], dropped_at=3, conversion_event="f")
    assert result.total_customers == f.steps[2].dropped == 3


def test_paths_per_session(tmp_path):
    log = {"q1": [(0, "a", 1), (1, "b", 2), (2, "a", 3), (3, "c", 4)],
           "q2": [(0, "a", 1), (20, "b", 2), (60, "c", 3)]}
    # q1's events carry a session id; q2's do not: 30 minutes without an event split them.
    ids = {("q1", 1): "s1", ("q1", 2): "s1", ("q1", 3): "s2", ("q1", 4): "s2",
           ("q2", 1): "", ("q2", 2): "", ("q2", 3): ""}
    store = _store(tmp_path, log, ",session_id", ids)
    with store.reader() as con:
        result = top_paths(con, by_session=True, conversion_event="c")
        assert counts(result) == {"a > b": 2, "a > c": 1, "c": 1}
        assert {p.path: p.converted for p in result.paths} == {"a > b": 0, "a > c": 1, "c": 1}
        assert result.unit == "sessions" and result.total_customers == 4
        assert result.summary.startswith("4 sessions in scope.")
        assert "session_id property" in result.definitions["path"]
        after = top_paths(con, by_session=True, from_event="b", conversion_event="c")
        assert counts(after) == {"b": 2}  # from b, each session ends where it ends
        whole = top_paths(con, conversion_event="c")
        assert counts(whole) == {"a > b > a > c": 1, "a > b > c": 1}


@pytest.mark.parametrize("asked, field", [
    (dict(within=60), "within"),
    (dict(before_event="c", from_event="a"), "before_event"),
    (dict(dropped_at=2), "funnel_steps"),
    (dict(funnel_steps=["a", "c"], dropped_at=1), "dropped_at"),
    (dict(funnel_steps=["a", "c"], dropped_at=3), "dropped_at"),
    (dict(funnel_steps=["a", "c"]), "funnel_steps"),
    (dict(funnel_steps=["a", "c"], dropped_at=2, by_session=True), "by_session"),
])
def test_anchors_that_cannot_be_combined_are_refused(con, asked, field):
    with pytest.raises(ArgumentError) as error:
        top_paths(con, conversion_event="d", **asked)
    assert error.value.field == field
