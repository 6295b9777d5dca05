"""SQL expressions that turn one raw column into a typed value.

Each parser returns an expression over the raw column. A value that is present but cannot be
read becomes NULL, and `ingest` reports such cells (present raw, NULL typed) with row and column.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def local_time(con, zone: str | None) -> Iterator[None]:
    """Times written without an offset are read in the export's time zone (--timezone) while
    this lasts; DuckDB reads them in the session's zone, which is UTC everywhere else."""
    if not zone:
        yield
        return
    con.execute(f"SET TimeZone = {quote_literal(zone)}")
    try:
        yield
    finally:
        con.execute("SET TimeZone = 'UTC'")


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def is_text_type(duck_type: str) -> bool:
    return duck_type.upper() in {"VARCHAR", "JSON"} or duck_type.upper().startswith("VARCHAR")


def is_numeric_type(duck_type: str) -> bool:
    t = duck_type.upper()
    return any(t.startswith(p) for p in (
        "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
        "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL", "REAL",
    ))


def raw_text(column: str, duck_type: str) -> str:
    """The cell as trimmed text, NULL when empty (used for ids, names and error reports)."""
    col = quote_ident(column)
    if duck_type.upper() == "JSON":
        # JSON Lines are read one level deep, every field as JSON: strings lose their quotes,
        # numbers and booleans become their text, objects stay JSON text.
        return f"NULLIF(trim(json_extract_string({col}, '$')), '')"
    if is_text_type(duck_type):
        return f"NULLIF(trim({col}), '')"
    return f"NULLIF(trim(CAST({col} AS VARCHAR)), '')"


def _epoch(value: str) -> str:
    # Epoch numbers come in seconds (Mixpanel), milliseconds (many exports) or microseconds
    # (GA4); their magnitude tells which. Out of range (before year 1 or after 9999): unreadable.
    seconds = (f"(CASE WHEN abs({value}) < 1e11 THEN {value} "
               f"WHEN abs({value}) < 1e14 THEN {value} / 1e3 "
               f"WHEN abs({value}) < 1e17 THEN {value} / 1e6 "
               f"ELSE {value} / 1e9 END)")
    return (f"CASE WHEN isfinite({value}) AND {seconds} BETWEEN -62135596800 AND 253402300799 "
            f"THEN to_timestamp({seconds}) END")


# Unambiguous non-ISO layouts. Day/month order with slashes is ambiguous, so it is only read
# with an explicit --time-format.
_EXTRA_FORMATS = ["%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%d.%m.%Y %H:%M:%S",
                  "%d.%m.%Y %H:%M", "%d.%m.%Y", "%Y%m%dT%H%M%S"]


def timestamp(column: str, duck_type: str, time_format: str | None = None) -> str:
    col = quote_ident(column)
    t = duck_type.upper()
    if t.startswith("TIMESTAMP WITH TIME ZONE") or t == "TIMESTAMPTZ":
        return col
    if t.startswith("TIMESTAMP") or t == "DATE":
        return f"CAST({col} AS TIMESTAMPTZ)"
    if is_numeric_type(t):
        return _epoch(f"CAST({col} AS DOUBLE)")
    text = raw_text(column, duck_type)
    if time_format:
        return f"CAST(try_strptime({text}, {quote_literal(time_format)}) AS TIMESTAMPTZ)"
    formats = "[" + ", ".join(quote_literal(f) for f in _EXTRA_FORMATS) + "]"
    return (
        f"CASE WHEN regexp_full_match({text}, '-?[0-9]+(\\.[0-9]+)?') "
        f"THEN {_epoch(f'CAST({text} AS DOUBLE)')} "
        f"ELSE COALESCE(TRY_CAST({text} AS TIMESTAMPTZ), "
        f"CAST(try_strptime({text}, {formats}) AS TIMESTAMPTZ)) END"
    )


def number(column: str, duck_type: str) -> str:
    col = quote_ident(column)
    if is_numeric_type(duck_type):
        return f"CAST({col} AS DOUBLE)"
    # Currency signs, spaces and thousands separators are common in CRM exports: "$1,200.50".
    return (
        f"TRY_CAST(regexp_replace({raw_text(column, duck_type)}, '[\\s$€£¥,]', '', 'g') "
        "AS DOUBLE)"
    )


TRUE_WORDS = ("true", "t", "yes", "y", "1", "churned", "opted_out", "unsubscribed")
FALSE_WORDS = ("false", "f", "no", "n", "0", "active", "subscribed")


def boolean(column: str, duck_type: str) -> str:
    col = quote_ident(column)
    t = duck_type.upper()
    if t == "BOOLEAN":
        return col
    if is_numeric_type(t):
        return f"(CAST({col} AS DOUBLE) <> 0)"
    text = f"lower({raw_text(column, duck_type)})"
    trues = ", ".join(quote_literal(w) for w in TRUE_WORDS)
    falses = ", ".join(quote_literal(w) for w in FALSE_WORDS)
    return f"CASE WHEN {text} IN ({trues}) THEN TRUE WHEN {text} IN ({falses}) THEN FALSE END"


def json_value(column: str, duck_type: str) -> str:
    """A column holding an object: a struct/map (Parquet, JSONL) or JSON text (CSV)."""
    col = quote_ident(column)
    if is_text_type(duck_type):
        text = raw_text(column, duck_type)
        return f"CASE WHEN json_valid({text}) THEN CAST({text} AS JSON) END"
    return f"CAST(to_json({col}) AS JSON)"


def json_object_of(columns: list[str], named: dict[str, str] | None = None) -> str | None:
    """The leftover columns of a row as one JSON object, or None when there are none;
    `named` adds keys of our own naming (key -> SQL), such as `email` whatever the header."""
    pairs = [f"{quote_literal(c)}, {quote_ident(c)}" for c in columns]
    pairs += [f"{quote_literal(k)}, {sql}" for k, sql in (named or {}).items()]
    if not pairs:
        return None
    return f"json_object({', '.join(pairs)})"


# A JSON text that writes a NUL character: \u0000 not preceded by an escaping backslash.
_JSON_NUL = r"'(^|[^\\])(\\\\)*\\u0000'"


def nul_condition(column: str, duck_type: str) -> str | None:
    """SQL that is true when a cell holds a NUL character; None for types without text."""
    col = quote_ident(column)
    t = duck_type.upper()
    if t == "VARCHAR":
        return f"contains({col}, chr(0))"
    if t == "JSON":
        # The reader refuses a raw NUL in JSON; an escaped one is a NUL once the text is read.
        return f"(contains({col}, '\\u0000') AND regexp_matches({col}, {_JSON_NUL}))"
    if "VARCHAR" in t or "JSON" in t:  # structs, lists and maps holding text (Parquet)
        return f"contains(CAST({col} AS VARCHAR), chr(0))"
    return None
