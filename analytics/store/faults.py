"""When the store's file is not fine: damaged blocks, a full disk, another process holding
it. Each becomes a StoreError that says what happened and what to do; a damaged file is
remembered next to it, so that nothing opens it for writing."""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb

from analytics.errors import DiskFullError, StoreDamagedError, StoreError


def _one(con: duckdb.DuckDBPyConnection, query: str, parameters: object = None) -> Any:
    row = con.execute(query, parameters or []).fetchone()
    return row[0] if row else None


# --- Another process holds the file ---------------------------------------------------------------

def _say_waiting(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# Told once when opening has to wait for another process (the command line prints it).
waiting_notice: Callable[[str], None] = _say_waiting


def lock_holder(text: str) -> str:
    """Who holds DuckDB's file lock, from its error text: 'PID 1234 (journey ui)'."""
    match = re.search(r"\(PID (\d+)\)", text)
    if not match:
        return "another process"
    pid = match.group(1)
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return f"PID {pid}"
    args = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
    if not args:
        return f"PID {pid}"
    args[0] = Path(args[0]).name
    if args[0].startswith("python") and len(args) > 1 and not args[1].startswith("-"):
        args[1] = Path(args[1]).name
    command = " ".join(" ".join(args).split())
    return f"PID {pid} ({command[:77] + '...' if len(command) > 80 else command})"



# --- Damage and disk space --------------------------------------------------------------------

_CORRUPTION = ("corrupt database file", "not a valid duckdb database file",
               "does not match stored checksum")
_DISK_FULL = ("no space left on device", "disk quota exceeded")
_HEADER_BYTES = 3 * 4096  # DuckDB's main header and its two database headers
_BLOCK_AT = re.compile(r"block at location (\d+)")


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def is_corruption(exc: BaseException) -> bool:
    return any(isinstance(e, duckdb.Error) and any(m in str(e).lower() for m in _CORRUPTION)
               for e in _chain(exc))


def is_disk_full(exc: BaseException) -> bool:
    return any(isinstance(e, (duckdb.Error, OSError)) and any(
        m in str(e).lower() for m in _DISK_FULL) for e in _chain(exc))


def health_path(path: Path) -> Path:
    """Next to the store: the last verification's verdict and the file it was about."""
    return path.with_name(path.name + ".health.json")


def file_stamp(path: Path) -> list:
    stamp: list = []
    for part in (path, path.with_name(path.name + ".wal")):
        try:
            info = part.stat()
            stamp.append([info.st_size, info.st_mtime_ns, info.st_ino])
        except FileNotFoundError:
            stamp.append(None)
    return stamp


def recorded_health(path: Path) -> dict | None:
    """The verdict recorded about this very file (None when none is, or the file changed)."""
    try:
        health = json.loads(health_path(path).read_text())
    except (OSError, ValueError):
        return None
    return health if isinstance(health, dict) and health.get("stamp") == file_stamp(path) \
        else None


def record_health(path: Path, damaged: list[str], detail: str = "") -> None:
    try:
        health_path(path).write_text(json.dumps({
            "state": "damaged" if damaged else "ok", "tables": damaged, "detail": detail,
            "stamp": file_stamp(path), "checked_at": time.time()}))
    except OSError:
        pass  # a read-only data folder: verification just runs again next time


def damage_message(path: Path, tables: list[str]) -> str:
    if "header" in tables:
        return (f"The store {path} is damaged (its header or catalog cannot be read), so "
                "nothing can be read from it: restore it from a backup, or move it away and "
                "load your files again (`journey doctor` checks it).")
    what = ("table " if len(tables) == 1 else "tables ") + ", ".join(tables) if tables \
        else "a table"
    return (f"The store {path} is damaged ({what}): run `journey doctor` to see what can be "
            "read, and `journey doctor --salvage DIR` to copy it out.")


def damaged_tables(con: duckdb.DuckDBPyConnection, exc: BaseException) -> list[str]:
    """The tables that have data in the block DuckDB's checksum error names."""
    match = _BLOCK_AT.search(str(exc))
    if not match:
        return []
    location = int(match.group(1))
    if location < _HEADER_BYTES:
        return ["header"]
    try:
        size = _one(con, "SELECT block_size FROM pragma_database_size() "
                         "WHERE database_name = current_database()")
        block = (location - _HEADER_BYTES) // int(size)
        found = []
        for (table,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name "
                                    "= current_database() ORDER BY table_name").fetchall():
            quoted = table.replace("'", "''")
            if _one(con, f"SELECT count(*) FROM pragma_storage_info('{quoted}') "
                         "WHERE block_id = ?", [block]):
                found.append(table)
        return found
    except duckdb.Error:
        return []


def damaged_error(path: Path, exc: BaseException,
                  con: duckdb.DuckDBPyConnection | None = None) -> StoreDamagedError:
    """A checksum failure as the user reads it, remembered so that no write opens the file."""
    tables = damaged_tables(con, exc) if con is not None else ["header"]
    previous = recorded_health(path) or {}
    known = sorted(set(tables) | set(previous.get("tables") or [])) or ["unknown"]
    record_health(path, known, str(exc).splitlines()[0][:300])
    return StoreDamagedError(damage_message(path, [t for t in known if t != "unknown"]),
                             tables=known)


def _human(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} TB"


# A load needs room for the rows (DuckDB compresses, but indexes, the write-ahead log and a
# checkpoint copy come on top); three times the input is a safe figure to ask for.
DISK_FACTOR = 3


def disk_full_error(path: Path, needs_bytes: int) -> DiskFullError:
    free = shutil.disk_usage(path.parent).free
    try:
        store_size = path.stat().st_size
    except OSError:
        store_size = 0
    if needs_bytes:
        needed = DISK_FACTOR * needs_bytes
        why = f"{DISK_FACTOR} x the {_human(needs_bytes)} of input"
    else:
        needed = max(store_size, 1_000_000)
        why = "the store's size, for rewriting it"
    return DiskFullError(
        f"The disk holding {path.parent} is full: this write needs about {_human(needed)} "
        f"free ({why}), and {_human(free)} free is left. The write was rolled back and the "
        "store is as it was. Free some space, or move the data folder (JOURNEY_HOME or --home) "
        "to a bigger disk, and try again.", needed_bytes=needed, free_bytes=free)


def store_fault(exc: BaseException, path: Path | None = None) -> StoreError | None:
    """A raw DuckDB error that is really a damaged store or a full disk, as a StoreError (for
    a face that must not show a traceback); None for anything else."""
    if isinstance(exc, StoreError):
        return exc
    if is_corruption(exc):
        if path is not None:
            return damaged_error(path, exc)
        return StoreDamagedError("The store is damaged: run `journey doctor` to see what can "
                                 "be read, and `journey doctor --salvage DIR` to copy it out.")
    if is_disk_full(exc):
        if path is not None:
            return disk_full_error(path, 0)
        return DiskFullError("The disk holding the store is full; the write was rolled back. "
                             "Free some space and try again.")
    return None


def check_before_write(path: Path) -> None:
    """Refuse to open a damaged file read-write (a checkpoint would rewrite its header and
    could spread the damage). The verdict recorded about this exact file is used; a file
    changed since (or never checked) is verified first, by reading every table."""
    if not path.exists():
        return
    health = recorded_health(path)
    if health is None:
        from analytics.store.status import verify_store

        damaged = verify_store(path).damaged
    else:
        damaged = list(health.get("tables") or []) if health.get("state") == "damaged" else []
    if damaged:
        raise StoreDamagedError(damage_message(path, [t for t in damaged if t != "unknown"])
                                + " Nothing was written to it.", tables=damaged)
