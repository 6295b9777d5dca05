"""Nested files without a vendor preset, step filters, mappings and time zones: hand-made cases,
the good and the bad."""

from __future__ import annotations

import gzip
import json

import pytest

from analytics.errors import ArgumentError, InputFileError, UnknownNameError
from analytics.event_filters import parse_step_event, step_sql
from analytics.funnel import funnel
from analytics.store import EventStore, ingest_files
from analytics.store.columns import parse_mapping
from analytics.store.ingest import check_timezone


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


ROWS = [  # a home-grown tracker: its time and person inside `properties`, one key with dots
    {"event": "view", "properties": {"time": 1709287200, "distinct_id": "a", "page": "/pricing",
                                     "ctx": {"plan": "pro"}}},
    {"event": "view", "properties": {"time": 1709287300, "distinct_id": "b", "page": "/",
                                     "ctx": {"plan": "free"}}},
    {"event": "signup", "properties": {"time": 1709287400, "distinct_id": "a", "page": "/"}},
]


def test_dotted_paths_in_the_mapping_reach_nested_fields(tmp_path):
    path = _jsonl(tmp_path / "e.jsonl", [{**r, "timestamp": None} for r in ROWS])
    store = EventStore(tmp_path / "h")
    report = ingest_files(store, "events", [path], vendor_format="plain", mapping={
        "properties.time": "timestamp", "properties.distinct_id": "customer_id"})
    file = report.files[0]
    assert file.preset is None and file.rows_loaded == 3
    assert file.columns["timestamp"] == "properties.time"
    with store.reader() as con:
        rows = con.execute("SELECT customer_id, strftime(ts, '%Y-%m-%d %H:%M:%S') FROM events "
                           "ORDER BY ts").fetchall()
        # The dotted columns are read from `properties`, not added to it a second time.
        keys = con.execute("SELECT json_keys(properties) FROM events LIMIT 1").fetchone()[0]
    assert rows[0] == ("a", "2024-03-01 10:00:00")
    assert "properties.time" not in keys


def test_a_mapping_naming_a_missing_path_says_what_the_file_has(tmp_path):
    path = _jsonl(tmp_path / "e.jsonl", ROWS)
    with pytest.raises(InputFileError, match="properties.when"):
        ingest_files(EventStore(tmp_path / "h"), "events", [path],
                     mapping={"properties.when": "timestamp"})


def test_known_nested_names_are_found_without_a_mapping(tmp_path):
    path = _jsonl(tmp_path / "e.jsonl", [{"name": r["event"], **r} for r in ROWS])
    report = ingest_files(EventStore(tmp_path / "h"), "events", [path])
    assert report.files[0].columns["timestamp"] == "properties.time"
    assert report.files[0].rows_loaded == 3


def test_a_gzipped_csv_loads_and_a_bare_gz_is_refused(tmp_path):
    csv_gz = tmp_path / "e.csv.gz"
    with gzip.open(csv_gz, "wt", encoding="utf-8") as handle:
        handle.write("user_id,timestamp,event\nu1,2024-03-01T10:00:00Z,a\n")
    assert ingest_files(EventStore(tmp_path / "h"), "events", [csv_gz]).rows_loaded == 1
    bare = tmp_path / "export.gz"
    bare.write_bytes(csv_gz.read_bytes())
    with pytest.raises(InputFileError, match="does not say what is inside"):
        ingest_files(EventStore(tmp_path / "h2"), "events", [bare])
    broken = tmp_path / "cut.jsonl.gz"
    broken.write_bytes(csv_gz.read_bytes()[:12])
    with pytest.raises(InputFileError, match="gzip"):
        ingest_files(EventStore(tmp_path / "h3"), "events", [broken])


