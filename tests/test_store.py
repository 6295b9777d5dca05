"""The store as a file: busy writers, interrupted loads, read-only questions."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import duckdb
import pytest

from analytics.errors import JourneyError, StoreBusyError, StoreError, UnknownNameError
from analytics.store import EventStore, ingest_files
from analytics.store.stages import add_stage, set_event_stage

HOLD_WRITER = """
import sys, time
from analytics.store import EventStore
with EventStore(sys.argv[1]).writer():
    print("holding", flush=True)
    time.sleep(60)
"""


def test_second_writer_gets_a_busy_message(tmp_path):
    home = tmp_path / "h"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_WRITER, str(home)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(StoreBusyError, match="busy"):
            with EventStore(home).writer():
                pass
    finally:
        holder.kill()
        holder.wait()
    with EventStore(home).writer():  # free again once the other process is gone
        pass


def test_reader_is_read_only(store, write):
    ingest_files(store, "events", [write("e.csv", "user_id,timestamp,event\nu1,2024-01-01,a\n")])
    with store.reader() as con:
        with pytest.raises(duckdb.Error):
            con.execute("DELETE FROM events")
    with store.reader() as con:
        assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 1


def test_reading_an_empty_home_says_what_to_do(tmp_path):
    with pytest.raises(StoreError, match="journey demo-data"):
        with EventStore(tmp_path / "nothing").reader():
            pass


KILLED_INGEST = """
import sys
from analytics.store import EventStore, ingest_files
def slow(description, done, total):
    if description.startswith("Writing") and done > 0:
        print("writing", flush=True)
        import time; time.sleep(60)
ingest_files(EventStore(sys.argv[1]), "events", [sys.argv[2]], progress=slow)
"""


@pytest.mark.slow
def test_killing_an_ingest_midway_leaves_the_store_as_it_was(tmp_path, monkeypatch):
    home = tmp_path / "h"
    store = EventStore(home)
    first = tmp_path / "first.csv"
    first.write_text("user_id,timestamp,event\nu0,2024-01-01,a\n")
    ingest_files(store, "events", [first])
    big = tmp_path / "big.csv"
    with big.open("w") as handle:
        handle.write("user_id,timestamp,event\n")
        for i in range(1_200_000):  # more than two write batches
            handle.write(f"u{i},2024-01-01T00:00:00Z,e{i % 7}\n")
    proc = subprocess.Popen([sys.executable, "-c", KILLED_INGEST, str(home), str(big)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"  # the first batch is in
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    with store.reader() as con:
        assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 1
        assert con.execute("SELECT count(*) FROM loads").fetchone()[0] == 1
    assert ingest_files(store, "events", [big]).rows_loaded == 1_200_000


def test_stage_editing_checks_names(store, write):
    ingest_files(store, "events", [write("e.csv", "user_id,timestamp,event\n"
                                                  "u1,2024-01-01,pricing_view\n")])
    with pytest.raises(UnknownNameError) as info:
        set_event_stage(store, "pricing_veiw", "consideration")
    assert info.value.suggestions == ["pricing_view"]
    with pytest.raises(UnknownNameError, match="consideration"):
        set_event_stage(store, "pricing_view", "considerations")
    assert add_stage(store, "Advocacy", after="retention")[-1] == "advocacy"
    with pytest.raises(JourneyError, match="already exists"):
        add_stage(store, "advocacy")
    with pytest.raises(JourneyError, match="letters"):
        add_stage(store, "a b!")
    set_event_stage(store, "pricing_view", "advocacy")
    with store.reader() as con:
        assert con.execute("SELECT stage, stage_position FROM journey_events").fetchone() == (
            "advocacy", 6)


def test_writer_waits_for_readers_in_the_same_process(store, write):
    import threading

    ingest_files(store, "events", [write("e.csv", "user_id,timestamp,event\nu1,2024-01-01,a\n")])
    reader = store.reader()
    con = reader.__enter__()
    threading.Timer(0.8, lambda: reader.__exit__(None, None, None)).start()
    started = time.monotonic()
    with store.writer() as w:  # waits for the reader to close instead of failing
        w.execute("SELECT 1")
    assert time.monotonic() - started >= 0.5
    del con
