"""Turning a DuckDB reader error into one line a user can act on."""

from __future__ import annotations

import re

import duckdb

from analytics.errors import InputFileError
from analytics.store.files import MAX_LINE_BYTES


def read_error(file: str, fmt: str, exc: duckdb.Error) -> InputFileError:
    """Turn a DuckDB reader error into one line a user can act on."""
    text = str(exc)
    line_match = re.search(r"[Ll]ine:? (\d+)", text)
    line = int(line_match.group(1)) if line_match else None
    if "maximum line size" in text.lower() or "max_line_size" in text.lower():
        return InputFileError(file, f"a line is longer than {MAX_LINE_BYTES // 1024} KiB",
                              line=line, hint="This does not look like a line-per-row export")
    fields = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if fields:
        return InputFileError(
            file, f"this line has {fields.group(2)} fields but the header has {fields.group(1)}",
            line=line, hint="Check quoting and delimiters on that line, or load the other rows "
                            "and set the bad ones aside", suggest=("on_error", "skip"))
    if fmt == "jsonl":
        bad = first_bad_json_line(file)
        if bad is not None:
            return InputFileError(file, f"is not valid JSON on this line ({bad[1]})", line=bad[0],
                                  hint="Each line must be one complete JSON object")
    original = re.search(r"Original Line: (.*)", text)
    first = text.splitlines()[0] if text else "unknown error"
    first = re.sub(r"^[A-Za-z ]*Error: ", "", first)
    return InputFileError(file, f"could not be read as {fmt.upper()}: {first}", line=line,
                          value=original.group(1) if original else None)


def first_bad_json_line(file: str) -> tuple[int, str] | None:
    # DuckDB's JSON errors do not always name the line; find it ourselves (error path only).
    import json

    with open(file, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                json.loads(raw)
            except ValueError as exc:
                return number, str(exc).split(":")[0]
    return None
