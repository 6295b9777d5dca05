"""Rows kept as files next to the data: the rows a load skipped, with their reasons (written
after commit), and erasing a person from such copies (rejects, the demo's generated exports)."""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import duckdb

from analytics.store.ingest_report import FileLoadReport

REJECTS_SUFFIX = ".rejected.csv"
# Shorter values (an id such as 'c1') are matched only as a whole cell or a JSON value:
# searched for inside text they would match unrelated words.
WORD_MATCH_FROM = 4


def write_rejects(con: duckdb.DuckDBPyConnection, reports: list[FileLoadReport],
                   rejects_dir: Path) -> None:
    for report in reports:
        if not report.rows_rejected:
            continue
        rejects_dir.mkdir(parents=True, exist_ok=True)
        target = rejects_dir / f"{Path(report.file).name}{REJECTS_SUFFIX}"
        rows = con.execute("""
            SELECT row_number, column_name, value, reason, record FROM _all_rejects
            WHERE file = ? ORDER BY row_number, column_name
        """, [report.file]).fetchall()
        with target.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["row", "column", "value", "reason", "original_row_json"])
            writer.writerows(rows)
        report.rejects_file = str(target)


class PersonMatcher:
    """Whether a cell names the person: it equals one of `traces` (their id, anonymous ids,
    e-mail, name), holds one as a JSON string, or contains a long one as a whole word; case is
    ignored. The pattern is written for both Python's `re` and Arrow's RE2 (no look-arounds)."""

    def __init__(self, traces: Sequence[str]) -> None:
        self.exact = sorted({t.strip().lower() for t in traces if t and t.strip()})
        words = [re.escape(t) for t in sorted(self.exact, key=len, reverse=True)
                 if len(t) >= WORD_MATCH_FROM]
        quoted = "|".join(re.escape(t) for t in self.exact)
        parts = ([f'"(?:{quoted})"'] if quoted else []) + \
            ([rf"(?:^|\W)(?:{'|'.join(words)})(?:\W|$)"] if words else [])
        self.pattern = "|".join(parts)
        self._regex = re.compile(self.pattern) if self.pattern else None

    def __call__(self, value: object) -> bool:
        if value is None:
            return False
        text = str(value).strip().lower()
        if text in self.exact or (self._regex is not None and self._regex.search(text)):
            return True
        if text.startswith("{"):  # a JSON record: a number as a value (customer_id: 12)
            try:
                record = json.loads(text)
            except ValueError:
                return False
            if isinstance(record, dict):
                return any(str(v).strip().lower() in self.exact for v in record.values()
                           if v is not None)
        return False


def erase_rows_from_files(paths: Iterable[Path], traces: Sequence[str]) -> int:
    """Remove every row that names the person from CSV, Parquet and JSON Lines copies; a file
    that changes is rewritten beside itself and moved over the old one (atomic). Returns how
    many rows were removed."""
    matches = PersonMatcher(traces)
    removed = 0
    for path in paths:
        suffix = path.suffix.lower()
        if suffix == ".csv":
            removed += _erase_from_csv(path, matches)
        elif suffix == ".parquet":
            removed += _erase_from_parquet(path, matches)
        elif suffix in (".jsonl", ".ndjson"):
            removed += _erase_from_json_lines(path, matches)
    return removed


def _replace(path: Path, write: Callable[[Path], object]) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        write(partial)
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def _erase_from_csv(path: Path, matches: PersonMatcher) -> int:
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[:1], rows[1:]
    kept = [row for row in body if not any(matches(cell) for cell in row)]
    if len(kept) == len(body):
        return 0

    def write(target: Path) -> None:
        with target.open("w", newline="", encoding="utf-8") as out:
            csv.writer(out).writerows(header + kept)

    _replace(path, write)
    return len(body) - len(kept)


def _erase_from_parquet(path: Path, matches: PersonMatcher) -> int:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if not matches.exact:
        return 0
    table = pq.read_table(path)
    hit = pa.array([False] * table.num_rows)
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            text = pc.utf8_lower(pc.utf8_trim_whitespace(column))
            found = pc.or_(pc.is_in(text, value_set=pa.array(matches.exact)),
                           pc.match_substring_regex(text, matches.pattern))
            hit = pc.or_(hit, pc.fill_null(found, False))
    gone = pc.sum(hit).as_py() or 0
    if gone:
        kept = table.filter(pc.invert(hit))
        _replace(path, lambda target: pq.write_table(kept, target))
    return gone


def _erase_from_json_lines(path: Path, matches: PersonMatcher) -> int:
    lines = path.read_bytes().splitlines(keepends=True)
    kept = []
    for line in lines:
        text = line.decode("utf-8", errors="replace")
        try:
            record = json.loads(text)
        except ValueError:
            record = None
        values = record.values() if isinstance(record, dict) else [text]
        if not any(matches(v) for v in values):
            kept.append(line)
    if len(kept) == len(lines):
        return 0
    _replace(path, lambda target: target.write_bytes(b"".join(kept)))
    return len(lines) - len(kept)
