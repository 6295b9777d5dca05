"""Loading user files into the store: atomic, idempotent, and explicit about every row it skips.

All files of one call load in one transaction: if anything fails, the store is exactly as it was
(DuckDB's write-ahead log discards an uncommitted transaction even when the process is killed).
Each file goes raw table -> typed table -> checks -> de-duplication -> insert, all as SQL inside
DuckDB, so a million rows never pass through Python.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import duckdb

from analytics.errors import ArgumentError, InputFileError
from analytics.store import cells
from analytics.store.columns import KINDS, KNOWN_PATHS, Kind, plan_columns
from analytics.store.connection import EventStore, one
from analytics.store.deals import deal_events, resolve_loaded_deals
from analytics.store.fields import (
    FEEDBACK_SOURCES,
    ID_COLUMN,
    ID_PREFIX,
    STORE_COLUMNS,
    TimeRange,
    typed_select,
)
from analytics.store.files import (
    MAX_LINE_BYTES,
    MAX_ROWS,
    SniffedFile,
    json_key_spellings,
    reader_sql,
    refuse_nul_in_names,
    sniff,
)
from analytics.store.ingest_report import FileLoadReport, IngestReport
from analytics.store.nesting import NestedColumns
from analytics.store.people_join import (
    rekey_stored_customers,
    resolve_loaded_customers,
    resolve_loaded_feedback,
)
from analytics.store.read_errors import (
    BadJsonLine,
    read_error,
    refuse_nul_cells,
    scan_json_lines,
)
from analytics.store.rejects import write_rejects
from analytics.store.schema import guess_stage
from analytics.store.steps import refresh_people
from analytics.store.vendors import (
    ROW_COLUMN,
    VENDOR_FORMATS,
    choose_preset,
    flat_plan,
    with_mapping,
)

OnError = Literal["fail", "skip"]
# (phase description, rows done, rows in total) -> None; rows in total is 0 while unknown.
Progress = Callable[[str, int, int], None]

WRITE_BATCH_ROWS = 1_000_000


def _no_progress(description: str, done: int, total: int) -> None:
    return None


class _FileLoader:
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

    def _sql(self, query: str, params: list | None = None):
        return self.con.execute(query, params or [])

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

    # -- nesting: vendor presets and dotted paths ---------------------------------------------

    @contextlib.contextmanager
    def _local_time(self):
        """Times written without an offset are read in the export's time zone (--timezone);
        DuckDB reads them in the session's zone, which is UTC everywhere else."""
        if not self.timezone:
            yield
            return
        self._sql(f"SET TimeZone = {cells.quote_literal(self.timezone)}")
        try:
            yield
        finally:
            self._sql("SET TimeZone = 'UTC'")

    def _replace_raw(self, select_sql: str) -> dict[str, str]:
        """Rewrite the raw table (order kept), numbering rows by the file's own row numbers."""
        self._sql(f"CREATE OR REPLACE TEMP TABLE _flat AS {select_sql}")
        self._sql("DROP TABLE _raw")
        self._sql("ALTER TABLE _flat RENAME TO _raw")
        self.row_sql = f"_raw.{ROW_COLUMN}"
        return {row[0]: row[1] for row in self._sql("DESCRIBE _raw").fetchall()
                if row[0] != ROW_COLUMN}

    def _flatten(self, types: dict[str, str], report: FileLoadReport
                 ) -> tuple[dict[str, str], dict[str, str]]:
        """(columns to plan from, mapping to plan with): a vendor's export rewritten into the
        store's own fields, or the dotted paths the mapping and the known names reach into."""
        preset = (choose_preset(self.vendor_format, list(types), self.name)
                  if self.kind == "events" else None)
        if preset is None:
            return self._add_dotted_paths(types), self.mapping
        preset = with_mapping(preset, self.mapping, self.name, list(types))
        nested = NestedColumns(types, preset.key_values)
        self._refuse_empty_paths([p for p in self.mapping if nested.has(p)], nested, types)
        plan = flat_plan(preset, types, self.row_sql)
        self._sql("CREATE OR REPLACE TEMP TABLE _journey_links (alias VARCHAR, canonical "
                  "VARCHAR, ts_text VARCHAR)")
        if plan.links_sql:
            self._sql(f"INSERT INTO _journey_links {plan.links_sql}")
        if plan.traits_sql:
            self._sql(f"INSERT INTO _journey_traits SELECT *, {self.load_id} FROM "
                      f"({plan.traits_sql})")
        self._sql("CREATE OR REPLACE TEMP TABLE _journey_aliases AS SELECT alias FROM "
                  "_journey_links UNION SELECT anonymous_id FROM identity_map")
        self._sql("CREATE OR REPLACE TEMP TABLE _journey_canonicals AS SELECT canonical FROM "
                  "_journey_links UNION SELECT customer_id FROM identity_map")
        report.preset = preset.name
        report.identity_calls = self._sql(plan.identity_rows_sql).fetchone()[0]
        self.preset_sources = self._filled_sources(plan.sources, NestedColumns(
            types, preset.key_values))
        self.linked = plan.links_sql is not None
        return self._replace_raw(plan.flat_sql), {}

    def _filled_sources(self, sources: dict[str, list[str]], nested: NestedColumns
                        ) -> dict[str, str]:
        """field -> the paths it was read from that hold a value somewhere in the file."""
        candidates = [(f, p) for f, paths in sources.items() for p in paths
                      if nested.has(p.split(" ")[0])]
        if not candidates:
            return {}
        hits = self._sql("SELECT " + ", ".join(
            f"bool_or({nested.text(p.split(' ')[0])} IS NOT NULL)" for _, p in candidates)
            + " FROM _raw").fetchone()
        used: dict[str, list[str]] = {}
        for (f, p), hit in zip(candidates, hits, strict=True):
            if hit:
                used.setdefault(f, []).append(p)
        return {f: " | ".join(p) for f, p in used.items()}

    def _filled(self, paths: list[str], nested: NestedColumns) -> dict[str, bool]:
        if not paths:
            return {}
        hits = one(self.con, "SELECT " + ", ".join(
            f"bool_or({nested.text(p)} IS NOT NULL)" for p in paths) + " FROM _raw")
        return dict(zip(paths, (bool(h) for h in hits), strict=True))

    def _refuse_empty_paths(self, paths: list[str], nested: NestedColumns,
                            types: dict[str, str], filled: dict[str, bool] | None = None) -> None:
        """A mapped path that no row fills is a typo, not a column of empty cells."""
        filled = filled if filled is not None else self._filled(
            [p for p in paths if p not in types], nested)
        for path in paths:
            if path in filled and not filled[path]:
                raise InputFileError(self.name, f"the column mapping names '{path}', which no "
                                                "row of the file has",
                                     hint=f"Top-level columns: {', '.join(types)}")

    def _add_dotted_paths(self, types: dict[str, str]) -> dict[str, str]:
        nested = NestedColumns(types)
        mapped = [s for s in self.mapping if s not in types and nested.has(s)]
        known = [a for a in KNOWN_PATHS.get(self.kind, [])
                 if a not in types and a not in mapped and nested.has(a)]
        wanted: list[str] = []
        if mapped or known:  # only the paths the file really fills
            filled = self._filled(mapped + known, nested)
            self._refuse_empty_paths(mapped, nested, types, filled)
            wanted = [p for p in mapped + known if filled[p]]
        if not wanted:
            return types
        self.synthetic = set(wanted)
        paths = ", ".join(f"{nested.json(p)} AS {cells.quote_ident(p)}" for p in wanted)
        return self._replace_raw(f"SELECT *, {paths}, {self.row_sql} AS {ROW_COLUMN} FROM _raw")

    # -- reading: what a load refuses whatever on_error says, and the lines it sets aside ----

    def _json_lines_refused(self, sniffed: SniffedFile
                            ) -> tuple[duckdb.Error | None, dict[str, str] | None]:
        """What DuckDB's reader says against the file, asked on a connection of its own (a
        failed statement would abort this load's transaction, and skip mode must go on); else
        the columns it found. Its schema pass reads every line, so it finds any malformed one,
        and the read that follows is told the columns instead of looking for them again."""
        try:
            with duckdb.connect() as probe:
                found = probe.execute(
                    f"DESCRIBE SELECT * FROM {reader_sql(sniffed, self.max_line_bytes)}").fetchall()
        except duckdb.Error as exc:
            return exc, None
        return None, {row[0]: row[1] for row in found}

    def _read_json_lines_without_bad_ones(self, sniffed: SniffedFile, exc: duckdb.Error) -> None:
        """Skip mode, after DuckDB refused a JSON Lines file: find the bad lines ourselves and
        read a copy in which each is `{}`, so every other row keeps its number (the copy lives in
        the data folder, like every temporary file about the data, and only while it is read)."""
        copy = self.temp_folder() / f"ingest-{uuid.uuid4().hex}.jsonl"
        try:
            self.bad_json, rows = scan_json_lines(self.name, copy_to=copy)
            if not self.bad_json:  # DuckDB objected to something every line passes
                raise read_error(self.name, "jsonl", exc) from None
            if len(self.bad_json) == rows:
                raise InputFileError(self.name, "no line of the file is a JSON object",
                                     hint="Write one JSON object per line")
            try:
                self._sql("CREATE OR REPLACE TEMP TABLE _raw AS SELECT * FROM " + reader_sql(
                    dataclasses.replace(sniffed, path=copy), self.max_line_bytes))
            except duckdb.Error as again:
                first = str(again).splitlines()[0] if str(again) else "unknown error"
                raise InputFileError(
                    self.name, f"could not be read as JSONL, even without its "
                               f"{len(self.bad_json):,} malformed line(s): {first}") from None
        finally:
            copy.unlink(missing_ok=True)

    def _stash_bad_json_lines(self) -> int:
        """The malformed lines found in skip mode: into the rejects, out of the rows."""
        if not self.bad_json:
            return 0
        self.con.executemany(
            "INSERT INTO _all_rejects VALUES (?, ?, NULL, ?, ?, NULL)",
            [(self.name, b.row, b.text, f"line {b.line}: not valid JSON ({b.problem})")
             for b in self.bad_json])
        self._sql(f"DELETE FROM _raw WHERE rowid - {self.rowid_base} + 1 IN (SELECT unnest(?))",
                  [[b.row for b in self.bad_json]])
        return len(self.bad_json)

    def _refuse_json_key_spellings(self, sniffed: SniffedFile, columns: list[str]) -> None:
        if self.bad_json:  # the line-by-line pass has checked the keys already
            return
        spellings = json_key_spellings(sniffed, columns, self.max_line_bytes)
        if spellings == []:
            return
        scan_json_lines(self.name)  # raises, naming the line and the key
        if spellings:
            raise InputFileError(self.name, f"has keys that differ only in case: "
                                            f"{', '.join(spellings[:6])}",
                                 hint="Write each key one way throughout the file")

    def _stash_bad_lines(self) -> int:
        """Lines DuckDB could not parse (wrong field count, bad quoting), kept for the report."""
        self._sql(f"""
            INSERT INTO _all_rejects
            SELECT {cells.quote_literal(self.name)}, line - 1, column_name, csv_line,
                   'line ' || CAST(line AS VARCHAR) || ': ' || error_message, NULL
            FROM _csv_rejects
        """)
        bad = self._sql("SELECT count(DISTINCT line) FROM _csv_rejects").fetchone()[0]
        if bad:
            # DuckDB leaves the bad lines out, so the rows after one would be numbered too low:
            # the k-th row read is data row k plus the bad rows before it. With bad rows b_j
            # (sorted, j from 0), that is k + #{j : b_j - j <= k}.
            self._sql("""
                CREATE OR REPLACE TEMP TABLE _skipped_rows AS
                SELECT b - row_number() OVER (ORDER BY b) + 1 AS adj
                FROM (SELECT DISTINCT line - 1 AS b FROM _csv_rejects)
            """)
            k = f"(_raw.rowid - {self.rowid_base} + 1)"
            self.row_sql = (f"({k} + (SELECT count(*) FROM _skipped_rows AS s "
                            f"WHERE s.adj <= {k}))")
        return bad

    # -- checks ------------------------------------------------------------------------------

    def _collect_cell_rejects(self, select, fields: dict[str, str]) -> None:
        parts = []
        for check in select.checks:
            column = fields.get(check.field, check.field)
            value = f"_raw_{check.field}" if check.field in select.raw_texts else "NULL"
            summary = cells.quote_literal(check.reason)
            parts.append(
                f"SELECT _row, {cells.quote_literal(column)} AS column_name, "
                f"CAST({value} AS VARCHAR) AS value, "
                f"CAST({check.detail or summary} AS VARCHAR) AS reason, {summary} AS summary "
                f"FROM _typed WHERE {check.condition}"
            )
        # `reason` says what is wrong with the row (its value included where that helps);
        # `summary` is the same for every row with that problem, for the report's counts.
        union = " UNION ALL ".join(parts) if parts else (
            "SELECT NULL::BIGINT AS _row, NULL::VARCHAR AS column_name, NULL::VARCHAR AS value, "
            "NULL::VARCHAR AS reason, NULL::VARCHAR AS summary WHERE FALSE")
        self._sql(f"CREATE OR REPLACE TEMP TABLE _rejects AS {union}")

    def _content_hash(self, alias: str = "") -> str:
        content = [c for c in STORE_COLUMNS[self.kind] if c != self.id_col]
        prefix = f"{alias}." if alias else ""
        joined = " || chr(31) || ".join(
            f"COALESCE(CAST({prefix}{cells.quote_ident(c)} AS VARCHAR), chr(30))" for c in content)
        return f"md5({joined})"

    def _differs(self, left: str, right: str) -> str:
        """SQL that is true when two rows with the same id differ in any stored column."""
        return "(" + " OR ".join(
            f"CAST({left}.{c} AS VARCHAR) IS DISTINCT FROM CAST({right}.{c} AS VARCHAR)"
            for c in STORE_COLUMNS[self.kind] if c != self.id_col) + ")"

    def _good_rows(self) -> str:
        """The rows still in the running: not rejected and not a repeat within the file."""
        if self.no_rejects and self.no_repeats:
            return "SELECT * FROM _keyed"
        return ("SELECT * FROM _keyed AS k WHERE NOT EXISTS "
                "(SELECT 1 FROM _rejects AS r WHERE r._row = k._row) "
                "AND NOT EXISTS (SELECT 1 FROM _repeats AS p WHERE p._row = k._row)")

    def _key_and_hash(self) -> None:
        """Give id-less rows a deterministic id.

        The id of an id-less row is the hash of its content plus its occurrence number among
        identical rows of the file, so loading the same file again produces the same ids
        (and adds nothing), while two genuinely repeated events both count. Files that carry
        their own ids (most exports) skip the hashing, which is most of the cost of a load.
        """
        idc = self.id_col
        missing = self._sql(f"SELECT count(*) FROM _typed WHERE {idc} IS NULL").fetchone()[0]
        if not missing:
            self._sql("CREATE OR REPLACE TEMP VIEW _keyed AS SELECT * FROM _typed")
            return
        prefix = cells.quote_literal(ID_PREFIX[self.kind])
        self._sql(f"""
            CREATE OR REPLACE TEMP TABLE _keyed AS
            SELECT * EXCLUDE (_h) REPLACE (
                COALESCE({idc}, {prefix} || substr(md5(_h || ':' || CAST(
                    row_number() OVER (PARTITION BY _h, {idc} IS NULL ORDER BY _row)
                    AS VARCHAR)), 1, 24)) AS {idc})
            FROM (SELECT *, {self._content_hash()} AS _h FROM _typed)
        """)

    def _collect_conflicting_ids(self) -> None:
        """Repeated ids inside the file: identical repeats are dropped, differing ones rejected."""
        idc = self.id_col
        id_column = cells.quote_literal(self.id_source)
        self._sql("CREATE OR REPLACE TEMP TABLE _repeats (_row BIGINT)")
        self.no_rejects = self._sql("SELECT count(*) FROM _rejects").fetchone()[0] == 0
        self.no_repeats = True
        total, distinct = self._sql(
            f"SELECT count(*), count(DISTINCT {idc}) FROM _keyed").fetchone()
        if total == distinct:
            return
        self._sql(f"""
            CREATE OR REPLACE TEMP TABLE _dups AS
            SELECT k.*, {self._content_hash("k")} AS _h FROM _keyed AS k
            WHERE k.{idc} IN (SELECT {idc} FROM _keyed GROUP BY {idc} HAVING count(*) > 1)
        """)
        self._sql(f"""
            INSERT INTO _rejects (_row, column_name, value, reason)
            SELECT d._row, {id_column}, d.{idc},
                   'id appears more than once in this file with different content (rows '
                   || c.rows_list || ')'
            FROM _dups AS d
            JOIN (
                SELECT {idc} AS id,
                       string_agg(CAST(_row AS VARCHAR), ', ' ORDER BY _row) AS rows_list
                FROM _dups GROUP BY {idc}
                HAVING count(DISTINCT _h) > 1
            ) AS c ON c.id = d.{idc}
        """)
        self._sql(f"""
            INSERT INTO _repeats
            SELECT _row FROM (
                SELECT _row, row_number() OVER (PARTITION BY {idc} ORDER BY _row) AS nth
                FROM _dups
                WHERE {idc} NOT IN (SELECT {idc} FROM _dups GROUP BY {idc}
                                    HAVING count(DISTINCT _h) > 1)
            ) WHERE nth > 1
        """)
        self.no_rejects = self._sql("SELECT count(*) FROM _rejects").fetchone()[0] == 0
        self.no_repeats = self._sql("SELECT count(*) FROM _repeats").fetchone()[0] == 0

    def _collect_store_conflicts(self) -> None:
        """Rows whose id is already stored with different content (unless --replace)."""
        if self.store_empty or self.replace:
            return
        idc = self.id_col
        self._sql(f"""
            INSERT INTO _rejects (_row, column_name, value, reason)
            SELECT k._row, {cells.quote_literal(self.id_source)}, k.{idc},
                   'id is already in the store with different content (use --replace to '
                   || 'overwrite it)'
            FROM ({self._good_rows()}) AS k
            JOIN {self.kind} AS s ON s.{idc} = k.{idc}
            WHERE {self._differs("s", "k")}
        """)
        self.no_rejects = self._sql("SELECT count(*) FROM _rejects").fetchone()[0] == 0

    def _fail_on_rejects(self, report: FileLoadReport) -> None:
        rows = self._sql("""
            SELECT _row, column_name, value, reason FROM _rejects
            ORDER BY _row, column_name LIMIT 1
        """).fetchall()
        if not rows:
            return
        row, column, value, reason = rows[0]
        n_rows = self._sql("SELECT count(DISTINCT _row) FROM _rejects").fetchone()[0]
        if self.on_error == "fail":
            more = f"; {n_rows - 1:,} more row(s) have problems too" if n_rows > 1 else ""
            raise InputFileError(
                self.name, reason, row=row, line=row + 1 if self.csv_lines else None,
                column=column, value=value,
                hint=f"Nothing was loaded{more}. Fix the file, or load the good rows and set the "
                     "bad ones aside in a file with their reasons", suggest=("on_error", "skip"),
            )

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
                    SELECT alias, arg_min(canonical, ts_text) AS canonical, min({ts}) AS seen
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


