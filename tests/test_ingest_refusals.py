"""What ingest must refuse (issue #14, item 5): NUL bytes anywhere, malformed JSON lines,
duplicate columns in every format, implausible timestamps; each with the file, row or line,
column and value named, and the store exactly as it was after a refused load."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics.errors import InputFileError
from analytics.store import EventStore, ingest_files

BIG = 70 * 1024  # past the 64 KiB the sniffer looks at


TABLES = ("events", "customers", "feedback", "loads", "identity_map", "stage_map")


def counts(store: EventStore) -> dict[str, int]:
    if not store.exists():
        return dict.fromkeys(TABLES, 0)
    with store.reader() as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


@pytest.fixture
def loaded(store, write) -> EventStore:
    """A store that already holds one load, so that "unchanged" means something."""
    ingest_files(store, "events", [write("base.csv", "user_id,timestamp,event\n"
                                                     "u0,2024-01-01,a\nu0,2024-01-02,b\n")])
    return store


def refused(store: EventStore, *args, **kwargs) -> InputFileError:
    """Run a load that must fail; check that it changed nothing and return its error."""
    before = counts(store)
    with pytest.raises(InputFileError) as info:
        ingest_files(store, *args, **kwargs)
    assert counts(store) == before
    return info.value


def json_line(**fields) -> str:
    return json.dumps(fields) + "\n"


# -- NUL bytes past the first 64 KiB ---------------------------------------------------------

def test_nul_after_64_kib_in_csv_is_refused_naming_row_line_column(loaded, write):
    body = "".join(f"u{i},2024-01-01,event_{i}\n" for i in range(4000))
    data = ("user_id,timestamp,event\n" + body).encode()
    assert len(data) > BIG
    path = write("e.csv", data + b"u9,2024-01-02,bad\x00name\n")
    for mode in ("fail", "skip"):  # a damaged file, not a bad row: refused in both modes
        e = refused(loaded, "events", [path], on_error=mode)
        assert (e.file, e.row, e.line, e.column) == (str(path), 4001, 4002, "event")
        assert "NUL byte" in str(e) and "bad\\x00name" in str(e)
        assert "Nothing was loaded" in str(e)


def test_nul_after_64_kib_in_json_lines_is_refused(loaded, write):
    body = "".join(json_line(user_id=f"u{i}", ts="2024-01-01", event="a") for i in range(2000))
    assert len(body) > BIG
    raw = write("raw.jsonl",
                body.encode() + b'{"user_id":"u9","ts":"2024-01-01","event":"b\x00"}\n')
    escaped = write("esc.jsonl", body + '{"user_id":"u9","ts":"2024-01-01","event":"b\\u0000"}\n')
    nested = write("nested.jsonl", body + '{"user_id":"u9","ts":"2024-01-01","event":"b",'
                                          '"properties":{"k":"x\\u0000"}}\n')
    for mode in ("fail", "skip"):
        e = refused(loaded, "events", [raw], on_error=mode)
        assert (e.file, e.row, e.line, e.column) == (str(raw), 2001, 2001, "event")
        assert "NUL byte" in str(e)
        e = refused(loaded, "events", [escaped], on_error=mode)
        assert (e.file, e.row, e.column) == (str(escaped), 2001, "event")
        assert "\\\\u0000" in str(e)  # the value, as the file writes it
        e = refused(loaded, "events", [nested], on_error=mode)
        assert (e.row, e.column) == (2001, "properties")


def test_an_escaped_backslash_before_u0000_is_text_not_a_nul(store, write):
    path = write("e.jsonl", '{"user_id":"u1","ts":"2024-01-01","event":"a\\\\u0000"}\n')
    assert ingest_files(store, "events", [path]).rows_loaded == 1


def test_nul_after_64_kib_in_parquet_strings_is_refused(loaded, tmp_path):
    n = 20_000
    path = tmp_path / "e.parquet"
    pq.write_table(pa.table({"user_id": [f"user-{i:06d}" for i in range(n)],
                             "timestamp": ["2024-01-01T00:00:00Z"] * n,
                             "event": ["page_view"] * (n - 1) + ["page\x00view"]}), path)
    assert path.stat().st_size > BIG
    e = refused(loaded, "events", [path], on_error="skip")
    assert (e.file, e.row, e.column) == (str(path), n, "event")
    assert "page\\x00view" in str(e)
    nested = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"user_id": ["u1", "u2"], "timestamp": ["2024-01-01"] * 2,
                             "event": ["a", "b"],
                             "properties": [{"k": "fine"}, {"k": "bro\x00ken"}]}), nested)
    e = refused(loaded, "events", [nested])
    assert (e.row, e.column) == (2, "properties")


# -- malformed JSON lines --------------------------------------------------------------------

BAD_JSONL = (json_line(user_id="u1", ts="2024-01-01", event="a")
             + '{"user_id": "u2", "ts": oops}\n'
             + json_line(user_id="u3", ts="2024-01-03", event="c")
             + json_line(user_id="u4", ts="yesterday", event="d"))


def test_malformed_json_line_fails_by_default_and_changes_nothing(loaded, write):
    path = write("e.jsonl", BAD_JSONL)
    e = refused(loaded, "events", [path])
    assert (e.file, e.line) == (str(path), 2)
    assert e.value == '{"user_id": "u2", "ts": oops}'
    assert "not valid JSON" in str(e) and "Nothing was loaded" in str(e)
    assert e.suggest == ("on_error", "skip")


def test_malformed_json_line_is_skipped_and_written_to_rejects(loaded, write, tmp_path):
    path = write("e.jsonl", BAD_JSONL)
    report = ingest_files(loaded, "events", [path], on_error="skip", rejects_dir=tmp_path / "r")
    f = report.files[0]
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (4, 2, 2)
    assert f.reject_reasons["line is not valid JSON (see the rejects file)"] == 1
    with loaded.reader() as con:
        assert con.execute("SELECT customer_id FROM events WHERE customer_id <> 'u0' "
                           "ORDER BY 1").fetchall() == [("u1",), ("u3",)]
    with open(f.rejects_file, newline="") as handle:
        by_row = {int(r["row"]): r for r in csv.DictReader(handle)}
    assert by_row[2]["reason"].startswith("line 2: not valid JSON")
    assert by_row[2]["value"] == '{"user_id": "u2", "ts": oops}'
    # The rows after the bad line keep their numbers.
    assert by_row[4]["value"] == "yesterday" and by_row[4]["column"] == "ts"
    assert not list((loaded.home / "tmp").glob("*.jsonl"))  # the working copy is gone


def test_json_line_that_is_not_an_object_and_a_cut_last_line_are_skipped(store, write):
    path = write("e.jsonl", json_line(user_id="u1", ts="2024-01-01", event="a")
                 + "\n[1, 2]\n" + json_line(user_id="u2", ts="2024-01-01", event="b")
                 + '{"user_id": "u3"')
    f = ingest_files(store, "events", [path], on_error="skip").files[0]
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (4, 2, 2)
    with pytest.raises(InputFileError) as info:
        ingest_files(EventStore(store.home.parent / "other"), "events", [path])
    assert info.value.line == 3 and "object was expected" in str(info.value)


def test_a_file_of_only_bad_json_lines_is_refused(store, write):
    path = write("e.jsonl", "{oops}\n{still bad\n")
    e = refused(store, "events", [path], on_error="skip")
    assert "no line of the file is a JSON object" in str(e)


# -- duplicate columns -----------------------------------------------------------------------

def test_duplicate_csv_columns_are_refused_exactly_and_ignoring_case(loaded, write):
    e = refused(loaded, "events", [write("a.csv", "user_id,timestamp,event,event\n"
                                                  "u1,2024-01-01,a,b\n")])
    assert "column 'event' appears twice in the header" in str(e) and e.line == 1
    e = refused(loaded, "events", [write("b.csv", "user_id,timestamp,Event,event\n"
                                                  "u1,2024-01-01,a,b\n")], on_error="skip")
    assert "b.csv" in str(e) and "'Event' and 'event'" in str(e) and e.column == "event"


def test_duplicate_parquet_columns_are_refused(loaded, tmp_path):
    for names in (["user_id", "timestamp", "event", "event"],
                  ["user_id", "timestamp", "event", "EVENT"]):
        path = tmp_path / "dup.parquet"
        table = pa.Table.from_arrays([pa.array(["u1"]), pa.array(["2024-01-01"]),
                                      pa.array(["a"]), pa.array(["b"])], names=names)
        pq.write_table(table, path)
        assert pq.read_schema(path).names == names
        e = refused(loaded, "events", [path], on_error="skip")
        assert str(path) in str(e) and "appears twice in the Parquet schema" in str(e)
        assert e.column == names[3]


def test_duplicate_json_keys_are_refused(loaded, write):
    same = write("same.jsonl", json_line(user_id="u1", ts="2024-01-01", event="a")
                 + '{"user_id": "u2", "ts": "2024-01-01", "event": "a", "event": "b"}\n')
    case = write("case.jsonl", json_line(user_id="u1", ts="2024-01-01", event="a")
                 + '{"user_id": "u2", "ts": "2024-01-01", "Event": "a", "event": "b"}\n')
    across = write("across.jsonl", json_line(user_id="u1", ts="2024-01-01", event="a")
                   + json_line(User_ID="u2", ts="2024-01-01", event="b"))
    for mode in ("fail", "skip"):
        e = refused(loaded, "events", [same], on_error=mode)
        assert (e.file, e.line, e.column) == (str(same), 2, "event")
        assert "key 'event' appears twice in one object" in str(e)
        e = refused(loaded, "events", [case], on_error=mode)
        assert (e.line, e.column) == (2, "event") and "'Event' and 'event'" in str(e)
        e = refused(loaded, "events", [across], on_error=mode)
        assert (e.line, e.column) == (2, "User_ID") and "'user_id' on line 1" in str(e)


def test_similar_but_distinct_json_keys_still_load(store, write):
    path = write("e.jsonl", json_line(user_id="u1", ts="2024-01-01", event="a", phone="1",
                                      phone_2="2"))
    report = ingest_files(store, "events", [path])
    assert report.rows_loaded == 1
    with store.reader() as con:
        props = json.loads(con.execute("SELECT properties FROM events").fetchone()[0])
    assert props == {"phone": "1", "phone_2": "2"}


# -- implausible timestamps ------------------------------------------------------------------

TIMES = ("user_id,timestamp,event\n"
         "u1,2024-01-01T00:00:00Z,a\n"
         "u2,1970-01-01T00:00:00Z,b\n"
         "u3,2100-01-01T00:00:00Z,c\n")


def test_1970_and_2100_are_refused_by_default_with_the_reason(loaded, write):
    path = write("e.csv", TIMES)
    e = refused(loaded, "events", [path])
    assert (e.file, e.row, e.line, e.column, e.value) == (
        str(path), 2, 3, "timestamp", "1970-01-01T00:00:00Z")
    assert ("timestamp 1970-01-01 00:00:00 is before 1990-01-01 (JOURNEY_EARLIEST_DATE)"
            in str(e))
    assert "1 more row(s) have problems too" in str(e)


def test_1970_and_2100_are_rejected_rows_in_skip_mode(loaded, write, tmp_path):
    report = ingest_files(loaded, "events", [write("e.csv", TIMES)], on_error="skip",
                          rejects_dir=tmp_path / "r")
    f = report.files[0]
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (3, 1, 2)
    reasons = sorted(f.reject_reasons)
    assert reasons[0] == "timestamp is before 1990-01-01 (JOURNEY_EARLIEST_DATE)"
    assert reasons[1].startswith("timestamp is more than 1 day in the future")
    assert reasons[1].endswith("JOURNEY_MAX_FUTURE_DAYS)")
    with open(f.rejects_file, newline="") as handle:
        by_row = {int(r["row"]): r for r in csv.DictReader(handle)}
    assert by_row[3]["reason"].startswith(
        "timestamp 2100-01-01 00:00:00 is more than 1 day in the future")
    assert by_row[3]["value"] == "2100-01-01T00:00:00Z"


def test_widened_settings_accept_1970_and_2100(store, write, monkeypatch):
    monkeypatch.setenv("JOURNEY_EARLIEST_DATE", "1960-01-01")
    monkeypatch.setenv("JOURNEY_MAX_FUTURE_DAYS", "40000")
    report = ingest_files(store, "events", [write("e.csv", TIMES)])
    assert report.rows_loaded == 3
    with store.reader() as con:
        assert con.execute("SELECT min(ts), max(ts) FROM events").fetchone() == (
            datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def test_the_bounds_apply_to_every_kind_and_reader(store, write, tmp_path, monkeypatch):
    monkeypatch.setenv("JOURNEY_EARLIEST_DATE", "2020-06-01")
    e = refused(store, "customers", [write("c.csv", "customer_id,signup_at\nc1,2020-05-31\n")])
    assert e.column == "signup_at" and "before 2020-06-01 (JOURNEY_EARLIEST_DATE)" in str(e)
    e = refused(store, "feedback", [write("f.jsonl", json_line(
        id="f1", created_at="2019-01-01", source="nps", text="hi"))])
    assert e.column == "created_at"
    parquet = tmp_path / "e.parquet"
    pq.write_table(pa.table({"user_id": ["u1"], "event": ["a"],
                             "timestamp": pa.array([datetime(2000, 1, 1)], pa.timestamp("us"))}),
                   parquet)
    e = refused(store, "events", [parquet])
    assert (e.row, e.column) == (1, "timestamp")
    e = refused(store, "events", [write("epoch.csv", "user_id,time,event\nu1,0,a\n")])
    assert e.value == "0" and "timestamp 1970-01-01 00:00:00 is before" in str(e)


def test_a_timestamp_within_a_day_ahead_is_accepted_and_beyond_it_is_not(store, write):
    soon = datetime.now(UTC) + timedelta(hours=20)
    later = datetime.now(UTC) + timedelta(hours=30)
    path = write("e.csv", f"user_id,timestamp,event\nu1,{soon.isoformat()},a\n"
                          f"u2,{later.isoformat()},b\n")
    f = ingest_files(store, "events", [path], on_error="skip").files[0]
    assert (f.rows_loaded, f.rows_rejected) == (1, 1)


def test_unreadable_settings_fall_back_to_the_defaults():
    from analytics.config import settings

    found = settings({"JOURNEY_EARLIEST_DATE": "last tuesday", "JOURNEY_MAX_FUTURE_DAYS": "x"})
    assert (found.earliest_date.isoformat(), found.max_future_days) == ("1990-01-01", 1.0)


def test_csv_rows_after_a_skipped_line_keep_their_numbers(store, write, tmp_path):
    path = write("e.csv", "user_id,timestamp,event\nu1,2024-01-01,a\nu2,2024-01-01,b,extra\n"
                          "u3,2024-01-01,c\nu4,1970-01-01,d\n")
    f = ingest_files(store, "events", [path], on_error="skip",
                     rejects_dir=tmp_path / "r").files[0]
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (4, 2, 2)
    with open(f.rejects_file, newline="") as handle:
        rows = {r["row"]: r for r in csv.DictReader(handle)}
    assert set(rows) == {"2", "4"}
    assert rows["4"]["value"] == "1970-01-01"


def test_the_demo_data_is_within_the_bounds(tmp_path):
    demo = Path(__file__).resolve().parents[1] / "sample_data" / "demo"
    store = EventStore(tmp_path / "h")
    for kind in ("events", "customers", "feedback"):
        f = ingest_files(store, kind, [demo / f"{kind}.csv"]).files[0]
        assert f.rows_rejected == 0 and f.rows_loaded == f.rows_read


def test_skipping_bad_json_lines_in_a_file_with_look_alike_keys(store, write):
    path = write("e.jsonl", json_line(user_id="u1", ts="2024-01-01", event="a", phone="1",
                                      phone_2="2") + "{oops\n")
    f = ingest_files(store, "events", [path], on_error="skip").files[0]
    assert (f.rows_loaded, f.rows_rejected) == (1, 1)
