"""journey_steps and person_profiles, maintained at ingest, give exactly what a full sort of the
events gives: the transitions, the top paths (every variant) and the first-touch profile."""

from __future__ import annotations

from datetime import date

from analytics.filters import PROFILE_SQL, Filters
from analytics.paths import top_paths, transitions
from analytics.store import EventStore, ingest_files
from analytics.store.forget import forget_customer
from analytics.store.steps import steps_complete
from tests.analytics_fixtures import tiny_store

# Any filter forces the full window computation; a date range covering all keeps the scope.
EVERYTHING = Filters(start=date(1970, 1, 1))


def both(store: EventStore):
    """(fast path, slow path) transitions as comparable tuples; the paths and profiles are
    checked the same way on the way."""
    with store.reader() as con:
        assert steps_complete(con)
        fast = transitions(con)
        slow = transitions(con, filters=EVERYTHING)
    def key(r):
        return [(t.source, t.target, t.transitions, t.customers, round(t.probability, 12))
                for t in r.transitions]

    check_paths(store)
    check_profiles(store)
    return key(fast), key(slow)


def check_paths(store: EventStore) -> None:
    with store.reader() as con:
        names = [r[0] for r in con.execute("SELECT DISTINCT event_name FROM events "
                                           "ORDER BY 1").fetchall()]
        conversion = names[-1] if names else None
        ends = [None] + names[:2]
        for from_event in ends:
            for to_event in ends:
                for collapse in (False, True):
                    for steps in (1, 3, 6):
                        asked = dict(from_event=from_event, to_event=to_event, max_steps=steps,
                                     collapse_repeats=collapse, conversion_event=conversion,
                                     top=25)
                        fast = top_paths(con, **asked)
                        slow = top_paths(con, filters=EVERYTHING, **asked)
                        assert ([vars(p) for p in fast.paths] == [vars(p) for p in slow.paths]
                                and fast.total_customers == slow.total_customers), asked


def check_profiles(store: EventStore) -> None:
    with store.reader() as con:
        kept = con.execute("SELECT person_id, device, channel, customer_id FROM person_profiles "
                           "ORDER BY person_id").fetchall()
        computed = con.execute(f"WITH {PROFILE_SQL.format(properties='').strip()} SELECT * "
                               "FROM profile ORDER BY person_id").fetchall()
    assert kept == computed


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


def test_a_store_from_before_the_positions_is_rebuilt_when_opened(tmp_path):
    store = tiny_store(tmp_path)
    with store.writer() as con:  # as schema 4 left it: no positions, no profiles
        con.execute("UPDATE journey_steps SET position = NULL, collapsed_position = NULL")
        con.execute("DELETE FROM person_profiles")
        con.execute("UPDATE meta SET value = 'complete' WHERE key = 'journey_steps'")
        con.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    fast, slow = both(store)
    assert fast == slow
    with store.reader() as con:
        assert con.execute("SELECT count(*) FROM journey_steps WHERE position IS NULL "
                           "OR collapsed_position IS NULL").fetchone()[0] == 0


def test_positions_count_repeats_once_when_collapsed(tmp_path):
    from tests.analytics_fixtures import store_from_lines

    store = store_from_lines(tmp_path, [
        "event_id,customer_id,timestamp,event",
        "1,c1,2024-01-01T10:00:00Z,a", "2,c1,2024-01-01T10:01:00Z,a",
        "3,c1,2024-01-01T10:01:00Z,b",  # same time as the repeat: after it by event id
        "4,c1,2024-01-01T10:02:00Z,a"])
    with store.reader() as con:
        rows = con.execute("SELECT event_name, position, collapsed_position FROM journey_steps "
                           "ORDER BY position").fetchall()
        assert rows == [("a", 1, 1), ("a", 2, 1), ("b", 3, 2), ("a", 4, 3)]
        assert [p.path for p in top_paths(con, collapse_repeats=True).paths] == ["a > b > a"]
        assert [p.path for p in top_paths(con, from_event="b", max_steps=1).paths] == [
            "b > ..."]
