"""Recognising an input file before DuckDB reads it.

DuckDB's own readers do the heavy lifting; this module rejects, with a message a marketer can
act on, the files those readers would choke on or misread: empty files, spreadsheets and other
wrong types, binary garbage, and absurdly long lines (a 1 GB file of one line must fail in
milliseconds, not after reading a gigabyte).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from analytics.config import settings
from analytics.errors import InputFileError

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
    b"\x1f\x8b": "a gzip-compressed file; decompress it first",
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
    header: list[str] = field(default_factory=list)  # for CSV: the column names of line 1


def _guess_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in [",", "\t", ";", "|"]}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _first_line(path: Path, limit: int) -> bytes | None:
    """The first line (without its newline), or None when it is longer than `limit` bytes."""
    with path.open("rb") as handle:
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

    with path.open("rb") as handle:
        head = handle.read(64 * 1024)
    for magic, what in _KNOWN_WRONG.items():
        if head.startswith(magic):
            raise InputFileError(name, f"this looks like {what}")

    suffix = path.suffix.lower()
    fmt = _EXTENSIONS.get(suffix)
    if head.startswith(b"PAR1"):
        fmt = "parquet"
    if fmt is None:
        raise InputFileError(
            name,
            f"unsupported file type '{suffix or '(no extension)'}'",
            hint="Use .csv, .tsv, .parquet or .jsonl (JSON Lines)",
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
        return SniffedFile(path, "parquet", None, size)

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
    header: list[str] = []
    for position, raw in enumerate(names, start=1):
        column = raw.strip() or f"column_{position}"
        if column in header:
            raise InputFileError(name, f"column '{column}' appears twice in the header",
                                 line=1, hint="Rename one of them")
        header.append(column)
    return header


def reader_sql(sniffed: SniffedFile, max_line_bytes: int = MAX_LINE_BYTES,
               skip_bad_lines: bool = False) -> str:
    """A DuckDB table-function call that reads the file (text columns stay text)."""
    location = "'" + str(sniffed.path).replace("'", "''") + "'"
    if sniffed.format == "parquet":
        return f"read_parquet({location})"
    if sniffed.format == "jsonl":
        return (
            f"read_json({location}, format = 'newline_delimited', records = true, "
            f"maximum_object_size = {max(max_line_bytes, 1 << 20)}, sample_size = -1, "
            # Nested objects (Segment properties, context) stay JSON as the user wrote them.
            "maximum_depth = 1)"
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
