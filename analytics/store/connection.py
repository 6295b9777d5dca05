"""Opening the store: where it lives, read-only versus writing, and a clear 'busy' message."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import duckdb

from analytics.errors import StoreBusyError, StoreDamagedError, StoreError
from analytics.store import faults
from analytics.store.faults import (
    check_before_write,
    damaged_error,
    disk_full_error,
    is_corruption,
    is_disk_full,
    lock_holder,
    record_health,
)
from analytics.store.schema import DEFAULT_STAGES, SCHEMA_VERSION, TABLES_DDL, VIEWS_DDL

STORE_FILENAME = "journey.duckdb"


def data_home(home: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: an explicit `home`, else $JOURNEY_HOME, else ./.journey."""
    if home:
        return Path(home).expanduser().absolute()
    from analytics.config import settings

    env = settings().home
    if env:
        return Path(env).expanduser().absolute()
    return Path.cwd() / ".journey"


def store_path(home: str | os.PathLike[str] | None = None) -> Path:
    return data_home(home) / STORE_FILENAME


class Connection(Protocol):
    """What the analytics use of a connection: a plain DuckDB one (from `writer()`) or the
    `TimedConnection` that `reader()` yields."""

    def execute(self, query: str, parameters: object = None) -> duckdb.DuckDBPyConnection: ...

    def register(self, view_name: str, python_object: object) -> duckdb.DuckDBPyConnection: ...

    def unregister(self, view_name: str) -> duckdb.DuckDBPyConnection: ...


def one(con: Connection, query: str, parameters: object = None) -> tuple[Any, ...]:
    """The row of a query that always returns exactly one (an aggregate, a DELETE's count)."""
    row = con.execute(query, parameters).fetchone()
    if row is None:
        raise RuntimeError(f"Expected one row, got none from: {query}")
    return row


def _configure(con: duckdb.DuckDBPyConnection) -> None:
    # Naive timestamps in user files mean UTC; results come back in UTC too.
    con.execute("SET TimeZone = 'UTC'")
    # Nothing is ever fetched at run time (extensions are statically linked in the wheel).
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    # DuckDB's own progress bar would print into our tables and JSON.
    con.execute("SET enable_progress_bar = false")


# Inside one process DuckDB cannot hold a read-only and a read-write connection to the same
# file at once (the web app reads while a load writes), so opening waits for the other to close.
SAME_PROCESS_WAIT_S = 30.0


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + SAME_PROCESS_WAIT_S
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.ConnectionException as exc:
            if "different configuration" not in str(exc) or time.monotonic() > deadline:
                raise StoreBusyError(
                    f"The store {path} is busy in this app (a question is being answered "
                    "while data is loading). Try again in a moment.") from exc
            time.sleep(0.2)


