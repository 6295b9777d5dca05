"""Property-based tests over the ingest validators: any input is loaded or refused clearly."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.errors import InputFileError, JourneyError
from analytics.store import EventStore, ingest_files
from analytics.store import files as files_module
from analytics.store.files import sniff

cell = st.one_of(st.text(max_size=30), st.integers().map(str), st.floats(allow_nan=True).map(str),
                 st.datetimes(min_value=datetime(1970, 1, 2)).map(lambda d: d.isoformat()),
                 st.sampled_from(["", "NULL", "1704103200", "1704103200000", "31/12/2024",
                                  "'; DROP TABLE events; --", "ünï", "\"quoted\""]))


def _csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["user_id", "timestamp", "event", "extra"])
    writer.writerows(rows)
    return out.getvalue()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(cell, min_size=4, max_size=4), min_size=1, max_size=8))
def test_any_csv_is_loaded_or_refused_with_our_error(tmp_path_factory, rows):
    tmp = tmp_path_factory.mktemp("prop")
    path = tmp / "e.csv"
    path.write_text(_csv(rows), encoding="utf-8")
    store = EventStore(tmp / "h")
    try:
        report = ingest_files(store, "events", [path], on_error="skip")
    except JourneyError:
        return
    f = report.files[0]
    assert f.rows_loaded + f.rows_rejected + f.rows_duplicate_in_file == f.rows_read
    with store.reader() as con:
        assert con.execute("SELECT count(*) FROM events").fetchone()[0] == f.rows_loaded
        assert con.execute("SELECT count(*) FROM events WHERE ts IS NULL OR event_name IS NULL"
                           ).fetchone()[0] == 0


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300), st.sampled_from([".csv", ".jsonl", ".parquet", ".tsv"]))
def test_any_bytes_are_sniffed_or_refused(tmp_path_factory, data, suffix):
    path = tmp_path_factory.mktemp("bytes") / f"f{suffix}"
    path.write_bytes(data)
    try:
        sniff(path)
    except InputFileError as exc:
        assert str(path) in str(exc)


def test_size_and_row_caps_have_clear_messages(tmp_path, monkeypatch):
    path = tmp_path / "e.csv"
    path.write_text("user_id,timestamp,event\n" + "u1,2024-01-01,a\n" * 50)
    monkeypatch.setattr(files_module, "MAX_FILE_BYTES", 100)
    with pytest.raises(InputFileError, match="above the 0 MB limit|JOURNEY_MAX_FILE_MB"):
        sniff(path)
    monkeypatch.setattr(files_module, "MAX_FILE_BYTES", 1 << 30)
    import analytics.store.file_loader as ingest_module

    monkeypatch.setattr(ingest_module, "MAX_ROWS", 10)
    store = EventStore(tmp_path / "h")
    with pytest.raises(InputFileError, match="50 rows, above the 10-row limit"):
        ingest_files(store, "events", [path])
