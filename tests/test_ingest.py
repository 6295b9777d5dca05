"""Ingest: hand-made files with known contents, good and bad."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime

import pandas as pd
import pytest

from analytics.errors import InputFileError, JourneyError
from analytics.store import EventStore, ingest_files


def rows(store: EventStore, sql: str) -> list[tuple]:
    with store.reader() as con:
        return con.execute(sql).fetchall()


def count(store: EventStore, table: str) -> int:
    return rows(store, f"SELECT count(*) FROM {table}")[0][0]


UTC = UTC

MIXPANEL_LIKE = (
    "distinct_id,time,event,utm_source,device_type,plan\n"
    "u1,1704103200,Pricing View,Google,Mobile,free\n"  # epoch seconds
    "u1,1704103260000,Signup,google,mobile,pro\n"  # epoch milliseconds
    "u2,2024-01-01T12:00:00+02:00,Pricing View,,desktop,\n"  # ISO with offset
    "u3,2024-01-01 09:30:00,Pricing View,email,desktop,\n"  # naive = UTC
)


def test_common_export_names_are_recognised_and_cells_typed(store, write):
    report = ingest_files(store, "events", [write("mp.csv", MIXPANEL_LIKE)])
    f = report.files[0]
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (4, 4, 0)
    assert f.columns == {"customer_id": "distinct_id", "timestamp": "time",
                         "event_name": "event", "channel": "utm_source",
                         "device": "device_type"}
    assert f.extra_columns == ["plan"]
    got = rows(store, "SELECT customer_id, ts, event_name, channel, device, properties "
                      "FROM events ORDER BY ts, customer_id")
    assert got[0][:2] == ("u3", datetime(2024, 1, 1, 9, 30, tzinfo=UTC))  # naive = UTC
    assert got[1][:5] == ("u1", datetime(2024, 1, 1, 10, 0, tzinfo=UTC), "Pricing View",
                          "Google", "Mobile")  # from epoch seconds; kept as written
    assert got[2][:2] == ("u2", datetime(2024, 1, 1, 10, 0, tzinfo=UTC))  # 12:00+02:00
    assert got[3][:2] == ("u1", datetime(2024, 1, 1, 10, 1, tzinfo=UTC))  # from milliseconds
    assert json.loads(got[1][5]) == {"plan": "free"}
    assert report.new_event_names == ["Pricing View", "Signup"]
    assert rows(store, "SELECT event_name, stage FROM stage_map ORDER BY 1") == [
        ("Pricing View", "consideration"), ("Signup", "evaluation")]


def test_explicit_mapping_wins_and_is_checked(store, write):
    path = write("e.csv", "who,when,what\nu1,2024-01-01,open_app\n")
    with pytest.raises(InputFileError, match="missing required column for 'timestamp'"):
        ingest_files(store, "events", [path])
    ingest_files(store, "events", [path],
                 mapping={"who": "customer_id", "when": "timestamp", "what": "event_name"})
    assert rows(store, "SELECT customer_id, event_name FROM events") == [("u1", "open_app")]
    with pytest.raises(JourneyError, match="'nonsense' is not a field of events"):
        ingest_files(store, "events", [path], mapping={"who": "nonsense"})
    with pytest.raises(InputFileError, match="does not have"):
        ingest_files(store, "events", [path], mapping={"user": "customer_id"})


def test_missing_person_column_is_explained(store, write):
    path = write("e.csv", "timestamp,event\n2024-01-01,a\n")
    with pytest.raises(InputFileError, match="customer_id or anonymous_id"):
        ingest_files(store, "events", [path])


def test_loading_the_same_file_twice_adds_nothing(store, write):
    path = write("e.csv", "user_id,timestamp,event\nu1,2024-01-01,a\nu1,2024-01-01,a\n"
                          "u2,2024-01-02,b\n")
    first = ingest_files(store, "events", [path]).files[0]
    # Two identical rows without ids are two real events: both kept, with different ids.
    assert first.rows_loaded == 3
    ids = [r[0] for r in rows(store, "SELECT event_id FROM events ORDER BY event_id")]
    second = ingest_files(store, "events", [path]).files[0]
    assert (second.rows_loaded, second.rows_already_loaded) == (0, 3)
    assert [r[0] for r in rows(store, "SELECT event_id FROM events ORDER BY event_id")] == ids
    # The same rows in another file (another order) are recognised too.
    other = write("again.csv", "user_id,timestamp,event\nu2,2024-01-02,b\nu1,2024-01-01,a\n")
    assert ingest_files(store, "events", [other]).files[0].rows_loaded == 0


def test_repeated_identical_ids_in_a_file_load_once(store, write):
    path = write("e.csv", "event_id,user_id,timestamp,event\n"
                          "e1,u1,2024-01-01,a\ne1,u1,2024-01-01,a\ne2,u1,2024-01-02,b\n")
    f = ingest_files(store, "events", [path]).files[0]
    assert (f.rows_loaded, f.rows_duplicate_in_file) == (2, 1)


def test_conflicting_duplicate_ids_in_a_file_are_an_error(store, write):
    path = write("e.csv", "event_id,user_id,timestamp,event\n"
                          "e1,u1,2024-01-01,a\ne2,u1,2024-01-01,a\ne1,u1,2024-01-02,CHANGED\n")
    with pytest.raises(InputFileError) as info:
        ingest_files(store, "events", [path])
    message = str(info.value)
    assert "e.csv, row 1 (line 2), column 'event_id'" in message
    assert "rows 1, 3" in message and "'e1'" in message
    assert not store.exists() or count(store, "events") == 0


def test_conflict_with_stored_row_needs_replace(store, write):
    ingest_files(store, "customers", [write("c1.csv", "customer_id,plan\nc1,starter\nc2,team\n")])
    update = write("c2.csv", "customer_id,plan\nc1,business\nc2,team\n")
    with pytest.raises(InputFileError, match="already in the store with different content"):
        ingest_files(store, "customers", [update])
    assert rows(store, "SELECT plan FROM customers WHERE customer_id = 'c1'") == [("starter",)]
    f = ingest_files(store, "customers", [update], replace=True).files[0]
    assert (f.rows_replaced, f.rows_loaded, f.rows_already_loaded) == (1, 1, 1)
    assert rows(store, "SELECT customer_id, plan FROM customers ORDER BY 1") == [
        ("c1", "business"), ("c2", "team")]


def test_bad_timestamp_names_file_row_line_column_value(store, write):
    path = write("e.csv", "user_id,event_time,event\nu1,2024-01-01,a\nu2,yesterday,b\n"
                          "u3,31/12/2024,c\n")
    with pytest.raises(InputFileError) as info:
        ingest_files(store, "events", [path])
    e = info.value
    assert (e.file, e.row, e.line, e.column, e.value) == (str(path), 2, 3, "event_time",
                                                          "yesterday")
    assert "1 more row(s) have problems too" in str(e)
    assert "Nothing was loaded" in str(e)
    assert not store.exists() or count(store, "events") == 0


def test_time_format_reads_day_first_dates(store, write):
    path = write("e.csv", "user_id,event_time,event\nu3,31/12/2024 08:15,c\n")
    ingest_files(store, "events", [path], time_format="%d/%m/%Y %H:%M")
    assert rows(store, "SELECT ts FROM events") == [(datetime(2024, 12, 31, 8, 15, tzinfo=UTC),)]


def test_skip_mode_loads_good_rows_and_writes_rejects_with_reasons(store, write, tmp_path):
    path = write("e.csv", "user_id,event_time,event,properties\n"
                          "u1,2024-01-01,a,{}\n"
                          "u2,yesterday,b,{}\n"
                          ",2024-01-01,c,{}\n"
                          "u4,2024-01-01,,{}\n"
                          "u5,2024-01-01,e,{broken\n"
                          "u6,2024-01-01,f,\"{\"\"k\"\": 1}\"\n")
    report = ingest_files(store, "events", [path], on_error="skip",
                          rejects_dir=tmp_path / "rej")
    f = report.files[0]
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (6, 2, 4)
    assert rows(store, "SELECT customer_id, properties FROM events ORDER BY 1") == [
        ("u1", "{}"), ("u6", '{"k": 1}')]
    with open(f.rejects_file, newline="") as handle:
        rejected = list(csv.DictReader(handle))
    by_row = {int(r["row"]): r for r in rejected}
    assert set(by_row) == {2, 3, 4, 5}
    assert by_row[2]["reason"].startswith("unparseable timestamp")
    assert by_row[2]["value"] == "yesterday"
    assert "belongs to nobody" in by_row[3]["reason"]
    assert by_row[4]["reason"] == "missing event name"
    assert by_row[5]["reason"] == "properties is not valid JSON"
    assert json.loads(by_row[5]["original_row_json"])["user_id"] == "u5"


def test_malformed_csv_line(store, write, tmp_path):
    path = write("e.csv", "user_id,timestamp,event\nu1,2024-01-01,a\nu2,2024-01-01,b,extra\n"
                          "u3,2024-01-01,c\n")
    with pytest.raises(InputFileError) as info:
        ingest_files(store, "events", [path])
    assert info.value.line == 3
    assert "this line has 4 fields but the header has 3" in str(info.value)
    report = ingest_files(store, "events", [path], on_error="skip", rejects_dir=tmp_path / "r")
    f = report.files[0]
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (3, 2, 1)
    assert "u2,2024-01-01,b,extra" in open(f.rejects_file).read()


def test_a_failure_in_any_file_leaves_the_store_exactly_as_it_was(store, write):
    ingest_files(store, "events", [write("base.csv", "user_id,timestamp,event\nu0,2024-01-01,a\n")])
    before = rows(store, "SELECT * FROM events ORDER BY event_id")
    stages_before = rows(store, "SELECT * FROM stage_map ORDER BY 1")
    good = write("good.csv", "anonymous_id,user_id,timestamp,event\nx1,u1,2024-01-02,newevent\n")
    bad = write("bad.csv", "user_id,timestamp,event\nu2,not a time,b\n")
    with pytest.raises(InputFileError, match="bad.csv"):
        ingest_files(store, "events", [good, bad])
    assert rows(store, "SELECT * FROM events ORDER BY event_id") == before
    assert rows(store, "SELECT * FROM stage_map ORDER BY 1") == stages_before
    assert count(store, "identity_map") == 0
    assert count(store, "loads") == 1


def test_identity_stitching_joins_anonymous_visits_to_the_customer(store, write):
    path = write("e.csv", "anonymousId,userId,timestamp,event\n"
                          "a1,,2024-01-01T10:00:00Z,landing_view\n"
                          "a1,c1,2024-01-01T10:05:00Z,signup\n"
                          "a2,,2024-01-01T11:00:00Z,landing_view\n"
                          ",c1,2024-01-02T09:00:00Z,login\n")
    ingest_files(store, "events", [path])
    assert rows(store, "SELECT anonymous_id, customer_id FROM identity_map") == [("a1", "c1")]
    got = rows(store, "SELECT person_id, event_name FROM journey_events ORDER BY ts")
    assert got == [("c1", "landing_view"), ("c1", "signup"), ("anon:a2", "landing_view"),
                   ("c1", "login")]


def test_customers_types_consent_and_attributes(store, write):
    path = write("crm.csv", "Id,created_at,Plan,country,MRR,is_churned,marketing_consent,"
                            "company_size\n"
                            "c1,2024-01-05,Starter,US,\"$1,200.50\",yes,false,1-10\n"
                            "c2,,team,DE,0,no,true,11-50\n")
    f = ingest_files(store, "customers", [path]).files[0]
    assert f.rows_loaded == 2
    got = rows(store, "SELECT customer_id, signup_at, plan, country, revenue, churned, "
                      "opted_out, attributes FROM customers ORDER BY 1")
    assert got[0][:7] == ("c1", datetime(2024, 1, 5, tzinfo=UTC), "Starter", "US", 1200.5,
                          True, True)
    assert json.loads(got[0][7]) == {"company_size": "1-10"}
    assert got[1][1] is None and got[1][6] is False


def test_customers_bad_boolean_and_revenue(store, write):
    path = write("crm.csv", "customer_id,revenue,churned\nc1,12,maybe\nc2,lots,no\n")
    with pytest.raises(InputFileError, match="row 1 .*column 'churned'.*yes/no"):
        ingest_files(store, "customers", [path])
    f = ingest_files(store, "customers", [path], on_error="skip").files[0]
    assert f.rows_rejected == 2
    assert f.reject_reasons == {"expected yes/no, true/false or 1/0": 1, "not a number": 1}


def test_feedback_sources_ratings_and_defaults(store, write):
    path = write("fb.csv", "id,created_at,source,score,comment\n"
                           "f1,2024-01-01,Zendesk,,Billing is broken\n"
                           "f2,2024-01-02,nps,9,Love it\n"
                           "f3,2024-01-03,carrier pigeon,,Hello\n"
                           "f4,2024-01-04,review,11,Too high\n"
                           "f5,2024-01-05,nps,3,\n"  # a bare score is feedback
                           "f6,2024-01-06,chat,,\n")  # nothing said at all is not
    report = ingest_files(store, "feedback", [path], on_error="skip")
    f = report.files[0]
    assert f.rows_loaded == 3
    assert rows(store, "SELECT feedback_id, source, rating, text FROM feedback ORDER BY 1") == [
        ("f1", "ticket", None, "Billing is broken"), ("f2", "nps", 9.0, "Love it"),
        ("f5", "nps", 3.0, "")]
    assert set(f.reject_reasons) == {
        "unknown source; use one of review, nps, ticket, chat, survey",
        "rating must be between 0 and 10", "no feedback text and no score"}
    # A vendor's own `type` (Zendesk: question, incident) is what a ticket is about, not where
    # the feedback came from: it is kept as a property, and the source must be given.
    typed = write("fb3.csv", "id,created_at,type,comment\nt1,2024-01-01,incident,Down again\n")
    with pytest.raises(InputFileError, match="missing source"):
        ingest_files(store, "feedback", [typed])
    ingest_files(store, "feedback", [typed], default_source="ticket")
    assert rows(store, "SELECT source, json_extract_string(properties, '$.type') FROM feedback "
                       "WHERE feedback_id = 't1'") == [("ticket", "incident")]
    no_source = write("fb2.csv", "timestamp,text\n2024-01-01,Great onboarding\n")
    with pytest.raises(InputFileError, match="missing source"):
        ingest_files(store, "feedback", [no_source])
    ingest_files(store, "feedback", [no_source], default_source="survey")
    assert rows(store, "SELECT source FROM feedback WHERE text = 'Great onboarding'") == [
        ("survey",)]


def test_parquet_and_json_lines(store, tmp_path, write):
    frame = pd.DataFrame({
        "event_id": ["p1", "p2"],
        "user_id": ["u1", "u2"],
        "event_timestamp": [1704103200000000, 1704103260000000],  # GA4: microseconds
        "event_name": ["page_view", "purchase"],
        "value": [None, 49.5],
    })
    parquet = tmp_path / "ga4.parquet"
    frame.to_parquet(parquet)
    ingest_files(store, "events", [parquet])
    jsonl = write("seg.jsonl", json.dumps({
        "messageId": "s1", "anonymousId": "x", "userId": "u3", "event": "Signed Up",
        "timestamp": "2024-01-02T00:00:00Z", "properties": {"plan": "pro", "seats": 3},
        "context": {"ip": "10.0.0.1"}}) + "\n")
    ingest_files(store, "events", [jsonl])
    got = rows(store, "SELECT event_id, ts, properties FROM events ORDER BY event_id")
    assert got[0][:2] == ("p1", datetime(2024, 1, 1, 10, 0, tzinfo=UTC))
    assert json.loads(got[1][2]) == {"value": 49.5}
    assert json.loads(got[2][2]) == {"plan": "pro", "seats": 3, "context": {"ip": "10.0.0.1"}}


def test_bad_json_line_is_located(store, write):
    path = write("e.jsonl", '{"user_id":"u1","ts":"2024-01-01","event":"a"}\n'
                            '{"user_id": oops}\n')
    with pytest.raises(InputFileError) as info:
        ingest_files(store, "events", [path])
    assert info.value.line == 2


def test_header_only_file(store, write):
    with pytest.raises(InputFileError, match="no data rows"):
        ingest_files(store, "events", [write("e.csv", "user_id,timestamp,event\n")])


def test_argument_errors(store, write):
    path = write("e.csv", "user_id,timestamp,event\nu1,2024-01-01,a\n")
    with pytest.raises(JourneyError, match="kind: 'orders' is not one of"):
        ingest_files(store, "orders", [path])
    with pytest.raises(JourneyError, match="at least one file"):
        ingest_files(store, "events", [])
    with pytest.raises(JourneyError, match="source: .fax. is not one of"):
        ingest_files(store, "feedback", [path], default_source="fax")


def test_progress_is_reported(store, write):
    seen = []
    ingest_files(store, "events", [write("e.csv", "user_id,timestamp,event\nu1,2024-01-01,a\n")],
                 progress=lambda d, done, total: seen.append((d.split()[0], done, total)))
    assert ("Reading", 0, 0) in seen and ("Writing", 1, 1) in seen
