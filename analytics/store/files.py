"""Recognising an input file before DuckDB reads it.

DuckDB's own readers do the heavy lifting; this module rejects, with a message a marketer can
act on, the files those readers would choke on or misread: empty files, spreadsheets and other
wrong types, binary garbage, and absurdly long lines (a 1 GB file of one line must fail in
milliseconds, not after reading a gigabyte).
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import duckdb

from analytics.config import settings
from analytics.errors import InputFileError
from analytics.store.columns import refuse_duplicate_columns

FileFormat = Literal["csv", "parquet", "jsonl"]

# One CSV/JSONL line may be at most this long. Real exports stay far below; a longer line means
# a file that is not line-oriented text (or a broken export).
MAX_LINE_BYTES = 1 << 20
# Caps on one file, with clear messages; raise them with these variables for bigger loads.
MAX_FILE_BYTES = settings().max_file_mb * (1 << 20)
MAX_ROWS = settings().max_rows

_EXTENSIONS: dict[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}

_KNOWN_WRONG: dict[bytes, str] = {
    b"PK\x03\x04": "a ZIP archive or an Excel/Numbers workbook; save it as CSV first",
    b"\x1f\x8b": "a gzip-compressed file; name it .jsonl.gz or .csv.gz, or decompress it",
    b"%PDF": "a PDF document; export the data as CSV, Parquet or JSON Lines",
    b"\xd0\xcf\x11\xe0": "an old Excel/Office document; save it as CSV first",
    b"SQLite format 3": "a SQLite database; export the table as CSV or Parquet",
}


@dataclass(frozen=True)
class SniffedFile:
    path: Path
    format: FileFormat
    delimiter: str | None  # for CSV: ',', '\t', ';' or '|'
    size: int
    # The column names: for CSV those of line 1, for Parquet those of its schema.
    header: list[str] = field(default_factory=list)


def _guess_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in [",", "\t", ";", "|"]}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def is_gzip(path: Path) -> bool:
    return path.suffix.lower() == ".gz"


def open_bytes(path: Path):
    """The file's bytes, decompressed when it is a .gz (exports are often written so)."""
    return gzip.open(path, "rb") if is_gzip(path) else path.open("rb")


def _first_line(path: Path, limit: int) -> bytes | None:
    """The first line (without its newline), or None when it is longer than `limit` bytes."""
    with open_bytes(path) as handle:
        chunk = handle.read(limit + 1)
    ends = [i for i in (chunk.find(b"\n"), chunk.find(b"\r")) if i != -1]
    if not ends:
        return chunk if len(chunk) <= limit else None
    return chunk[:min(ends)]


