"""Path patterns with restricted gaps, counted by hand on a tiny log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analytics.errors import ArgumentError, UnknownNameError
from analytics.path_match import match, parse_pattern
from tests.analytics_fixtures import store_from_lines

LOG = {
    "m1": ["cart", "buy", "renew"],
    "m2": ["cart", "support", "buy", "renew"],
    "m3": ["cart", "support", "cart", "buy"],  # a second cart with a clean gap
    "m4": ["cart"],
    "m5": ["buy", "cart"],  # bought before, never after
    "m6": ["view"],
    "m7": ["cart", "buy", "support", "buy"],
    "m8": ["cart", "buy"],  # at the same time: the event ids order them
}
TIES = {"m8"}


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    folder = tmp_path_factory.mktemp("match")
    lines = ["event_id,customer_id,timestamp,event_name"]
    base = datetime(2024, 5, 1, tzinfo=UTC)
    for n, (person, events) in enumerate(LOG.items()):
        for k, event in enumerate(events, start=1):
            minutes = 0 if person in TIES else 10 * k
            ts = (base + timedelta(days=n, minutes=minutes)).isoformat()
            lines.append(f"{person}-{k},{person},{ts},{event}")
    with store_from_lines(folder, lines).reader() as connection:
        yield connection


def test_a_restricted_gap_its_alternatives_and_conversion(con):
    r = match(con, "cart ->[^support]*-> buy", conversion_event="renew")
    head, through, start = r.matches
    # cart then buy with no support between: m1, m3 (its second cart), m7, m8 (a tie).
    assert (head.people, head.share, head.converted) == (4, 0.5, 1)  # m1 renews after
    assert head.conversion == 0.25 and r.people_in_scope == 8
    # Through the excluded event: m2, m3 and m7 (cart, buy, support, buy).
    assert (through.kind, through.pattern, through.people, through.converted) == (
        "through", "cart -> support -> buy", 3, 1)
    # Carted and never bought after: m4, and m5 who bought only before.
    assert (start.kind, start.people) == ("start", 2)
    assert "4 of 8 people (50.0%) did cart ->[^support]*-> buy" in r.summary


def test_plain_gaps_and_three_steps(con):
    # buy -> renew with no support between: m1, and m2 (its support came before the buy).
    r = match(con, "cart -> buy ->[^support]*-> renew", conversion_event="renew")
    assert r.matches[0].people == 2
    # Any gap: all who carted then bought (m1, m2, m3, m7, m8); m5 bought only before.
    assert match(con, "cart -> buy", conversion_event="renew").matches[0].people == 5


def test_patterns_are_read_and_refused_clearly(con):
    p = parse_pattern("added_to_cart ->[^contacted_support|refund]*-> purchased")
    assert p.steps == ["added_to_cart", "purchased"]
    assert p.forbidden == [["contacted_support", "refund"]]
    with pytest.raises(ArgumentError, match="at least two events"):
        parse_pattern("cart")
    with pytest.raises(UnknownNameError):
        match(con, "cart ->[^suport]*-> buy")


def test_a_pattern_ending_at_the_conversion_is_not_said_to_convert_zero(con):
    result = match(con, "cart ->[^support]*-> buy", conversion_event="buy")
    assert "then did buy" not in result.summary
    start = next(m for m in result.matches if m.kind == "start")
    assert f"Started and never reached buy: {start.people:,}." in result.summary


def test_the_match_chart_is_drawn_from_its_own_counts(con):
    result = match(con, "cart ->[^support]*-> buy", conversion_event="renew")
    bars = result.figure().data[0]
    assert list(bars.x) == [m.people for m in result.matches]
    assert list(bars.y) == [m.pattern for m in result.matches]
