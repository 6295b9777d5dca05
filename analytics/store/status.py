"""What the store holds, for `journey status` and for anyone who must not guess names."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from analytics.errors import ArgumentError, StoreDamagedError
from analytics.store.connection import STORE_FILENAME, EventStore, _open, initialise_schema, one
from analytics.store.faults import is_corruption, record_health


@dataclass
class EventNameCount:
    event_name: str
    stage: str
    events: int
    people: int


@dataclass(kw_only=True)
class StoreStatus:
    home: str
    exists: bool
    events: int = 0
    people: int = 0
    anonymous_people: int = 0
    customers: int = 0
    opted_out_customers: int = 0
    feedback: int = 0
    identities: int = 0
    deals: int = 0
    won_deals: int = 0
    loads: int = 0
    first_event: datetime | None = None
    last_event: datetime | None = None
    stages: list[str] = field(default_factory=list)
    event_names: list[EventNameCount] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    feedback_by_source: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = asdict(self)
        for key in ("first_event", "last_event"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data


def store_status(store: EventStore) -> StoreStatus:
    status = StoreStatus(home=str(store.home), exists=store.exists())
    if not status.exists:
        return status
    with store.reader(local=True) as con:
        (status.events, status.people, status.anonymous_people, status.first_event,
         status.last_event) = one(con, """
            SELECT count(*) AS events, count(DISTINCT person_id) AS people,
                   count(DISTINCT person_id) FILTER (WHERE customer_id IS NULL) AS anonymous,
                   min(ts) AS first_event, max(ts) AS last_event
            FROM journey_events
        """)
        status.customers, status.opted_out_customers = one(
            con, "SELECT count(*) AS customers, count(*) FILTER (WHERE opted_out) AS opted_out "
                 "FROM customers")
        status.feedback = one(con, "SELECT count(*) AS n FROM feedback")[0]
        status.identities = one(con, "SELECT count(*) AS n FROM identity_map")[0]
        from analytics.store.deals import outcome_sql

        status.deals, status.won_deals = one(
            con, f"SELECT count(*), count(*) FILTER (WHERE {outcome_sql('stage')} = 'won') "
                 "FROM deals")
        status.loads = one(con, "SELECT count(*) AS n FROM loads")[0]
        status.stages = [r[0] for r in con.execute(
            "SELECT stage FROM stages ORDER BY position, stage").fetchall()]
        status.event_names = [EventNameCount(*r) for r in con.execute("""
            SELECT event_name, min(stage) AS stage, count(*) AS events,
                   count(DISTINCT person_id) AS people
            FROM journey_events
            GROUP BY event_name
            ORDER BY min(stage_position), events DESC, event_name
        """).fetchall()]
        status.channels = [r[0] for r in con.execute(
            "SELECT channel FROM events WHERE channel IS NOT NULL "
            "GROUP BY channel ORDER BY count(*) DESC, channel").fetchall()]
        status.devices = [r[0] for r in con.execute(
            "SELECT device FROM events WHERE device IS NOT NULL "
            "GROUP BY device ORDER BY count(*) DESC, device").fetchall()]
        status.feedback_by_source = dict(con.execute(
            "SELECT source, count(*) AS n FROM feedback GROUP BY source ORDER BY n DESC, source"
        ).fetchall())
    return status


# --- Is every block readable? -----------------------------------------------------------------


@dataclass
class TableCheck:
    table: str
    rows: int | None
    ok: bool
    problem: str = ""


@dataclass
class StoreCheck:
    path: str
    opened: bool
    tables: list[TableCheck] = field(default_factory=list)
    problem: str = ""
    seconds: float = 0.0

    @property
    def damaged(self) -> list[str]:
        if not self.opened:
            return ["header"]
        return [t.table for t in self.tables if not t.ok]


def _tables(con: duckdb.DuckDBPyConnection, database: str | None = None) -> dict[str, list[str]]:
    """Each table of a database and its columns, in order."""
    where = f"c.database_name = '{database}'" if database else \
        "c.database_name = current_database()"
    columns: dict[str, list[str]] = {}
    for table, column in con.execute(
            "SELECT c.table_name, c.column_name FROM duckdb_columns() AS c "
            "JOIN duckdb_tables() AS t ON t.table_oid = c.table_oid "
            f"WHERE {where} AND c.schema_name = 'main' "
            "ORDER BY c.table_name, c.column_index").fetchall():
        columns.setdefault(table, []).append(column)
    return columns


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def verify_store(path: Path) -> StoreCheck:
    """Read every block of every table (DuckDB checks each block's checksum as it reads it:
    hashing every column of every row makes it read them all) and record the verdict next to
    the store, so that a write can refuse a damaged file without reading it again."""
    started = time.perf_counter()
    try:
        con = _open(path, read_only=True)
    except StoreDamagedError as exc:
        return StoreCheck(str(path), opened=False, problem=str(exc),
                          seconds=time.perf_counter() - started)
    check = StoreCheck(str(path), opened=True)
    try:
        for table, columns in _tables(con).items():
            hashed = ", ".join(_q(c) for c in columns)
            try:
                rows = one(con, f"SELECT count(*), bit_xor(hash({hashed})) FROM {_q(table)}")[0]
                check.tables.append(TableCheck(table, int(rows), True))
            except duckdb.Error as exc:
                if not is_corruption(exc):
                    raise
                check.tables.append(TableCheck(table, None, False, str(exc).splitlines()[0]))
    finally:
        con.close()
    check.seconds = time.perf_counter() - started
    record_health(path, check.damaged, "; ".join(t.problem for t in check.tables if not t.ok))
    return check


# --- Copying out what can be read ---------------------------------------------------------------

ROW_GROUP = 122_880  # DuckDB's rows per row group: a damaged block loses at most a few of them
SMALLEST_PIECE = 2_048


@dataclass
class TableSalvage:
    table: str
    rows_saved: int
    rows_lost: int
    damaged: bool
    parquet: str


@dataclass
class SalvageReport:
    folder: str
    store: str
    tables: list[TableSalvage]
    rebuilt: list[str]
    reload: str

    def to_dict(self) -> dict:
        return asdict(self)


def _copy_ranges(con: duckdb.DuckDBPyConnection, table: str, columns: str, start: int,
                 stop: int) -> tuple[int, int]:
    """Copy rowids [start, stop) that can be read, halving a range that cannot."""
    try:
        saved = one(con, f"INSERT INTO main.{_q(table)} ({columns}) "
                         f"SELECT {columns} FROM damaged.{_q(table)} "
                         f"WHERE rowid >= {start} AND rowid < {stop}")[0]
        return int(saved), 0
    except duckdb.Error as exc:
        if not is_corruption(exc):
            raise
    if stop - start <= SMALLEST_PIECE:
        try:
            lost = one(con, f"SELECT count(*) FROM damaged.{_q(table)} "
                            f"WHERE rowid >= {start} AND rowid < {stop}")[0]
        except duckdb.Error:
            lost = stop - start
        return 0, int(lost)
    middle = (start + stop) // 2
    a = _copy_ranges(con, table, columns, start, middle)
    b = _copy_ranges(con, table, columns, middle, stop)
    return a[0] + b[0], a[1] + b[1]


def salvage_store(store: EventStore, folder: str | Path) -> SalvageReport:
    """Copy every readable row of a (damaged) store into a new store in `folder`, plus one
    Parquet file per table and a report; the damaged file is only read."""
    out = Path(folder).expanduser().absolute()
    if out == store.home:
        raise ArgumentError("salvage", "choose a folder other than the data folder itself")
    target = out / STORE_FILENAME
    if target.exists():
        raise ArgumentError("salvage", f"{out} already holds a store; choose an empty folder")
    check = verify_store(store.path)
    if not check.opened:
        raise StoreDamagedError(
            f"The store {store.path} is damaged in its header or catalog, so no table can be "
            "read from it. Restore it from a backup, or move it away and load your files "
            "again.", tables=["header"])
    out.mkdir(parents=True, exist_ok=True)
    damaged = set(check.damaged)
    con = duckdb.connect(str(target))
    tables: list[TableSalvage] = []
    rebuilt: list[str] = []
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("ATTACH ? AS damaged (READ_ONLY)", [str(store.path)])
        initialise_schema(con)
        con.execute("DELETE FROM stages")
        con.execute("DELETE FROM meta")
        ours = _tables(con, one(con, "SELECT current_database()")[0])
        for table, columns in _tables(con, "damaged").items():
            if table not in ours:
                continue
            shared = ", ".join(_q(c) for c in columns if c in ours[table])
            total, last = one(con, f"SELECT count(*), max(rowid) FROM damaged.{_q(table)}")
            if table in damaged:
                saved, lost = 0, 0
                for start in range(0, int(last or 0) + 1, ROW_GROUP):
                    a, b = _copy_ranges(con, table, shared, start, start + ROW_GROUP)
                    saved, lost = saved + a, lost + b
            else:
                con.execute(f"INSERT INTO main.{_q(table)} ({shared}) "
                            f"SELECT {shared} FROM damaged.{_q(table)}")
                saved, lost = int(total), 0
            tables.append(TableSalvage(table, saved, lost, table in damaged,
                                       str(out / f"{table}.parquet")))
        con.execute("DETACH damaged")
        if damaged & {"events", "journey_steps", "person_profiles", "identity_map"}:
            from analytics.store.steps import rebuild_all

            rebuild_all(con)  # each journey's moves and profile, from the saved events
            rebuilt += ["journey_steps", "person_profiles"]
        initialise_schema(con)  # default stages if none could be saved, schema version
        for t in tables:
            con.execute(f"COPY main.{_q(t.table)} TO '{t.parquet}' (FORMAT parquet)")
    finally:
        con.close()
    reload = (
        f"Check the copy with `journey --home {out} status`. To use it, move the damaged file "
        f"away (`mv {store.path} {store.path}.damaged`) and copy {target} to {store.home}; "
        "then load again the files you still have for what was lost (a load adds only rows "
        "that are not already there) and run `journey feedback index`. The Parquet files hold "
        "the same tables, for other tools.")
    report = SalvageReport(str(out), str(target), tables, rebuilt, reload)
    (out / "salvage_report.json").write_text(json.dumps(
        {**report.to_dict(), "damaged_tables": sorted(damaged),
         "problems": {t.table: t.problem for t in check.tables if not t.ok}}, indent=2))
    return report