def _open(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Open the store; while another process holds its lock (a reader when we write, a writer
    when we read), wait up to JOURNEY_WRITE_WAIT_S, saying so once, then name the holder."""
    from analytics.config import settings

    deadline: float | None = None
    while True:
        try:
            con = _connect(path, read_only)
            break
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" not in text.lower():
                if is_corruption(exc):
                    raise damaged_error(path, exc) from None
                raise StoreError(f"Cannot open the store {path}: {text}") from exc
            wait = settings().write_wait_seconds
            holder = lock_holder(text)
            if deadline is None:
                deadline = time.monotonic() + wait
                if wait > 0:
                    faults.waiting_notice(f"The store {path} is in use by {holder}; waiting "
                                          f"up to {wait:.0f} s for it to finish...")
            if time.monotonic() >= deadline:
                doing = "read" if read_only else "write to"
                raise StoreBusyError(
                    f"The store {path} is still in use by {holder} after {wait:.0f} s, so "
                    f"this command cannot {doing} it. Wait for that one to finish (or stop "
                    "it) and try again; JOURNEY_WRITE_WAIT_S sets how long to wait."
                ) from None
            time.sleep(0.2)
        except duckdb.Error as exc:
            if is_corruption(exc):
                raise damaged_error(path, exc) from None
            raise StoreError(f"Cannot open the store {path}: {exc}.") from exc
    _configure(con)
    return con


def initialise_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create tables and views if missing and seed the default stages (idempotent)."""
    con.execute(TABLES_DDL)
    con.execute(VIEWS_DDL)
    if one(con, "SELECT count(*) FROM stages")[0] == 0:
        con.executemany(
            "INSERT INTO stages VALUES (?, ?)",
            [(stage, position) for position, stage in enumerate(DEFAULT_STAGES, start=1)],
        )
    con.execute("DELETE FROM meta WHERE key = 'schema_version'")
    con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    row = one(con, "SELECT max(CAST(value AS INTEGER)) FROM meta "
                   "WHERE key = 'schema_version'")
    return int(row[0] or 0)




class QueryTimeoutError(StoreError):
    """A question ran longer than the store's query time limit."""


class TimedConnection:
    """A read-only connection whose every query is interrupted after a time limit.

    DuckDB has no statement timeout, so a timer calls `interrupt()`; the interrupted query raises
    and the store is untouched (the connection is read-only anyway).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, seconds: float,
                 path: Path | None = None) -> None:
        self._con = con
        self._seconds = seconds
        self._path = path

    def execute(self, query: str, parameters: object = None) -> duckdb.DuckDBPyConnection:
        import threading

        timer = threading.Timer(self._seconds, self._con.interrupt)
        timer.daemon = True
        timer.start()
        try:
            return self._con.execute(query, parameters or [])
        except duckdb.InterruptException:
            raise QueryTimeoutError(
                f"The question took longer than {self._seconds:.0f} s and was stopped. Narrow "
                "it (a shorter date range, one segment) or raise JOURNEY_QUERY_TIMEOUT_S."
            ) from None
        except duckdb.Error as exc:
            if self._path is not None and is_corruption(exc):
                raise damaged_error(self._path, exc, self._con) from None
            raise
        finally:
            timer.cancel()

    def register(self, view_name: str, python_object: object) -> duckdb.DuckDBPyConnection:
        return self._con.register(view_name, python_object)

    def unregister(self, view_name: str) -> duckdb.DuckDBPyConnection:
        return self._con.unregister(view_name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def query_seconds() -> float:
    from analytics.config import settings

    return settings().query_seconds


# Read connections a one-shot process keeps until it ends (see leave_readers_open).
_left_open: list | None = None


def leave_readers_open() -> None:
    """For a process that ends right after a read-only command (the command line): readers are
    not closed, because closing frees DuckDB's buffers (~0.05 s after a query on 10M events)
    and the end of the process does that anyway. Never for a long-running process; a writer
    in the same process closes them first."""
    global _left_open
    if _left_open is None:
        _left_open = []


def _close_left_open() -> None:
    while _left_open:
        _left_open.pop().close()


def close_readers_left_open() -> None:
    """Close what leave_readers_open kept and keep no more: the process goes on after all."""
    global _left_open
    _close_left_open()
    _left_open = None


class EventStore:
    """The DuckDB file under the data directory.

    Analytics read through `reader()` (read-only, so a question can never change data); ingest
    and edits go through `writer()`, which creates the store on first use.
    """

    def __init__(self, home: str | os.PathLike[str] | None = None,
                 engine: str | None = None) -> None:
        self.home = data_home(home)
        self.path = self.home / STORE_FILENAME
        self._engine_choice = engine  # `journey --engine NAME`; else $JOURNEY_ENGINE, the file
        self._engine_spec: Any = None

    @property
    def engine_spec(self) -> Any:
        """Where read-only analytics run (analytics/engines/engine_open.py): DuckDB, the store
        itself, unless --engine, $JOURNEY_ENGINE or the data folder's engine.toml names Spark
        or ClickHouse."""
        if self._engine_spec is None:
            from analytics.config import settings
            from analytics.engines.engine_open import CONFIG_FILE, read_spec

            self._engine_spec = read_spec(self.home / CONFIG_FILE, self._engine_choice,
                                          settings().engine)
        return self._engine_spec

    def exists(self) -> bool:
        return self.path.exists()

    def temp_folder(self) -> Path:
        """Where temporary files about this data live (uploads, exports): inside the data
        folder, so that they go where the data goes and an erasure can clear them."""
        folder = self.home / "tmp"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def change_stamp(self) -> tuple:
        """Changes whenever a write reaches the store (its file or its write-ahead log); costs
        two stat calls, so caches can check it on every question instead of opening the store."""
        stamp: list[tuple[int, int, int] | None] = []
        for path in (self.path, self.path.with_name(self.path.name + ".wal")):
            try:
                info = path.stat()
                stamp.append((info.st_mtime_ns, info.st_size, info.st_ino))
            except FileNotFoundError:
                stamp.append(None)
        return tuple(stamp)

    @contextmanager
    def writer(self, needs_bytes: int = 0) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection. Refused on a damaged file; a full disk or a damaged block
        met while writing becomes a StoreError (the caller's transaction is rolled back).
        `needs_bytes`: the size of what is being loaded, for the disk-full message."""
        _close_left_open()  # in one process DuckDB cannot have both on the same file
        self.home.mkdir(parents=True, exist_ok=True)
        check_before_write(self.path)
        con = _open(self.path, read_only=False)
        fault: StoreError | None = None
        try:
            initialise_schema(con)
            yield con
        except Exception as exc:
            fault = (damaged_error(self.path, exc, con) if is_corruption(exc)
                     else disk_full_error(self.path, needs_bytes) if is_disk_full(exc)
                     else None)
            if fault is None:
                raise
        finally:
            try:
                con.close()
            except duckdb.Error as exc:  # the checkpoint at close can meet a full disk too
                if fault is None and not is_disk_full(exc):
                    raise
                fault = fault or disk_full_error(self.path, needs_bytes)
            finally:
                if not isinstance(fault, StoreDamagedError):
                    record_health(self.path, [])  # our own write: the file is known good
        if fault is not None:
            raise fault

    @contextmanager
    def reader(self, local: bool = False) -> Iterator[Any]:
        """A read-only connection: to the store, or with an engine configured (and `local`
        not asked for) to that engine, where the store's tables are loaded."""
        if not self.path.exists():
            raise StoreError(
                f"No data yet in {self.home}. Load your files with `journey ingest` or try the "
                "demo with `journey demo-data`."
            )
        if not local and not self.engine_spec.local:
            from analytics.engines.engine_open import engine_connection

            yield engine_connection(self.engine_spec, self, query_seconds())
            return
        con = _open(self.path, read_only=True)
        try:
            version = schema_version(con)
        except duckdb.Error as exc:
            con.close()
            if is_corruption(exc):
                raise damaged_error(self.path, exc) from None
            raise
        if version < SCHEMA_VERSION:
            # A store written by an older version: bring its views up to date once.
            con.close()
            with self.writer() as upgrade:
                from analytics.store.steps import rebuild_all

                upgrade.execute("BEGIN TRANSACTION")
                rebuild_all(upgrade)
                upgrade.execute("COMMIT")
            con = _open(self.path, read_only=True)
        try:
            yield TimedConnection(con, query_seconds(), self.path)
        finally:
            if _left_open is not None:
                _left_open.append(con)
            else:
                con.close()