def test_timezone_reads_local_times_and_leaves_offsets_alone(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("user_id,timestamp,event\n"
                    "u1,2024-01-15 12:00,a\n"  # winter: Berlin is UTC+1
                    "u1,2024-07-15 12:00,b\n"  # summer: UTC+2
                    "u1,2024-07-15T12:00:00Z,c\n")  # an explicit offset wins
    store = EventStore(tmp_path / "h")
    ingest_files(store, "events", [path], timezone="Europe/Berlin")
    with store.reader() as con:
        hours = con.execute("SELECT event_name, hour(ts) FROM events ORDER BY event_name"
                            ).fetchall()
        zone = con.execute("SELECT current_setting('TimeZone')").fetchone()[0]
    assert hours == [("a", 11), ("b", 10), ("c", 12)]
    assert zone == "UTC"


def test_a_wrong_timezone_names_close_ones():
    with pytest.raises(ArgumentError, match="Europe/Berlin"):
        check_timezone("Europe/Berln")
    assert check_timezone("europe/berlin") == "Europe/Berlin"
    assert check_timezone("UTC") is None


def test_mapping_entries_may_quote_commas_and_equals():
    assert parse_mapping('"How likely, 0-10?"=rating, Submitted At=timestamp') == {
        "How likely, 0-10?": "rating", "Submitted At": "timestamp"}
    assert parse_mapping("'a=b'=text") == {"a=b": "text"}
    with pytest.raises(ArgumentError, match="not closed"):
        parse_mapping('"How likely=rating')
    with pytest.raises(ArgumentError, match="SOURCE=FIELD"):
        parse_mapping("rating")


def test_step_filters_parse_and_refuse_what_they_cannot_read():
    step = parse_step_event("$pageview[$pathname=/pricing, plan!=free, title~'a, b']")
    assert step.event == "$pageview"
    assert [(c.key, c.op, c.value) for c in step.conditions] == [
        ("$pathname", "=", "/pricing"), ("plan", "!=", "free"), ("title", "~", "a, b")]
    amplitude = parse_step_event("[Amplitude] Page Viewed[[Amplitude] Page Path=/pricing]")
    assert amplitude.event == "[Amplitude] Page Viewed"
    assert amplitude.conditions[0].key == "[Amplitude] Page Path"
    for bad, words in [("view[page]", "needs an operator"), ("[a=b]", "names no event"),
                       ("view[a=b", "unbalanced"), ("view[]", "empty brackets")]:
        with pytest.raises(ArgumentError, match=words):
            parse_step_event(bad)
    sql, params = step_sql([step, parse_step_event("signup")])
    # Values are parameters; property names are quoted JSON paths inside escaped literals.
    assert params == ["signup", "$pageview", "/pricing", "/pricing", "free", "free", "a, b"]
    assert """'$."$pathname"'""" in sql
    hostile, _ = step_sql([parse_step_event("""view[it's"x=1]""")])
    assert """'$."it''s\\"x"'""" in hostile


def test_step_filters_count_only_matching_events(tmp_path):
    path = _jsonl(tmp_path / "e.jsonl", ROWS)
    store = EventStore(tmp_path / "h")
    ingest_files(store, "events", [path])
    with store.reader() as con:
        assert [s.customers for s in funnel(con, ["view", "signup"]).steps] == [2, 1]
        assert [s.customers for s in funnel(con, ["view[page=/pricing]", "signup"]).steps] == [
            1, 1]
        assert [s.customers for s in funnel(con, ["view[page~PRIC]", "signup"]).steps] == [1, 1]
        assert funnel(con, ["view[page!=/pricing]", "signup"]).steps[0].customers == 1
        assert funnel(con, ["view[page=/PRICING]", "signup"]).steps[0].customers == 1
        # A nested property by its dotted path, as a step filter and as a breakdown.
        assert funnel(con, ["view[ctx.plan=pro]", "signup"]).steps[1].customers == 1
        by_plan = funnel(con, ["view", "signup"], by="ctx.plan")
        assert {g.group: g.steps[1].customers for g in by_plan.groups} == {"pro": 1, "free": 0}
        with pytest.raises(UnknownNameError, match="pgae"):
            funnel(con, ["view[pgae=/]", "signup"])


def test_mixpanel_original_id_merge_links_through_identify_calls(tmp_path):
    """Before simplified ID merge, Mixpanel events carry only distinct_id: an anonymous UUID
    until $identify links it to the user id (its $anon_distinct_id), or $create_alias does."""
    anon, other = "0c2a3f0e-1d2b-4c5d-8e9f-000000000001", "0c2a3f0e-1d2b-4c5d-8e9f-000000000002"
    rows = [
        {"event": "Viewed", "properties": {"time": 1709287200, "distinct_id": anon,
                                           "$insert_id": "1"}},
        {"event": "$identify", "properties": {"time": 1709287300, "distinct_id": "u1",
                                              "$anon_distinct_id": anon,
                                              "$identified_id": "u1", "$insert_id": "2"}},
        {"event": "Signed", "properties": {"time": 1709287400, "distinct_id": "u1",
                                           "$insert_id": "3"}},
        {"event": "Viewed", "properties": {"time": 1709287500, "distinct_id": other,
                                           "$insert_id": "4"}},
        {"event": "$create_alias", "properties": {"time": 1709287600, "distinct_id": other,
                                                  "alias": "u2", "$insert_id": "5"}},
        {"event": "Viewed", "properties": {"time": 1709287700, "distinct_id": "$device:d9",
                                           "$insert_id": "6"}},  # never identified
    ]
    store = EventStore(tmp_path / "h")
    report = ingest_files(store, "events", [_jsonl(tmp_path / "mp.jsonl", rows)]).files[0]
    assert (report.preset, report.identity_calls, report.rows_loaded) == ("mixpanel", 2, 4)
    with store.reader() as con:
        people = dict(con.execute("SELECT person_id, count(*) FROM person_events GROUP BY 1"
                                  ).fetchall())
    assert people == {"u1": 2, "u2": 1, "anon:d9": 1}


def test_segment_alias_and_identify_without_track_calls(tmp_path):
    rows = [
        {"type": "page", "anonymousId": "a1", "messageId": "m1", "name": "Home",
         "properties": {"path": "/"}, "timestamp": "2024-03-01T10:00:00.000Z"},
        {"type": "identify", "anonymousId": "a1", "userId": "u1", "messageId": "m2",
         "traits": {"email": "Ann@Example.com"}, "timestamp": "2024-03-01T10:01:00.000Z"},
        {"type": "page", "anonymousId": "a2", "messageId": "m3", "properties": {"path": "/"},
         "timestamp": "2024-03-01T11:00:00.000Z"},
        {"type": "alias", "previousId": "a2", "userId": "u2", "messageId": "m4",
         "timestamp": "2024-03-01T11:01:00.000Z"},
    ]
    store = EventStore(tmp_path / "h")
    report = ingest_files(store, "events", [_jsonl(tmp_path / "s.jsonl", rows)]).files[0]
    assert (report.identity_calls, report.identities_linked) == (2, 2)
    with store.reader() as con:
        people = sorted(r[0] for r in con.execute(
            "SELECT DISTINCT person_id FROM person_events").fetchall())
        names = {r[0] for r in con.execute("SELECT event_name FROM events").fetchall()}
        traits = con.execute("SELECT customer_id, email FROM person_traits").fetchall()
    assert people == ["u1", "u2"] and names == {"Page Viewed"}
    assert traits == [("u1", "Ann@Example.com")]


def test_amplitude_identify_links_and_empty_is_no_channel(tmp_path):
    """Amplitude's $identify rows carry both ids (the only link for a device that has no
    identified event), its `EMPTY` means no UTM, and its default names have brackets."""
    base = {"platform": "Web", "country": "United States", "event_properties": {}}
    rows = [
        {**base, "$insert_id": "i1", "event_type": "[Amplitude] Page Viewed",
         "event_time": "2026-10-05 10:00:00.000000", "user_id": None, "device_id": "dev-A",
         "device_type": "Apple iPhone", "event_properties": {"[Amplitude] Page Path": "/pricing"},
         "user_properties": {"initial_utm_source": "EMPTY"}},
        {**base, "$insert_id": "i2", "event_type": "$identify", "device_id": "dev-A",
         "event_time": "2026-10-05 10:01:00.000000", "user_id": "amp-user-X",
         "device_type": "Apple iPhone", "user_properties": {"email": "x@example.com"}},
        {**base, "$insert_id": "i3", "event_type": "Sign Up", "device_id": "dev-B",
         "event_time": "2026-10-05 11:00:00.000000", "user_id": "amp-user-X",
         "device_type": "Windows", "user_properties": {"initial_utm_source": "google"}},
    ]
    store = EventStore(tmp_path / "h")
    report = ingest_files(store, "events", [_jsonl(tmp_path / "amp.json", rows)]).files[0]
    assert report.preset == "amplitude" and report.identities_linked == 2
    with store.reader() as con:
        people = con.execute("SELECT DISTINCT person_id FROM person_events").fetchall()
        channels = con.execute("SELECT DISTINCT channel FROM events").fetchall()
        devices = sorted(r[0] for r in con.execute("SELECT device FROM events").fetchall())
        steps = funnel(con, ["[Amplitude] Page Viewed[[Amplitude] Page Path=/pricing]",
                             "Sign Up"]).steps
    assert people == [("amp-user-X",)]
    assert set(channels) == {(None,), ("google",)}  # EMPTY is no channel
    assert devices == ["desktop", "mobile"]
    assert [s.customers for s in steps] == [1, 1]


def test_ga4_rows_are_one_event_however_the_export_wrote_them(tmp_path):
    """GA4 has no event id: the same event from a Parquet export and a JSON one (numbers as
    strings) is one event, while a person's two events at different times stay two."""
    import pandas as pd

    def row(micros, value):
        return {"event_date": "20241001", "event_timestamp": micros, "event_name": "purchase",
                "user_pseudo_id": "p1", "user_id": None,
                "event_params": [{"key": "value", "value": {"int_value": value}}]}

    frame = pd.DataFrame([row(1727776800000000, 49), row(1727776900000000, 49)])
    frame.to_parquet(tmp_path / "ga4.parquet")
    text = [row(str(1727776800000000), "49"), row(str(1727776900000000), "49")]
    store = EventStore(tmp_path / "h")
    first = ingest_files(store, "events", [tmp_path / "ga4.parquet"]).files[0]
    second = ingest_files(store, "events", [_jsonl(tmp_path / "ga4.jsonl", text)]).files[0]
    assert first.preset == second.preset == "ga4" and first.rows_loaded == 2
    assert (second.rows_loaded, second.rows_already_loaded, second.rows_rejected) == (0, 2, 0)
    with store.reader() as con:
        assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 2
        # 49 is 49, whether the export wrote it as a number or as text.
        assert funnel(con, ["purchase[value=49.0]", "purchase"]).steps[0].customers == 1


def test_a_shared_id_reads_the_same_whatever_the_store_holds(tmp_path):
    """Mixpanel: a UUID user id seen as $user_id, then on a server-side event with no device:
    one customer, in the first load and the next (the store's links do not change the row)."""
    user = "3f2b8c1e-5a4d-4e6f-9a7b-1c2d3e4f5a6b"
    rows = [
        {"event": "Viewed", "properties": {"time": 1709287200, "distinct_id": user,
                                           "$device_id": "dev1", "$user_id": user,
                                           "$insert_id": "i1"}},
        {"event": "Purchase", "properties": {"time": 1709287300, "distinct_id": user,
                                             "$insert_id": "i2"}},
    ]
    path = _jsonl(tmp_path / "mp.jsonl", rows)
    store = EventStore(tmp_path / "h")
    ingest_files(store, "events", [path])
    again = ingest_files(store, "events", [path]).files[0]
    assert (again.rows_loaded, again.rows_already_loaded, again.rows_rejected) == (0, 2, 0)
    with store.reader() as con:
        assert con.execute("SELECT DISTINCT person_id FROM person_events").fetchall() == [
            (user,)]


def test_step_values_may_hold_operators_and_bars(tmp_path):
    rows = [{"type": "page", "anonymousId": "a1", "userId": "u1", "messageId": "m1",
             "properties": {"title": "Pricing | Acme ~ plans", "path": "/pricing"},
             "timestamp": "2024-03-01T10:00:00Z"},
            {"type": "track", "event": "Signed Up", "userId": "u1", "messageId": "m2",
             "timestamp": "2024-03-01T10:05:00Z"}]
    store = EventStore(tmp_path / "h")
    ingest_files(store, "events", [_jsonl(tmp_path / "s.jsonl", rows)])
    with store.reader() as con:
        for step in ['Page Viewed[title="Pricing | Acme ~ plans"]',
                     'Page Viewed[title~"| acme ~"]']:
            assert [s.customers for s in funnel(con, [step, "Signed Up"]).steps] == [1, 1]
        assert [s.customers for s in funnel(con, ['Page Viewed[title="Pricing"]|Signed Up',
                                                  "Signed Up"]).steps] == [1, 1]


def test_an_acquisition_channel_column_is_the_channel(tmp_path):
    path = tmp_path / "shop.csv"
    path.write_text("user_id,timestamp,event,acquisition_channel,session_id\n"
                    "u1,2024-03-01T10:00:00Z,home,Paid Search,s1\n")
    store = EventStore(tmp_path / "h")
    report = ingest_files(store, "events", [path]).files[0]
    assert report.columns["channel"] == "acquisition_channel"
    assert report.extra_columns == ["session_id"]  # kept as a property
