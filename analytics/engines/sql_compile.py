"""One analytic query, compiled for another engine: parameters bound, SQLGlot, overrides.

Parameters are bound as literals before compiling (Spark SQL and chDB take no `?` markers in
the same places DuckDB does), by their positions in the tokenised text, so a `?` inside a
string literal is never touched. The SQLGlot version is pinned in pyproject.toml: a new one
can change a translation silently, which the golden files in tests/golden_sql show as a diff.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

from analytics.engines.sql_overrides import apply_overrides

# Engines the analytics run on, and dialects the SQL is printed for (golden files).
RUN_DIALECTS = ("spark", "clickhouse")
PRINT_DIALECTS = ("bigquery", "snowflake", "trino")


class CompileError(ValueError):
    """A query the compiler cannot bind or translate (a bug in an analytic, not the user's)."""


def literal(value: Any) -> str:
    """`value` as a DuckDB literal: the same text the parameter would have bound."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float, Decimal)):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        # Naive timestamps mean UTC everywhere in the store (the sessions' time zone is UTC).
        return f"CAST('{value.isoformat(sep=' ')}' AS TIMESTAMPTZ)"
    if isinstance(value, date):
        return f"CAST('{value.isoformat()}' AS DATE)"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise CompileError(f"cannot bind a parameter of type {type(value).__name__}: {value!r}")


def bind_parameters(sql: str, parameters: object = None) -> str:
    """`sql` with each `?` replaced by its parameter as a literal, in order."""
    params = list(parameters or [])  # type: ignore[call-overload]
    marks = [t for t in sqlglot.tokenize(sql, read="duckdb")
             if t.token_type == TokenType.PLACEHOLDER]
    if len(marks) != len(params):
        raise CompileError(f"the query has {len(marks)} parameter markers and "
                           f"{len(params)} parameters were given")
    out = sql
    for mark, value in reversed(list(zip(marks, params))):
        out = out[:mark.start] + literal(value) + out[mark.end + 1:]
    return out


def parse_duckdb(sql: str) -> list[exp.Expr]:
    try:
        return [tree for tree in sqlglot.parse(sql, read="duckdb") if tree is not None]
    except sqlglot.errors.ParseError as exc:
        raise CompileError(f"SQLGlot cannot parse the query: {exc}") from None


def compile_sql(sql: str, parameters: object, dialect: str) -> str:
    """The DuckDB-dialect `sql` with `parameters`, as one statement for `dialect`."""
    trees = parse_duckdb(bind_parameters(sql, parameters))
    if len(trees) != 1:
        raise CompileError(f"one statement at a time, got {len(trees)}")
    return apply_overrides(trees[0], dialect).sql(dialect=dialect)


def compile_script(sql: str, dialect: str) -> list[str]:
    """Several statements (the store's view definitions), each compiled for `dialect`."""
    return [apply_overrides(tree, dialect).sql(dialect=dialect) for tree in parse_duckdb(sql)]
