"""Sessions and time to value on tiny stores built in code, every figure computed by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from analytics.errors import ArgumentError, UnknownNameError
from analytics.filters import Filters
from analytics.sessions import sessions
from analytics.store import EventStore, ingest_files
from analytics.time_to_value import time_to_value
from tools.base import ToolContext
from tools.registry import call_tool

BASE = datetime(2024, 1, 1, tzinfo=UTC)


def _store(folder: Path, events: list[tuple], session_column: str | None = None,
           customers: list[tuple[str, datetime]] | None = None) -> EventStore:
    """events: (person, minutes after BASE, event, device[, session id])."""
    header = "event_id,customer_id,timestamp,event_name,device"
    lines = [header + (f",{session_column}" if session_column else "")]
    for n, (person, minutes, event, device, *sid) in enumerate(events):
        ts = (BASE + timedelta(minutes=minutes)).isoformat()
        line = f"e{n:03d},{person},{ts},{event},{device}"
        lines.append(line + (f",{sid[0] if sid else ''}" if session_column else ""))
    path = folder / "events.csv"
    path.write_text("\n".join(lines) + "\n")
    store = EventStore(folder / "home")
    ingest_files(store, "events", [path])
    if customers:
        crm = folder / "customers.csv"
        crm.write_text("customer_id,signup_at\n" + "".join(
            f"{c},{when.isoformat()}\n" for c, when in customers))
        ingest_files(store, "customers", [crm])
    return store


DAY = 1440
# p1: the 30-minute gap (10 -> 40) does not split, the 31-minute one (40 -> 71) does.
# p2: a visit on day 1 and one on day 2. p3: one event.
NO_IDS = [
    ("p1", 0, "view", "desktop"), ("p1", 10, "pricing", "desktop"),
    ("p1", 40, "pricing", "desktop"), ("p1", 71, "signup", "desktop"),
    ("p1", 80, "paid", "desktop"),
    ("p2", 0, "view", "mobile"), ("p2", DAY + 60, "view", "mobile"),
    ("p2", DAY + 65, "pricing", "mobile"),
    ("p3", 0, "view", "desktop"),
]


@pytest.fixture
def no_ids(tmp_path):
    (tmp_path / "no_ids").mkdir()
    return _store(tmp_path / "no_ids", NO_IDS)


def _events(items) -> list[tuple[str, int, float | None]]:
    return [(i.event, i.sessions, i.share) for i in items]


def test_sessions_by_inactivity_where_there_is_no_session_id(no_ids):
    with no_ids.reader() as con:
        r = sessions(con)
    o = r.overall
    assert r.session_definition == "30-minute inactivity" and r.session_property is None
    # p1: [view pricing pricing] 40 min, [signup paid] 9 min; p2: [view] 0, [view pricing]
    # 5 min; p3: [view] 0.
    assert (o.sessions, o.people) == (5, 3)
    assert o.sessions_per_person_mean == pytest.approx(5 / 3)
    assert o.sessions_per_person_median == 2
    assert (o.events_per_session_mean, o.events_per_session_median) == (1.8, 2)
    assert (o.minutes_per_session_median, o.minutes_per_session_p75) == (5, 9)
    assert o.single_event_sessions == 2
    assert _events(o.entry_events) == [("view", 4, 0.8), ("signup", 1, 0.2)]
    assert _events(o.exit_events) == [("pricing", 2, 0.4), ("view", 2, 0.4), ("paid", 1, 0.2)]
    assert [(p.path, p.steps, p.sessions, p.share) for p in o.paths] == [
        ("view", 1, 2, 0.4), ("view > pricing", 2, 2, 0.4), ("signup > paid", 2, 1, 0.2)]
    assert o.other_paths_sessions == 0
    assert "more than 30 minutes" in r.definitions["session"]
    assert r.summary.startswith("5 sessions by 3 people (30-minute inactivity)")
    assert r.to_dict()["overall"]["sessions"] == 5
    assert len(r.figure().data) == 3


def test_exactly_the_gap_does_not_split(no_ids):
    with no_ids.reader() as con:
        # 31 minutes: the 31-minute gap is exactly the gap, so p1 is one session.
        assert sessions(con, gap_minutes=31).overall.sessions == 4
        # Just under 30: the 30-minute gap splits too.
        assert sessions(con, gap_minutes=29.99).overall.sessions == 6
        assert sessions(con, gap_minutes=31).session_definition == "31-minute inactivity"


def test_paths_are_cut_at_the_steps_asked(no_ids):
    with no_ids.reader() as con:
        o = sessions(con, gap_minutes=60, path_steps=2, top=1).overall
    # p1 in one session: view > pricing > signup > paid, shown as two steps and '...'.
    assert o.sessions == 4
    assert [(p.path, p.sessions) for p in o.paths] == [("view", 2)]
    assert o.other_paths_sessions == 2 and len(o.entry_events) == 1


def test_sessions_by_device_and_filters(no_ids):
    with no_ids.reader() as con:
        r = sessions(con, by="device")
        mobile = sessions(con, filters=Filters(device=("mobile",))).overall
        day_one = sessions(con, filters=Filters(end=date(2024, 1, 1))).overall
        day_two = sessions(con, filters=Filters(start=date(2024, 1, 2))).overall
    groups = {g.group: g for g in r.groups}
    assert r.overall.sessions == 5 and [g.group for g in r.groups] == ["desktop", "mobile"]
    assert (groups["desktop"].sessions, groups["desktop"].people) == (3, 2)
    assert groups["desktop"].sessions_per_person_mean == 1.5
    assert (groups["mobile"].sessions, groups["mobile"].people) == (2, 1)
    assert _events(groups["mobile"].entry_events) == [("view", 2, 1.0)]
    assert "By device, mobile has the most sessions per person (2.0)" in r.summary
    assert len(r.figure().data) == 3
    assert (mobile.sessions, mobile.people) == (2, 1)
    assert (day_one.sessions, day_one.people) == (4, 3)  # p2's second visit is on day 2
    assert (day_two.sessions, day_two.people, day_two.events_per_session_mean) == (1, 1, 2)


def test_the_exports_session_id_wins_over_inactivity(tmp_path):
    # q1's 50-minute pause is inside session A; q2 uses the same id "A" (GA4's ids are per
    # user) and pauses 2 hours inside it.
    events = [("q1", 0, "view", "desktop", "A"), ("q1", 50, "pricing", "desktop", "A"),
              ("q1", 55, "signup", "desktop", "B"),
              ("q2", 0, "view", "mobile", "A"), ("q2", 120, "view", "mobile", "A")]
    store = _store(tmp_path, events, session_column="sessionId")
    with store.reader() as con:
        r = sessions(con)
    o = r.overall
    assert r.session_definition == "sessionId property" and r.session_property == "sessionId"
    assert (r.events, r.events_with_session_id) == (5, 5)
    assert (o.sessions, o.people) == (3, 2)
    assert (o.minutes_per_session_median, o.events_per_session_mean) == (50, 5 / 3)
    assert [(p.path, p.sessions) for p in o.paths] == [
        ("signup", 1), ("view", 1), ("view > pricing", 1)]


def test_events_without_an_id_fall_back_to_inactivity_within_the_person(tmp_path):
    events = [("r1", 0, "view", "desktop", "x1"), ("r1", 10, "pricing", "desktop", "x1"),
              ("r1", 100, "signup", "desktop"), ("r1", 110, "paid", "desktop"),
              ("r1", 300, "view", "desktop"),
              ("r2", 0, "view", "desktop")]
    store = _store(tmp_path, events, session_column="session_id")
    with store.reader() as con:
        r = sessions(con)
    o = r.overall
    assert r.session_definition == "session_id property, else 30-minute inactivity"
    assert (r.events, r.events_with_session_id) == (6, 2)
    # r1: x1 [view pricing], [signup paid], [view]; r2: [view].
    assert (o.sessions, o.people) == (4, 2)
    assert [(p.path, p.sessions) for p in o.paths] == [
        ("view", 2), ("signup > paid", 1), ("view > pricing", 1)]
    assert _events(o.exit_events) == [("view", 2, 0.5), ("paid", 1, 0.25),
                                      ("pricing", 1, 0.25)]


def test_session_names_and_gap_are_checked(no_ids):
    with no_ids.reader() as con:
        with pytest.raises(UnknownNameError) as wrong:
            sessions(con, by="devise")
        with pytest.raises(ArgumentError):
            sessions(con, gap_minutes=0)
    assert "device" in wrong.value.suggestions
    ctx = ToolContext(no_ids)
    for gap in (0, -5):
        refused = call_tool(ctx, "sessions", {"gap_minutes": gap})
        assert not refused.ok and refused.error.field == "gap_minutes"
    ok = call_tool(ctx, "sessions", {"by": "device"})
    assert ok.ok and "group | sessions | people | per person" in ok.content


def _at(day: int, hour: int = 0) -> datetime:
    return BASE + timedelta(days=day - 1, hours=hour)


# Signups (customers table): c1 activates after 2 days, c2 after 10, c3 never, c4 after 1 day
# but signed up 3 days before the end of observation (Jan 31), c5 activated before signing up.
TTV_EVENTS = [
    ("c1", 1, "signup", "desktop"), ("c1", 3, "activated", "desktop"),
    ("c2", 1, "signup", "desktop"), ("c2", 11, "activated", "desktop"),
    ("c3", 2, "signup", "mobile"), ("c3", 31, "login", "mobile"),
    ("c4", 28, "signup", "mobile"), ("c4", 29, "activated", "mobile"),
    ("c5", 4, "activated", "desktop"), ("c5", 5, "signup", "desktop"),
]
SIGNUPS = [("c1", _at(1)), ("c2", _at(1)), ("c3", _at(2)), ("c4", _at(28)), ("c5", _at(5))]


@pytest.fixture
def ttv_store(tmp_path):
    events = [(c, (day - 1) * DAY, event, device) for c, day, event, device in TTV_EVENTS]
    (tmp_path / "ttv").mkdir()
    return _store(tmp_path / "ttv", events, customers=SIGNUPS)


def _within(stats) -> dict[float, tuple[int, int]]:
    return {w.days: (w.reached, w.eligible) for w in stats.within}


def test_time_to_value_counts_everyone_who_started(ttv_store):
    with ttv_store.reader() as con:
        r = time_to_value(con, "activated")
    o = r.overall
    assert r.start_definition == "signup date (customers table)"
    assert r.observation_end == _at(31)
    assert r.already_before_start == 1  # c5
    assert (o.started, o.reached, o.reached_share) == (4, 3, 0.75)
    # Days to reach: 1, 2, 10.
    assert (o.median_days, o.p75_days, o.p90_days) == pytest.approx((2, 6, 8.4))
    # c4 (3 days observed) is in the 1-day share only; c3 (29 days) is not in the 30-day one.
    assert _within(o) == {1.0: (1, 4), 7.0: (1, 3), 30.0: (2, 2)}
    curve = {p.day: (p.reached, p.eligible) for p in o.curve}
    assert curve[0] == (0, 4) and curve[1] == (1, 4) and curve[2] == (2, 4)
    assert curve[4] == (1, 3) and curve[10] == (2, 3) and curve[30] == (2, 2)
    assert 31 not in curve  # no one was observed for 31 days
    assert "whether they reached the action or not" in r.definitions["denominator"]
    assert "people who started later are left out" in r.definitions["within N days"]
    assert r.summary.startswith("4 people signed up (signup date in the customers table); "
                                "3 (75.0%) did activated")
    assert "1 person did it before their start" in r.summary
    assert r.to_dict()["overall"]["within"][1] == {"days": 7.0, "eligible": 3, "reached": 1,
                                                   "share": 1 / 3}
    assert len(r.figure().data) == 1


def test_time_to_value_by_group_with_its_own_window(ttv_store):
    with ttv_store.reader() as con:
        r = time_to_value(con, "activated", within_days=2, by="device")
        week = time_to_value(con, "activated", by="device")
    groups = {g.group: g for g in r.groups}
    assert [w.days for w in r.overall.within] == [1.0, 2.0, 7.0, 30.0]
    assert _within(r.overall)[2.0] == (2, 4)
    desktop, mobile = groups["desktop"], groups["mobile"]
    assert (desktop.started, desktop.reached, desktop.median_days) == (2, 2, 6)
    assert _within(desktop) == {1.0: (0, 2), 2.0: (1, 2), 7.0: (1, 2), 30.0: (2, 2)}
    assert (mobile.started, mobile.reached, mobile.median_days) == (2, 1, 1)
    assert _within(mobile) == {1.0: (1, 2), 2.0: (1, 2), 7.0: (0, 1), 30.0: (0, 0)}
    # Within 2 days both groups are at 50%, and no one on mobile was observed for 30 days.
    assert "By device" not in r.summary
    assert ("By device: desktop gets there within 7 days most often (50.0%), mobile least "
            "(0.0%)") in week.summary
    assert len(r.figure().data) == 3


def test_time_to_value_respects_filters(ttv_store):
    with ttv_store.reader() as con:
        late = time_to_value(con, "activated", filters=Filters(start=date(2024, 1, 2)))
        early = time_to_value(con, "activated", filters=Filters(end=date(2024, 1, 15)))
        mobile = time_to_value(con, "activated", filters=Filters(device=("mobile",)))
    assert (late.overall.started, late.overall.reached) == (2, 1)  # c3, c4
    # Observation ends at c2's activation (Jan 11); c4 signed up after the range.
    assert early.observation_end == _at(11)
    assert (early.overall.started, early.overall.reached) == (3, 2)
    assert _within(early.overall)[7.0] == (1, 3)
    assert (mobile.overall.started, mobile.overall.reached) == (2, 1)


def test_time_to_value_from_an_event_or_the_first_event(ttv_store, no_ids):
    with ttv_store.reader() as con:
        from_signup = time_to_value(con, "activated", from_event="signup")
    assert from_signup.start_definition == "first signup"
    assert (from_signup.overall.started, from_signup.overall.reached) == (4, 3)
    with no_ids.reader() as con:
        first = time_to_value(con, "paid")
    # No customers table: from each person's first event; p1 paid 80 minutes after it.
    assert first.start_definition == "first event"
    assert (first.overall.started, first.overall.reached) == (3, 1)
    assert first.overall.median_days == pytest.approx(80 / 1440)


def test_time_to_value_default_action_and_bad_names(ttv_store, monkeypatch):
    import analytics.time_to_value as ttv

    with ttv_store.reader() as con:
        with pytest.raises(UnknownNameError) as wrong:
            time_to_value(con, "activatd")
        with pytest.raises(UnknownNameError):
            time_to_value(con, "activated", from_event="sigup")
        monkeypatch.setattr(ttv, "default_action", lambda con: "activated")
        assert time_to_value(con).to_event == "activated"
        monkeypatch.setattr(ttv, "default_action", lambda con: None)
        with pytest.raises(ArgumentError) as missing:
            time_to_value(con)
    assert "activated" in wrong.value.suggestions and missing.value.field == "to_event"
    ctx = ToolContext(ttv_store)
    refused = call_tool(ctx, "time_to_value", {"to_event": "activatd"})
    assert not refused.ok and isinstance(refused.error, UnknownNameError)
    assert not call_tool(ctx, "time_to_value", {"to_event": "activated",
                                                "within_days": 0}).ok
    ok = call_tool(ctx, "time_to_value", {"to_event": "activated", "within_days": "14d"})
    assert ok.ok and ok.result.within_days == 14
    assert "group | started | reached (share)" in ok.content
