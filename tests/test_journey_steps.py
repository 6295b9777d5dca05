"""journey_steps, maintained at ingest, gives exactly the transitions a full sort gives."""

from __future__ import annotations

from analytics.filters import Filters
from analytics.paths import transitions
from analytics.store import EventStore, ingest_files
from analytics.store.forget import forget_customer
from analytics.store.steps import steps_complete
from tests.analytics_fixtures import tiny_store


def both(store: EventStore):
    """(fast path, slow path) transitions as comparable tuples."""
    with store.reader() as con:
        assert steps_complete(con)
        fast = transitions(con)
        # Any filter forces the full window computation; a date range covering all keeps scope.
        from datetime import date

        slow = transitions(con, filters=Filters(start=date(1970, 1, 1)))
    def key(r):
        return [(t.source, t.target, t.transitions, t.customers, round(t.probability, 12))
                for t in r.transitions]

    return key(fast), key(slow)


def test_tiny_log_fast_equals_slow(tmp_path):
    fast, slow = both(tiny_store(tmp_path))
    assert fast == slow and fast


def test_later_loads_and_identity_links_merge_journeys(tmp_path):
    store = EventStore(tmp_path / "h")
    first = tmp_path / "a.csv"
    first.write_text("anonymous_id,customer_id,timestamp,event\n"
                     "x1,,2024-01-01T10:00:00Z,landing\n"
                     "x1,,2024-01-01T10:01:00Z,pricing\n"
                     "x2,,2024-01-01T11:00:00Z,landing\n"
                     ",c9,2024-01-01T09:00:00Z,login\n")
    ingest_files(store, "events", [first])
    second = tmp_path / "b.csv"  # links x1 to c1 and adds events in the middle of journeys
    second.write_text("anonymous_id,customer_id,timestamp,event\n"
                      "x1,c1,2024-01-01T10:02:00Z,signup\n"
                      ",c1,2024-01-01T10:00:30Z,features\n"
                      ",c9,2024-01-01T08:00:00Z,invite\n")
    ingest_files(store, "events", [second])
    fast, slow = both(store)
    assert fast == slow
    moves = {(s, t): n for s, t, n, _, _ in fast}
    assert moves[("landing", "features")] == 1 and moves[("features", "pricing")] == 1
    assert moves[("invite", "login")] == 1
    forget_customer(store, "c1")
    fast, slow = both(store)
    assert fast == slow
    assert ("landing", "features") not in {(s, t) for s, t, *_ in fast}


def test_demo_fast_equals_slow(demo_store):
    fast, slow = both(demo_store)
    assert fast == slow


def test_replace_rebuilds(tmp_path):
    store = EventStore(tmp_path / "h")
    path = tmp_path / "e.csv"
    path.write_text("event_id,customer_id,timestamp,event\n"
                    "e1,c1,2024-01-01,a\ne2,c1,2024-01-02,b\n")
    ingest_files(store, "events", [path])
    moved = tmp_path / "m.csv"
    moved.write_text("event_id,customer_id,timestamp,event\ne2,c2,2024-01-02,b\n")
    ingest_files(store, "events", [moved], replace=True)
    fast, slow = both(store)
    assert fast == slow and ("a", "b") not in {(s, t) for s, t, *_ in fast}