def sniff(path: str | Path, max_line_bytes: int = MAX_LINE_BYTES) -> SniffedFile:
    """Check a file is something we can load and say which reader to use."""
    path = Path(path)
    name = str(path)
    if not path.exists():
        raise InputFileError(name, "file not found", hint="Check the path and try again")
    if path.is_dir():
        raise InputFileError(name, "is a folder, not a file", hint="Name the files inside it")
    size = path.stat().st_size
    if size == 0:
        raise InputFileError(name, "the file is empty", hint="Export it again with its rows")
    if size > MAX_FILE_BYTES:
        raise InputFileError(
            name, f"the file is {size / (1 << 20):,.0f} MB, above the {MAX_FILE_BYTES >> 20:,} MB "
                  "limit for one file",
            hint="Split it into several files (they load in one transaction), or raise "
                 "JOURNEY_MAX_FILE_MB")

    suffix = path.suffix.lower()
    if is_gzip(path):
        suffix = Path(path.stem).suffix.lower()
        if _EXTENSIONS.get(suffix) not in ("csv", "jsonl"):
            raise InputFileError(name, "is compressed, but its name does not say what is inside",
                                 hint="Name it .jsonl.gz, .json.gz, .csv.gz or .tsv.gz")
        try:
            with open_bytes(path) as handle:
                head = handle.read(64 * 1024)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputFileError(name, f"is not a readable gzip file ({exc})",
                                 hint="Download or compress it again") from None
        if not head:
            raise InputFileError(name, "the file is empty once decompressed",
                                 hint="Export it again with its rows")
    else:
        with path.open("rb") as handle:
            head = handle.read(64 * 1024)
    for magic, what in _KNOWN_WRONG.items():
        if head.startswith(magic):
            raise InputFileError(name, f"this looks like {what}")

    fmt = _EXTENSIONS.get(suffix)
    if head.startswith(b"PAR1"):
        fmt = "parquet"
    if fmt is None:
        raise InputFileError(
            name,
            f"unsupported file type '{suffix or '(no extension)'}'",
            hint="Use .csv, .tsv, .parquet or .jsonl (JSON Lines), each also as .gz",
        )
    if fmt == "parquet":
        with path.open("rb") as handle:
            handle.seek(max(size - 4, 0))
            tail = handle.read(4)
        if not head.startswith(b"PAR1") or tail != b"PAR1":
            raise InputFileError(
                name, "is not a valid Parquet file (its PAR1 markers are missing)",
                hint="Export it again, or rename it if it is really CSV or JSON Lines",
            )
        return SniffedFile(path, "parquet", None, size, _parquet_columns(name, path))

    # Text formats: must be UTF-8 text without NUL bytes.
    nul = head.find(b"\x00")
    if nul != -1:
        raise InputFileError(
            name, f"contains binary data (a NUL byte at offset {nul}), not text",
            hint="Check that this is the exported CSV/JSON Lines file and not something else",
        )
    try:
        # A multi-byte character may be cut at the end of the sample; ignore that one.
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:
            raise InputFileError(
                name, f"is not UTF-8 text (undecodable byte at offset {exc.start})",
                hint="Save it as UTF-8 (in Excel: 'CSV UTF-8')",
            ) from None
    first = _first_line(path, max_line_bytes)
    if first is None:
        raise InputFileError(
            name, f"line 1 is longer than {max_line_bytes // 1024} KiB",
            hint="This is not a line-per-row export; check the file and its line endings",
        )
    if not first.strip():
        raise InputFileError(name, "line 1 is blank; expected the header row (column names)")
    text = first.decode("utf-8", errors="replace").lstrip("\ufeff")
    if fmt == "jsonl":
        if not text.lstrip().startswith("{"):
            raise InputFileError(
                name, "is not JSON Lines (line 1 does not start with '{')",
                row=1, hint="Write one JSON object per line",
            )
        return SniffedFile(path, "jsonl", None, size)
    delimiter = "\t" if suffix == ".tsv" else _guess_delimiter(text)
    return SniffedFile(path, "csv", delimiter, size, _csv_header(name, text, delimiter))


def _csv_header(name: str, line: str, delimiter: str) -> list[str]:
    # We read the header ourselves and hand DuckDB the columns: its sniffer would otherwise
    # skip leading rows when a later row has more fields, silently dropping data.
    try:
        names = next(csv.reader(io.StringIO(line, newline=""), delimiter=delimiter), [])
    except csv.Error as exc:
        raise InputFileError(name, f"line 1 is not a readable header row ({exc})", line=1,
                             hint="Save the file as CSV with one header row of column names"
                             ) from None
    header = [raw.strip() or f"column_{position}" for position, raw in enumerate(names, start=1)]
    refuse_duplicate_columns(name, header, line=1)
    refuse_nul_in_names(name, header, line=1)
    return header


def _parquet_columns(name: str, path: Path) -> list[str]:
    """The top-level column names of a Parquet file, from its footer (DuckDB's reader would
    rename a repeated name to name_1 and load both)."""
    try:
        with duckdb.connect() as con:
            rows = con.execute("SELECT name, num_children FROM parquet_schema(?)",
                               [str(path)]).fetchall()
    except duckdb.Error:
        return []  # a damaged file: the reader says what is wrong with it
    # The schema is a tree written depth first: the root, then each column and its nested fields.
    columns: list[str] = []
    position = 1
    for _ in range((rows[0][1] or 0) if rows else 0):
        if position >= len(rows):
            break
        columns.append(rows[position][0])
        pending = 1  # elements of this column's subtree still to step over
        while pending and position < len(rows):
            pending += (rows[position][1] or 0) - 1
            position += 1
    refuse_duplicate_columns(name, columns, what="the Parquet schema")
    refuse_nul_in_names(name, columns)
    return columns


