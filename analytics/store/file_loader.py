"""Loading one file into the store, inside the caller's open transaction: raw table -> typed
table -> checks -> de-duplication -> insert, all as SQL inside DuckDB."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb

from analytics.errors import InputFileError
from analytics.store import cells
from analytics.store.columns import Kind, plan_columns
from analytics.store.connection import one
from analytics.store.deals import resolve_loaded_deals
from analytics.store.fields import (
    ID_COLUMN,
    STORE_COLUMNS,
    TimeRange,
    clear_placeholders_sql,
    placeholders_found_sql,
    typed_select,
)
from analytics.store.files import (
    MAX_ROWS,
    reader_sql,
    refuse_nul_in_names,
    sniff,
)
from analytics.store.ingest_report import FileLoadReport
from analytics.store.loader_base import OnError, Progress
from analytics.store.loader_checks import CheckingSteps
from analytics.store.loader_nesting import NestingSteps
from analytics.store.loader_reading import ReadingSteps
from analytics.store.people_join import resolve_loaded_customers, resolve_loaded_feedback
from analytics.store.read_errors import (
    BadJsonLine,
    read_error,
    refuse_nul_cells,
)

WRITE_BATCH_ROWS = 1_000_000


class FileLoader(NestingSteps, ReadingSteps, CheckingSteps):
    """Loads one file inside the caller's open transaction."""

    def __init__(self, con: duckdb.DuckDBPyConnection, kind: Kind, path: Path, *, mapping,
                 on_error: OnError, replace: bool, time_format, default_source, progress: Progress,
                 load_id: int, max_line_bytes: int, time_range: TimeRange,
                 temp_folder: Callable[[], Path], vendor_format: str = "auto",
                 timezone: str | None = None) -> None:
        self.con = con
        self.kind = kind
        self.path = path
        self.name = str(path)
        self.mapping = mapping
        self.on_error = on_error
        self.replace = replace
        self.time_format = time_format
        self.default_source = default_source
        self.progress = progress
        self.load_id = load_id
        self.max_line_bytes = max_line_bytes
        self.time_range = time_range
        self.temp_folder = temp_folder
        self.id_col = ID_COLUMN[kind]
        self.bad_json: list[BadJsonLine] = []
        self.vendor_format = vendor_format
        self.timezone = timezone
        self.synthetic: set[str] = set()  # columns made from dotted paths (not extras)
        self.preset_sources: dict[str, str] = {}
        self.linked = False  # identity calls in the file linked ids (in _journey_links)


    def load(self) -> FileLoadReport:
        sniffed = sniff(self.path, self.max_line_bytes)
        report = FileLoadReport(file=self.name, kind=self.kind, format=sniffed.format)
        self.progress(f"Reading {self.path.name}", 0, 0)
        skip_lines = sniffed.format == "csv" and self.on_error == "skip"
        refused, columns = (self._json_lines_refused(sniffed)
                            if sniffed.format == "jsonl" and self.on_error == "skip"
                            else (None, None))
        if refused is not None:
            self._read_json_lines_without_bad_ones(sniffed, refused)
        else:
            try:
                if skip_lines:
                    self._sql("DROP TABLE IF EXISTS _csv_rejects")
                    self._sql("DROP TABLE IF EXISTS _csv_scans")
                self._sql("CREATE OR REPLACE TEMP TABLE _raw AS SELECT * FROM "
                          + reader_sql(sniffed, self.max_line_bytes, skip_lines, columns))
            except duckdb.Error as exc:
                raise read_error(self.name, sniffed.format, exc) from None
        described = self._sql("DESCRIBE _raw").fetchall()
        types = {row[0]: row[1] for row in described}
        if sniffed.format == "jsonl":
            self._refuse_json_key_spellings(sniffed, list(types))
            refuse_nul_in_names(self.name, list(types))
        self.rowid_base = self._sql("SELECT min(rowid) FROM _raw").fetchone()[0]
        # rowid follows file order (insertion order is preserved) but starts at an arbitrary
        # base inside a transaction; counting from the smallest gives the 1-based data row.
        self.row_sql = f"(_raw.rowid - {self.rowid_base} + 1)"
        self.bad_lines = (self._stash_bad_lines() if skip_lines
                          else self._stash_bad_json_lines())
        report.rows_read = self._sql("SELECT count(*) FROM _raw").fetchone()[0] + self.bad_lines
        if report.rows_read > MAX_ROWS:
            raise InputFileError(self.name, f"the file has {report.rows_read:,} rows, above the "
                                 f"{MAX_ROWS:,}-row limit for one load",
                                 hint="Split it, or raise JOURNEY_MAX_ROWS")
        if report.rows_read == 0:
            raise InputFileError(self.name, "has column names but no data rows",
                                 hint="Export it again with its rows")
        self.csv_lines = sniffed.format == "csv"
        refuse_nul_cells(self.con, self.name, types, self.row_sql, self.csv_lines)
        types, mapping = self._flatten(types, report)
        plan = plan_columns(self.kind, self.name, list(types), mapping)
        plan.extras = [c for c in plan.extras if c not in self.synthetic]
        self.id_source = plan.fields.get(self.id_col, self.id_col)
        report.columns = dict(plan.fields) if report.preset is None else self.preset_sources
        report.extra_columns = list(plan.extras)

        self.progress(f"Checking {self.path.name}", 0, report.rows_read)
        select = typed_select(self.kind, plan, types, self.time_format, self.default_source,
                              self.time_range)
        exprs = [f"{sql} AS {cells.quote_ident(name)}" for name, sql in select.expressions.items()]
        exprs += [f"{sql} AS {cells.quote_ident('_raw_' + f)}"
                  for f, sql in select.raw_texts.items()]
        with self._local_time():
            self._sql(f"CREATE OR REPLACE TEMP TABLE _typed AS SELECT {self.row_sql} "
                      f"AS _row, {', '.join(exprs)} FROM _raw")
        if self.kind == "events" and one(self.con, placeholders_found_sql("_typed"))[0]:
            self._sql(clear_placeholders_sql("_typed"))
        report.notes += select.notes
        if self.kind == "customers":
            report.people_joined = resolve_loaded_customers(self.con)
        elif self.kind == "feedback":
            report.people_joined = resolve_loaded_feedback(self.con)
        elif self.kind == "deals":
            report.people_joined = resolve_loaded_deals(self.con)

        self.store_empty = self._sql(
            f"SELECT count(*) = 0 FROM (SELECT 1 FROM {self.kind} LIMIT 1)").fetchone()[0]
        self._collect_cell_rejects(select, plan.fields)
        self._key_and_hash()
        self._collect_conflicting_ids()
        self._collect_store_conflicts()
        self._fail_on_rejects(report)
        self._dedupe_and_insert(report)
        self._stash_rejects(report)
        return report

    # -- writing -----------------------------------------------------------------------------

    def _dedupe_and_insert(self, report: FileLoadReport) -> None:
        idc = self.id_col
        report.rows_duplicate_in_file = self._sql("SELECT count(*) FROM _repeats").fetchone()[0]
        good = f"({self._good_rows()})"
        if not self.store_empty:
            report.rows_already_loaded = self._sql(f"""
                SELECT count(*) FROM {good} AS k JOIN {self.kind} AS s ON s.{idc} = k.{idc}
                WHERE NOT {self._differs("s", "k")}
            """).fetchone()[0]
            if self.replace:
                report.rows_replaced = self._sql(f"""
                    DELETE FROM {self.kind} AS s USING {good} AS k
                    WHERE s.{idc} = k.{idc} AND {self._differs("s", "k")}
                """).fetchone()[0]
            self._sql(f"""
                CREATE OR REPLACE TEMP TABLE _new AS
                SELECT k.* FROM {good} AS k
                WHERE NOT EXISTS (SELECT 1 FROM {self.kind} AS s WHERE s.{idc} = k.{idc})
            """)
            source = "_new"
        else:
            source = good
        total = self._sql(f"SELECT count(*) FROM {source} AS n").fetchone()[0]
        column_list = ", ".join(STORE_COLUMNS[self.kind])
        # Written in batches only so that a long load can show how far it has got.
        done = 0
        self.progress(f"Writing {self.path.name}", 0, total)
        if total:
            low, high = self._sql(f"SELECT min(_row), max(_row) FROM {source} AS n").fetchone()
            start = low
            while start <= high:
                end = start + WRITE_BATCH_ROWS
                inserted = self._sql(f"""
                    INSERT INTO {self.kind} ({column_list}, load_id)
                    SELECT {column_list}, {self.load_id} FROM {source} AS n
                    WHERE _row >= {start} AND _row < {end}
                """).fetchone()[0]
                done += inserted
                self.progress(f"Writing {self.path.name}", done, total)
                start = end
        report.rows_loaded = done
        if self.kind == "events":
            report.identities_linked = self._learn_identities()

    def _learn_identities(self) -> int:
        """Link anonymous ids to customers: first the file's identity calls (identify, alias),
        then events that carry both ids. The first customer an id was linked to wins; later
        pairings are ignored so a shared device cannot merge two customers' journeys."""
        before = self._sql("SELECT count(*) FROM identity_map").fetchone()[0]
        if self.linked:
            ts = cells.timestamp("ts_text", "VARCHAR", self.time_format)
            with self._local_time():
                self._sql(f"""
                    CREATE OR REPLACE TEMP TABLE _linked AS
                    SELECT alias, arg_min(canonical, {ts}) AS canonical, min({ts}) AS seen
                    FROM _journey_links
                    WHERE alias NOT IN (SELECT anonymous_id FROM identity_map)
                    GROUP BY alias
                """)
            self._sql("INSERT INTO _new_identities SELECT * FROM _linked")
            self._sql("INSERT INTO identity_map SELECT * FROM _linked")
        self._sql("""
            INSERT INTO _new_identities
            SELECT anonymous_id, arg_min(customer_id, CAST(ts AS VARCHAR) || customer_id), min(ts)
            FROM events
            WHERE load_id = ? AND anonymous_id IS NOT NULL AND customer_id IS NOT NULL
              AND anonymous_id NOT IN (SELECT anonymous_id FROM identity_map)
            GROUP BY anonymous_id
        """, [self.load_id])
        self._sql("INSERT INTO identity_map SELECT * FROM _new_identities WHERE anonymous_id NOT "
                  "IN (SELECT anonymous_id FROM identity_map)")
        return self._sql("SELECT count(*) FROM identity_map").fetchone()[0] - before

    def _stash_rejects(self, report: FileLoadReport) -> None:
        rows = self._sql("""
            SELECT COALESCE(summary, reason), count(DISTINCT _row) FROM _rejects
            GROUP BY 1 ORDER BY 2 DESC, 1
        """).fetchall()
        report.reject_reasons = {reason: n for reason, n in rows}
        if self.bad_lines:
            what = "is not valid JSON" if self.bad_json else "could not be read as CSV"
            report.reject_reasons[f"line {what} (see the rejects file)"] = self.bad_lines
        report.rows_rejected = self.bad_lines + self._sql(
            "SELECT count(DISTINCT _row) FROM _rejects").fetchone()[0]
        if report.rows_rejected > self.bad_lines:
            self._sql(f"""
                INSERT INTO _all_rejects
                SELECT {cells.quote_literal(self.name)}, r._row, r.column_name, r.value, r.reason,
                       w.record
                FROM _rejects AS r
                JOIN (SELECT {self.row_sql} AS _row,
                             CAST(to_json(_raw) AS VARCHAR) AS record
                      FROM _raw) AS w USING (_row)
            """)


