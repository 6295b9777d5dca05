"""Loading one file, the checks: unreadable cells, ids repeated in the file or already stored
with other content, and the first problem as the error when nothing may be skipped.
"""

from __future__ import annotations

from analytics.errors import InputFileError
from analytics.store import cells
from analytics.store.fields import ID_PREFIX, STORE_COLUMNS
from analytics.store.ingest_report import FileLoadReport
from analytics.store.loader_base import LoaderBase


class CheckingSteps(LoaderBase):
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

