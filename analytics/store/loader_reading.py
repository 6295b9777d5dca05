"""Loading one file, the reading steps: what a load refuses whatever on_error says, and the
lines it sets aside.
"""

from __future__ import annotations

import dataclasses
import uuid

import duckdb

from analytics.errors import InputFileError
from analytics.store import cells
from analytics.store.files import (
    SniffedFile,
    json_key_spellings,
    reader_sql,
)
from analytics.store.loader_base import LoaderBase
from analytics.store.read_errors import (
    read_error,
    scan_json_lines,
)


class ReadingSteps(LoaderBase):
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