def _keep_traits(con: duckdb.DuckDBPyConnection, time_format: str | None,
                 timezone: str | None) -> None:
    """What the identify calls said about each person, with the e-mail on its own."""
    if not one(con, "SELECT count(*) FROM _journey_traits")[0]:
        return
    ts = cells.timestamp("ts_text", "VARCHAR", time_format)
    if timezone:
        con.execute(f"SET TimeZone = {cells.quote_literal(timezone)}")
    try:
        con.execute(f"""
            INSERT INTO person_traits
            SELECT customer_id, NULLIF(trim(json_extract_string(traits, '$.email')), ''), traits,
                   {ts}, load_id FROM _journey_traits AS t
            WHERE NOT EXISTS (SELECT 1 FROM person_traits AS p WHERE p.customer_id = t.customer_id
                              AND CAST(p.traits AS VARCHAR) = CAST(t.traits AS VARCHAR))
        """)
    finally:
        if timezone:
            con.execute("SET TimeZone = 'UTC'")


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
                loader = _FileLoader(
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
            if kind == "deals":
                steps = deal_events(con, load_ids)
                if steps and reports:
                    reports[-1].notes.append(f"{steps:,} journey event(s) written for these "
                                             "deals (deal_created, deal_won, deal_lost)")
                new_names = _map_new_event_names(con)
                refresh_people(con, load_ids, everything=replace)
            if kind == "events":
                new_names = _map_new_event_names(con)
                refresh_people(con, load_ids, everything=replace)
                _keep_traits(con, time_format, timezone)
                joined = rekey_stored_customers(con)
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
    return IngestReport(kind=kind, files=reports, new_event_names=new_names)
