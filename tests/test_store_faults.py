"""Faults of the store's file: a damaged block, a full disk, another process holding it. Each
gives a clear message and exit code 2, and none of them leads to a write on a damaged file."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from analytics.errors import DiskFullError, StoreDamagedError
from analytics.store import EventStore
from analytics.store import connection as store_connection
from analytics.store.faults import _human, health_path
from analytics.store.ingest import ingest_files
from analytics.store.status import salvage_store, verify_store
from tests.test_cli import journey

HEADER_BYTES = 3 * 4096


@pytest.fixture(scope="module")
def small_store(tmp_path_factory) -> Path:
    """A small demo store, made once; tests damage copies of it."""
    from sample_data.demo import load_demo

    home = tmp_path_factory.mktemp("small") / "home"
    load_demo(EventStore(home), people=300, seed=3)
    health_path(home / "journey.duckdb").unlink(missing_ok=True)
    return home


@pytest.fixture
def copy(small_store: Path, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(small_store / "journey.duckdb", home / "journey.duckdb")
    shutil.copytree(small_store / "demo", home / "demo")
    return home


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def damage_table(path: Path, table: str) -> int:
    """Flip one 8-byte word inside a data block that only `table` uses (past the block's
    checksum). One word, not a run of them: DuckDB's checksum XORs a hash of each word, so the
    same change to an even number of equal words (zeros, say) cancels out and goes unseen."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        size = con.execute("SELECT block_size FROM pragma_database_size()").fetchone()[0]
        owners: dict[int, set[str]] = {}
        for (name,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall():
            for (block,) in con.execute(f"SELECT DISTINCT block_id FROM pragma_storage_info("
                                        f"'{name}') WHERE block_id >= 0").fetchall():
                owners.setdefault(block, set()).add(name)
    finally:
        con.close()
    block = min(b for b, names in owners.items() if names == {table})
    offset = HEADER_BYTES + block * size + 1000
    with path.open("r+b") as handle:
        handle.seek(offset)
        original = handle.read(8)
        handle.seek(offset)
        handle.write(bytes(b ^ 0xFF for b in original))
    return offset


def test_a_clean_store_verifies_and_is_remembered_as_good(copy):
    path = copy / "journey.duckdb"
    check = verify_store(path)
    assert check.damaged == []
    assert {t.table for t in check.tables} >= {"events", "customers", "feedback", "stages"}
    assert json.loads(health_path(path).read_text())["state"] == "ok"


def test_doctor_names_the_damaged_table_and_exits_2(copy):
    damage_table(copy / "journey.duckdb", "events")
    result = journey("doctor", home=copy)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "damaged" in result.stdout and "events" in result.stdout
    assert "--salvage" in result.stdout
    as_json = json.loads(journey("doctor", "--json", home=copy).stdout)
    assert as_json[0]["damaged"] == ["events"]


def test_commands_on_a_damaged_table_exit_2_without_a_traceback(copy, tmp_path):
    damage_table(copy / "journey.duckdb", "events")
    for command in (["paths"], ["churn"], ["export", "events", str(tmp_path / "out.csv")]):
        result = journey(*command, home=copy)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, result.stderr
        assert "is damaged (table events)" in result.stderr, result.stderr
        assert "journey doctor" in result.stderr


def test_a_tool_on_a_damaged_table_answers_with_the_message(copy):
    # The web app and the MCP server call tools in-process: an answer, not an exception.
    from tools.base import ToolContext
    from tools.registry import call_tool

    damage_table(copy / "journey.duckdb", "events")
    result = call_tool(ToolContext(EventStore(copy)), "paths", {})
    assert not result.ok
    assert isinstance(result.error, StoreDamagedError)
    assert "events" in str(result.error)


@pytest.mark.parametrize("remembered", [True, False], ids=["after-doctor", "unverified"])
def test_no_write_touches_a_damaged_file(copy, remembered):
    path = copy / "journey.duckdb"
    damage_table(path, "customers")
    if remembered:
        assert journey("doctor", home=copy).returncode == 2
    else:
        health_path(path).unlink(missing_ok=True)
    before = digest(path)
    for command in (["ingest", "customers", str(copy / "demo" / "customers.parquet")],
                    ["ingest", "events", str(copy / "demo" / "events.parquet")],
                    ["stages", "add", "advocacy"], ["forget", "--yes", "C00001"]):
        result = journey(*command, home=copy)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        assert "damaged (table customers)" in result.stderr, result.stderr
        assert "Nothing was written" in result.stderr
    assert digest(path) == before
    assert not path.with_name(path.name + ".wal").exists()


def test_salvage_copies_every_readable_table_and_reports_the_rest(copy, tmp_path):
    path = copy / "journey.duckdb"
    damage_table(path, "feedback")
    before = digest(path)
    out = tmp_path / "salvaged"
    result = journey("doctor", "--salvage", str(out), home=copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "feedback" in result.stdout and "could not be read" in result.stdout
    assert "mv " in result.stdout  # says how to put it back in place
    report = json.loads((out / "salvage_report.json").read_text())
    assert report["damaged_tables"] == ["feedback"]
    saved = {t["table"]: t for t in report["tables"]}
    for table in ("events", "customers", "stages", "stage_map", "identity_map"):
        assert (out / f"{table}.parquet").exists()
        assert saved[table]["rows_lost"] == 0
    original = duckdb.connect(str(path), read_only=True)
    events = original.execute("SELECT count(*) FROM events").fetchone()[0]
    original.close()
    assert saved["events"]["rows_saved"] == events > 0
    assert duckdb.sql(f"SELECT count(*) FROM '{out / 'events.parquet'}'").fetchall()[0][0] == events
    # The salvaged store is a store: it answers, and it can be written to.
    status = journey("status", "--json", home=out)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["events"] == events
    assert journey("doctor", home=out).returncode in (0, 1)  # 1: search index not built yet
    assert digest(path) == before  # the damaged file was only read


def test_a_damaged_header_gets_a_clear_message(copy):
    path = copy / "journey.duckdb"
    with path.open("r+b") as handle:
        handle.seek(100)
        handle.write(b"\xff" * 8)
    before = digest(path)
    for command in (["status"], ["paths"], ["doctor"],
                    ["ingest", "customers", str(copy / "demo" / "customers.parquet")]):
        result = journey(*command, home=copy)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        shown = result.stdout + result.stderr
        assert "Traceback" not in shown
        assert "header" in shown and "damaged" in shown
    salvage = journey("doctor", "--salvage", str(copy.parent / "out"), home=copy)
    assert salvage.returncode == 2 and "backup" in salvage.stderr
    assert digest(path) == before


# --- A full disk ------------------------------------------------------------------------------


class _FullDisk:
    """A connection whose inserts into the events table fail as DuckDB's do on a full disk."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con

    def execute(self, query: str, parameters: object = None):
        if "INSERT INTO events" in query:
            raise duckdb.IOException('IO Error: Could not write file "journey.duckdb": No '
                                     'space left on device')
        return self._con.execute(query, parameters or [])

    def __getattr__(self, name: str):
        return getattr(self._con, name)


def _counts(path: Path) -> tuple:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return tuple(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                     for t in ("events", "customers", "loads", "stage_map"))
    finally:
        con.close()


def test_a_full_disk_says_how_much_space_and_leaves_the_store_unchanged(copy, monkeypatch):
    path = copy / "journey.duckdb"
    store = EventStore(copy)
    with store.writer() as con:
        con.execute("DELETE FROM events WHERE event_id IN (SELECT event_id FROM events "
                    "LIMIT 100)")
    before = _counts(path)
    real_open = store_connection._open
    monkeypatch.setattr(store_connection, "_open", lambda p, read_only: (
        real_open(p, read_only) if read_only else _FullDisk(real_open(p, read_only))))
    events_file = copy / "demo" / "events.parquet"
    with pytest.raises(DiskFullError) as caught:
        ingest_files(store, "events", [events_file])
    message = str(caught.value)
    assert "disk holding" in message and "is full" in message
    needed = 3 * events_file.stat().st_size
    assert caught.value.needed_bytes == needed
    assert f"needs about {_human(needed)} free" in message and "rolled back" in message
    assert f"{_human(caught.value.free_bytes)} free is left" in message
    monkeypatch.undo()
    assert _counts(path) == before
    assert verify_store(path).damaged == []


def test_a_full_disk_on_the_command_line_exits_2(copy, monkeypatch, capsys):
    from ui import cli

    with EventStore(copy).writer() as con:  # so that the load has rows to insert
        con.execute("DELETE FROM events WHERE event_id IN (SELECT event_id FROM events "
                    "LIMIT 100)")
    real_open = store_connection._open
    monkeypatch.setattr(store_connection, "_open", lambda p, read_only: (
        real_open(p, read_only) if read_only else _FullDisk(real_open(p, read_only))))
    monkeypatch.setattr(sys, "argv", ["journey", "--home", str(copy), "ingest", "events",
                                      str(copy / "demo" / "events.parquet")])
    with pytest.raises(SystemExit) as exited:
        cli.run()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "is full" in err and "needs about" in err and "Traceback" not in err


@pytest.mark.slow
def test_a_really_full_disk(tmp_path, small_store):
    """A 2 MB tmpfs (needs root; skipped where mounting is not allowed)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        home = mount / "home"
        ok = journey("ingest", "customers", str(small_store / "demo" / "customers.parquet"),
                     home=home)
        assert ok.returncode == 0, ok.stderr
        before = _counts(home / "journey.duckdb")
        big = tmp_path / "events.parquet"  # several times what 2 MB can hold
        duckdb.sql(f"COPY (SELECT 'e' || i AS event_id, 'C' || (i % 500) AS customer_id, "
                   f"TIMESTAMP '2025-01-01' + INTERVAL (i) SECOND AS timestamp, "
                   f"'event_' || (i % 7) AS event, md5(i::VARCHAR) AS note "
                   f"FROM range(200000) t(i)) TO '{big}' (FORMAT parquet)")
        full = journey("ingest", "events", str(big), home=home)
        assert full.returncode == 2, full.stdout + full.stderr
        assert "Traceback" not in full.stderr
        assert "is full" in full.stderr and "needs about" in full.stderr
        assert _counts(home / "journey.duckdb") == before
        status = journey("status", "--json", home=home)
        assert status.returncode == 0 and json.loads(status.stdout)["events"] == 0
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


# --- Another process has the store open ---------------------------------------------------------

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute("SELECT count(*) FROM events").fetchall()
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def _hold(path: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(seconds)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    return holder


def test_a_write_waits_for_a_reader_in_another_process(copy):
    holder = _hold(copy / "journey.duckdb", 2.0)
    try:
        started = time.monotonic()
        result = journey("stages", "add", "advocacy", home=copy,
                         env={"JOURNEY_WRITE_WAIT_S": "20"})
        waited = time.monotonic() - started
    finally:
        holder.wait(timeout=30)
    assert result.returncode == 0, result.stderr
    assert f"in use by PID {holder.pid}" in result.stderr and "waiting up to 20 s" in result.stderr
    assert "advocacy" in result.stdout
    assert waited >= 1.0


def test_a_holder_that_never_lets_go_is_named_within_the_wait(copy):
    holder = _hold(copy / "journey.duckdb", 60.0)
    try:
        started = time.monotonic()
        result = journey("ingest", "customers", str(copy / "demo" / "customers.parquet"),
                         home=copy, env={"JOURNEY_WRITE_WAIT_S": "1"})
        took = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"still in use by PID {holder.pid} (python" in result.stderr, result.stderr
    assert "after 1 s" in result.stderr and "JOURNEY_WRITE_WAIT_S" in result.stderr
    assert took < 15


def test_a_long_running_process_holds_no_reader_between_questions(copy):
    # What the web app does: a tool per question, in one long-lived process. Between two
    # questions another process must be able to write at once.
    from tools.base import ToolContext
    from tools.registry import call_tool

    tools = ToolContext(EventStore(copy))
    assert call_tool(tools, "describe_data", {}).ok
    result = journey("stages", "add", "advocacy", home=copy,
                     env={"JOURNEY_WRITE_WAIT_S": "0"})
    assert result.returncode == 0, result.stderr
    assert "waiting" not in result.stderr
    assert call_tool(tools, "describe_data", {}).ok


def test_lock_holder_reads_the_command_line():
    from analytics.store.faults import lock_holder

    text = f'Conflicting lock is held in /usr/bin/python3 (PID {os.getpid()}). However...'
    assert lock_holder(text).startswith(f"PID {os.getpid()} (python")
    assert lock_holder("Conflicting lock is held in x (PID 99999999).") == "PID 99999999"
    assert lock_holder("no pid here") == "another process"


def test_salvage_refuses_the_data_folder_itself(copy):
    from analytics.errors import ArgumentError

    with pytest.raises(ArgumentError):
        salvage_store(EventStore(copy), copy)
