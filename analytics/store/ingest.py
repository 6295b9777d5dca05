"""Loading user files into the store: atomic, idempotent, and explicit about every row it skips.

All files of one call load in one transaction: if anything fails, the store is exactly as it was
(DuckDB's write-ahead log discards an uncommitted transaction even when the process is killed).
Each file goes raw table -> typed table -> checks -> de-duplication -> insert, all as SQL inside
DuckDB, so a million rows never pass through Python.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from analytics.errors import ArgumentError
from analytics.store import cells
from analytics.store.columns import KINDS
from analytics.store.connection import EventStore, one
from analytics.store.deals import deal_events, resolve_waiting_deals
from analytics.store.fields import FEEDBACK_SOURCES, TimeRange
from analytics.store.file_loader import FileLoader
from analytics.store.files import MAX_LINE_BYTES
from analytics.store.ingest_report import FileLoadReport, IngestReport
from analytics.store.loader_base import OnError, Progress
from analytics.store.people_join import rekey_stored_customers
from analytics.store.rejects import write_rejects
from analytics.store.schema import guess_stage
from analytics.store.steps import refresh_people
from analytics.store.vendors import VENDOR_FORMATS

__all__ = ["OnError", "Progress", "check_timezone", "ingest_files"]


def _no_progress(description: str, done: int, total: int) -> None:
    return None


def _keep_traits(con: duckdb.DuckDBPyConnection, time_format: str | None,
                 timezone: str | None) -> None:
    """What the identify calls said about each person, with the e-mail on its own."""
    if not one(con, "SELECT count(*) FROM _journey_traits")[0]:
        return
    ts = cells.timestamp("ts_text", "VARCHAR", time_format)
    with cells.local_time(con, timezone):
        con.execute(f"""
            INSERT INTO person_traits
            SELECT DISTINCT ON (customer_id, CAST(traits AS VARCHAR)) customer_id,
                   NULLIF(trim(json_extract_string(traits, '$.email')), ''), traits, {ts},
                   load_id FROM _journey_traits AS t
            WHERE NOT EXISTS (SELECT 1 FROM person_traits AS p WHERE p.customer_id = t.customer_id
                              AND CAST(p.traits AS VARCHAR) = CAST(t.traits AS VARCHAR))
        """)


def _has_deal_steps(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(one(con, "SELECT count(*) FROM (SELECT 1 FROM events "
                         "WHERE starts_with(event_id, 'deal:') LIMIT 1)")[0])


def check_timezone(name: str | None) -> str | None:
    """An IANA zone name as DuckDB knows it (Europe/Berlin, America/New_York), or an error that
    lists close ones."""
    if name is None or not name.strip() or name.strip().upper() == "UTC":
        return None
    import difflib

    with duckdb.connect() as con:
        zones = [r[0] for r in con.execute("SELECT name FROM pg_timezone_names()").fetchall()]
    if name.strip() in zones:
        return name.strip()
    lowered = {z.lower(): z for z in zones}
    if name.strip().lower() in lowered:
        return lowered[name.strip().lower()]
    close = difflib.get_close_matches(name, zones, 5, 0.6)
    raise ArgumentError("timezone", f"'{name}' is not a time zone"
                        + (f"; did you mean {', '.join(close)}?" if close
                           else "; use a name such as Europe/Berlin or America/New_York"))


def _next_load_id(con: duckdb.DuckDBPyConnection) -> int:
    return one(con, "SELECT COALESCE(max(load_id), 0) + 1 FROM loads")[0]


def _map_new_event_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    names = [r[0] for r in con.execute("""
        SELECT DISTINCT event_name FROM events
        WHERE event_name NOT IN (SELECT event_name FROM stage_map) ORDER BY event_name
    """).fetchall()]
    if names:
        con.executemany("INSERT INTO stage_map VALUES (?, ?, 'rule')",
                        [(n, guess_stage(n)) for n in names])
    return names


def _refresh_model(con: duckdb.DuckDBPyConnection, reports: list[FileLoadReport]) -> None:
    """The journey model (conversion, main journey, stages by position) is read again from
    what the store now holds, when a load changed a journey; the names' stages are only its
    starting point."""
    if not any(f.rows_loaded or f.rows_replaced or f.identities_linked or f.people_joined
               for f in reports):
        return
    from analytics.journey_model import refresh_inferred

    refresh_inferred(con)


def ingest_files(store: EventStore, kind: str, paths: list[str | Path], *,
                 mapping: dict[str, str] | None = None, on_error: OnError = "fail",
                 replace: bool = False, time_format: str | None = None,
                 default_source: str | None = None, rejects_dir: str | Path | None = None,
                 progress: Progress | None = None,
                 max_line_bytes: int = MAX_LINE_BYTES, vendor_format: str = "auto",
                 timezone: str | None = None) -> IngestReport:
    """Load `paths` as `kind` in one transaction; raise a JourneyError naming what to fix.

    `vendor_format` forces a vendor's export shape (auto: recognised from the file, plain: none);
    `timezone` is the zone of times written without an offset (UTC when not given)."""
    if kind not in KINDS:
        raise ArgumentError("kind", f"'{kind}' is not one of {', '.join(KINDS)}")
    if not paths:
        raise ArgumentError("paths", "name at least one file to load")
    if on_error not in ("fail", "skip"):
        raise ArgumentError("on_error", "must be 'fail' or 'skip'")
    if default_source is not None and default_source not in FEEDBACK_SOURCES:
        raise ArgumentError("source", f"'{default_source}' is not one of "
                                      f"{', '.join(FEEDBACK_SOURCES)}")
    if vendor_format not in VENDOR_FORMATS:
        raise ArgumentError("format", f"'{vendor_format}' is not one of "
                                      f"{', '.join(VENDOR_FORMATS)}")
    if vendor_format not in ("auto", "plain") and kind != "events":
        raise ArgumentError("format", f"--format {vendor_format} is for event exports; load "
                                      f"{kind} files without it")
    timezone = check_timezone(timezone)
    progress = progress or _no_progress
    # One range for all files of the call, read when it starts.
    time_range = TimeRange.from_settings()
    reports: list[FileLoadReport] = []
    size = sum(Path(p).stat().st_size for p in paths if Path(p).is_file())
    with store.writer(needs_bytes=size) as con:
        con.execute("""CREATE OR REPLACE TEMP TABLE _all_rejects (
            file VARCHAR, row_number BIGINT, column_name VARCHAR, value VARCHAR, reason VARCHAR,
            record VARCHAR)""")
        con.execute("CREATE OR REPLACE TEMP TABLE _new_identities (anonymous_id VARCHAR, "
                    "customer_id VARCHAR, first_seen TIMESTAMPTZ)")
        con.execute("CREATE OR REPLACE TEMP TABLE _journey_traits (customer_id VARCHAR, "
                    "traits JSON, ts_text VARCHAR, load_id INTEGER)")
        con.execute("BEGIN TRANSACTION")
        try:
            new_names: list[str] = []
            load_ids: list[int] = []
            for path in paths:
                load_id = _next_load_id(con)
                load_ids.append(load_id)
                loader = FileLoader(
                    con, kind, Path(path), mapping=mapping or {}, on_error=on_error,
                    replace=replace, time_format=time_format, default_source=default_source,
                    progress=progress, load_id=load_id, max_line_bytes=max_line_bytes,
                    time_range=time_range, temp_folder=store.temp_folder,
                    vendor_format=vendor_format, timezone=timezone)
                report = loader.load()
                con.execute(
                    "INSERT INTO loads VALUES (?, ?, ?, ?, ?, ?, now())",
                    [load_id, kind, str(Path(path).resolve()), report.rows_read,
                     report.rows_loaded, report.rows_skipped])
                reports.append(report)
            if kind == "customers":
                waiting = resolve_waiting_deals(con)
                moved = any(f.people_joined for f in reports)
                if waiting or (moved and _has_deal_steps(con)):
                    # Deal steps now belong to the product's person: journeys are redone.
                    new_names = _map_new_event_names(con)
                    refresh_people(con, load_ids, everything=True)
                    _refresh_model(con, reports)
            if kind == "deals":
                steps = deal_events(con, load_ids)
                if steps and reports:
                    reports[-1].notes.append(f"{steps:,} journey event(s) written for these "
                                             "deals (deal_created, deal_won, deal_lost)")
                new_names = _map_new_event_names(con)
                refresh_people(con, load_ids, everything=replace)
                _refresh_model(con, reports)
            if kind == "events":
                _keep_traits(con, time_format, timezone)
                joined = rekey_stored_customers(con)
                waiting = resolve_waiting_deals(con)
                new_names = _map_new_event_names(con)
                refresh_people(con, load_ids, everything=replace or bool(joined or waiting))
                _refresh_model(con, reports)
                if joined and reports:
                    reports[-1].notes.append(
                        f"{joined:,} customer record(s) loaded earlier now join these events "
                        "by e-mail")
            con.execute("COMMIT")
        except BaseException:
            # KeyboardInterrupt included: nothing of this call may stay in the store.
            con.execute("ROLLBACK")
            raise
        write_rejects(con, reports, Path(rejects_dir) if rejects_dir else store.home / "rejects")
        model = ""
        if kind in ("events", "deals") and any(f.rows_loaded for f in reports):
            from analytics.journey_model import journey_model

            model = journey_model(con).summary
    return IngestReport(kind=kind, files=reports, new_event_names=new_names,
                        journey_model=model)