def refuse_nul_in_names(name: str, columns: list[str], line: int | None = None) -> None:
    for column in columns:
        if "\x00" in column:
            raise InputFileError(
                name, f"column name {column!r} contains a NUL byte (binary data, not text)",
                line=line, hint="Rename the column, or check that the file is not damaged")


def reader_sql(sniffed: SniffedFile, max_line_bytes: int = MAX_LINE_BYTES,
               skip_bad_lines: bool = False, json_columns: dict[str, str] | None = None) -> str:
    """A DuckDB table-function call that reads the file (text columns stay text).

    `json_columns` (JSON Lines): the columns an earlier pass found, so that this read does not
    look through the whole file for them again."""
    location = "'" + str(sniffed.path).replace("'", "''") + "'"
    if sniffed.format == "parquet":
        return f"read_parquet({location})"
    if sniffed.format == "jsonl":
        # Nested objects (Segment properties, context) stay JSON as the user wrote them.
        detect = ("sample_size = -1, maximum_depth = 1" if not json_columns else "columns = {"
                  + ", ".join(f"'{c.replace(chr(39), chr(39) * 2)}': "
                              f"'{t.replace(chr(39), chr(39) * 2)}'"
                              for c, t in json_columns.items()) + "}")
        return (
            f"read_json({location}, format = 'newline_delimited', records = true, "
            f"maximum_object_size = {max(max_line_bytes, 1 << 20)}, {detect})"
        )
    delimiter = sniffed.delimiter.replace("'", "''") if sniffed.delimiter else ","
    # Everything is read as text so that one odd value cannot change a column's type;
    # the ingest step casts each column itself and reports the cells it cannot read.
    columns = ", ".join("'" + c.replace("'", "''") + "': 'VARCHAR'" for c in sniffed.header)
    skipping = (", ignore_errors = true, store_rejects = true, rejects_table = '_csv_rejects', "
                "rejects_scan = '_csv_scans'") if skip_bad_lines else ""
    return (
        f"read_csv({location}, header = true, auto_detect = false, columns = {{{columns}}}, "
        f"delim = '{delimiter}', quote = '\"', escape = '\"', max_line_size = {max_line_bytes}, "
        f"strict_mode = true, null_padding = false{skipping})"
    )


def json_key_spellings(sniffed: SniffedFile, columns: list[str],
                       max_line_bytes: int = MAX_LINE_BYTES) -> list[str] | None:
    """Keys of a JSON Lines file that differ only in case, which the reader loads as two columns
    (the second renamed name_1). Only a file whose columns look renamed is read for its keys,
    on a connection of its own (a failed statement must not abort the load's transaction)."""
    lowered = {c.lower() for c in columns}
    renamed = [c for c in columns if (m := re.fullmatch(r"(.+)_\d+", c))
               and m.group(1).lower() in lowered]
    if not renamed:
        return []
    location = "'" + str(sniffed.path).replace("'", "''") + "'"
    try:
        with duckdb.connect() as con:
            keys = [row[0] for row in con.execute(
                f"SELECT DISTINCT unnest(json_keys(json)) FROM read_ndjson_objects({location}, "
                f"maximum_object_size = {max(max_line_bytes, 1 << 20)})").fetchall()]
    except duckdb.Error:
        return None  # cannot tell: the caller checks line by line
    spellings: dict[str, list[str]] = {}
    for key in keys:
        spellings.setdefault(key.lower(), []).append(key)
    return sorted(k for group in spellings.values() if len(group) > 1 for k in group)
