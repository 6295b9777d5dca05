"""Turning a DuckDB reader error into one line a user can act on, and finding, line by line,
what is wrong in a JSON Lines file that DuckDB refused (that pass runs only after a failure)."""

from __future__ import annotations

import json
import re
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import duckdb

from analytics.errors import InputFileError
from analytics.store import cells
from analytics.store.connection import one
from analytics.store.files import MAX_LINE_BYTES, open_bytes

NUL_HINT = ("Nothing was loaded. A NUL byte is binary data, not text: the export is probably "
            "damaged; export it again, or remove the NUL bytes (for example with tr -d '\\000')")


def nul_error(file: str, *, row: int | None, line: int | None, column: str | None,
              text: str | None, more: int = 0) -> InputFileError:
    """The error for a NUL byte in a cell: refused in every mode, like a NUL in the first
    64 KiB (which `sniff` refuses), since it means a damaged or binary file, not one bad row."""
    snippet = None
    if text is not None:  # the cell, or the JSON text that writes the NUL as \u0000
        at = max(text.find("\x00"), text.find("\\u0000"))
        snippet = text[max(at - 30, 0):at + 30] if at != -1 else text
    also = f"{more:,} more row(s) hold one too. " if more else ""
    return InputFileError(file, "contains a NUL byte (binary data, not text)", row=row,
                          line=line, column=column, value=snippet, hint=also + NUL_HINT)


def refuse_nul_cells(con: duckdb.DuckDBPyConnection, file: str, types: dict[str, str],
                     row_sql: str, csv_lines: bool) -> None:
    """A NUL anywhere in a text cell of the loaded `_raw` table refuses the file: one pass over
    its text columns in SQL (the sniffer has only looked at the first 64 KiB)."""
    conditions = {c: cond for c, t in types.items()
                  if (cond := cells.nul_condition(c, t)) is not None}
    if not conditions:
        return
    found, rows = one(con, f"SELECT min(rowid), count(*) FROM _raw WHERE "
                           f"{' OR '.join(conditions.values())}")
    if not rows:
        return
    # Error path only: which cell of the first such row.
    values = one(
        con, f"SELECT {row_sql}, {', '.join(conditions.values())}, "
             f"{', '.join(f'CAST({cells.quote_ident(c)} AS VARCHAR)' for c in conditions)} "
             f"FROM _raw WHERE rowid = ?", [found])
    row, flags, texts = values[0], values[1:len(conditions) + 1], values[len(conditions) + 1:]
    at = next(i for i, flag in enumerate(flags) if flag)
    raise nul_error(file, row=row, line=row + 1 if csv_lines else None,
                    column=list(conditions)[at], text=texts[at], more=rows - 1)


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
        # Raises itself for a NUL byte or a key written twice.
        bad, _rows = scan_json_lines(file, stop_at_first=True)
        if bad:
            return malformed_json_error(file, bad[0])
    original = re.search(r"Original Line: (.*)", text)
    first = text.splitlines()[0] if text else "unknown error"
    first = re.sub(r"^[A-Za-z ]*Error: ", "", first)
    return InputFileError(file, f"could not be read as {fmt.upper()}: {first}", line=line,
                          value=original.group(1) if original else None)


@dataclass(frozen=True)
class BadJsonLine:
    """A line of a JSON Lines file that is not one JSON object."""

    line: int  # the line in the file
    row: int  # the row as the reader numbers them: blank lines are not rows
    problem: str
    text: str


def malformed_json_error(file: str, bad: BadJsonLine) -> InputFileError:
    return InputFileError(
        file, f"is not valid JSON on this line ({bad.problem})", line=bad.line, value=bad.text,
        hint="Each line must be one complete JSON object. Nothing was loaded; fix the line, or "
             "load the other rows and set the bad ones aside", suggest=("on_error", "skip"))


class _Pairs(list):
    """An object's (key, value) pairs as written, duplicates kept (json.loads keeps the last)."""


def _nul_column(raw: bytes) -> str | None:
    """The top-level key whose value holds the NUL byte, when the line parses without it."""
    try:
        pairs = json.loads(raw.replace(b"\x00", b"\\u0000"), object_pairs_hook=_Pairs)
    except ValueError:
        return None
    if isinstance(pairs, _Pairs):
        for key, value in pairs:
            if "\x00" in key or _holds_nul(value):
                return key
    return None


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, _Pairs):
        return any("\x00" in k or _holds_nul(v) for k, v in value)
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def scan_json_lines(file: str, *, stop_at_first: bool = False,
                    copy_to: Path | None = None) -> tuple[list[BadJsonLine], int]:
    """Check every line; return the ones that are not a JSON object, and the number of rows.

    Raises InputFileError for what skipping rows cannot fix: a NUL byte, or a key written twice
    in an object (or in two spellings that differ only in case, which the reader would load as
    two columns). With `copy_to`, writes the file there with each bad line replaced by `{}`, so
    the reader can load the rest and every row keeps its number.
    """
    bad: list[BadJsonLine] = []
    spellings: dict[str, tuple[str, int]] = {}  # lower-cased key -> first spelling and its line
    with ExitStack() as stack:
        source = stack.enter_context(open_bytes(Path(file)))
        copy = stack.enter_context(copy_to.open("wb")) if copy_to else None
        row = 0
        for number, raw in enumerate(source, start=1):
            if not raw.strip():
                if copy:
                    copy.write(raw)
                continue
            row += 1
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if b"\x00" in raw:
                raise nul_error(file, row=row, line=number, column=_nul_column(raw), text=text)
            problem = None
            try:
                pairs = json.loads(raw, object_pairs_hook=_Pairs)
                if not isinstance(pairs, _Pairs):
                    problem = f"a JSON {type(pairs).__name__} where an object was expected"
            except ValueError as exc:  # UnicodeDecodeError included
                problem = str(exc).split(":")[0]
            if problem is None:
                _refuse_repeated_keys(file, number, pairs, spellings)
                if copy:
                    copy.write(raw)
                continue
            bad.append(BadJsonLine(number, row, problem, text))
            if copy:
                copy.write(b"{}\n")
            if stop_at_first:
                break
    return bad, row


def _refuse_repeated_keys(file: str, line: int, pairs: _Pairs,
                          spellings: dict[str, tuple[str, int]]) -> None:
    in_object: dict[str, str] = {}
    for key, _value in pairs:
        folded = key.lower()
        if folded in in_object:
            first = in_object[folded]
            spelled = "" if first == key else (
                f" (as '{first}' and '{key}': names are compared without regard to case)")
            error = InputFileError(file, f"key '{key}' appears twice in one object{spelled}",
                                   line=line, hint="Nothing was loaded. Keep one of them, then "
                                                   "load the file again")
            error.column = key
            raise error
        in_object[folded] = key
    for folded, key in in_object.items():
        known = spellings.setdefault(folded, (key, line))
        if known[0] != key:
            error = InputFileError(
                file, f"key '{key}' is written '{known[0]}' on line {known[1]}: names that "
                      "differ only in case would load as two columns", line=line,
                hint="Nothing was loaded. Write the key one way throughout the file, then "
                     "load it again")
            error.column = key
            raise error
