"""A connection to another engine with the surface the analytics use of a DuckDB one.

`execute(sql, params)` compiles the DuckDB-dialect query for the engine (sql_compile) and runs
it there; the rows come back as DuckDB's would: tuples, timestamps aware in UTC, `fetchall`,
`fetchone` and `df()`. So an analytic written for DuckDB runs unchanged on Spark or ClickHouse.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any, Protocol

from analytics.engines.sql_compile import compile_sql
from analytics.errors import StoreError


class EngineError(StoreError):
    """The engine could not run a question (not started, a query it refused, a time limit)."""


class Engine(Protocol):
    name: str  # spark | clickhouse
    dialect: str  # SQLGlot's name for its SQL

    def run(self, sql: str, seconds: float) -> tuple[list[str], list[tuple]]:
        """Columns and rows of one compiled statement, stopped after `seconds`."""
        ...

    def close(self) -> None: ...


def arrow_rows(table: Any) -> list[tuple]:
    """A pyarrow Table's rows as tuples (by column: names may repeat)."""
    return list(zip(*(column.to_pylist() for column in table.columns)))


def first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _as_duckdb(value: Any) -> Any:
    # Engines return naive timestamps in their session time zone (UTC here); DuckDB returns
    # TIMESTAMPTZ aware. Aware ones in UTC compare equal either way.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class EngineCursor:
    def __init__(self, columns: list[str], rows: list[tuple]) -> None:
        self.columns = columns
        self._rows = [tuple(_as_duckdb(v) for v in row) for row in rows]
        self._at = 0

    @property
    def description(self) -> list[tuple]:
        return [(name,) for name in self.columns]

    def fetchall(self) -> list[tuple]:
        rows, self._at = self._rows[self._at:], len(self._rows)
        return rows

    def fetchone(self) -> tuple | None:
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    def df(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.fetchall(), columns=self.columns)


class EngineConnection:
    """Read-only: the analytics' queries, compiled and run on `engine`."""

    def __init__(self, engine: Engine, seconds: float) -> None:
        self.engine = engine
        self.seconds = seconds
        self._lock = threading.Lock()  # one session, one query at a time

    def compile(self, query: str, parameters: object = None) -> str:
        return compile_sql(query, parameters, self.engine.dialect)

    def execute(self, query: str, parameters: object = None) -> EngineCursor:
        sql = self.compile(query, parameters)
        with self._lock:
            columns, rows = self.engine.run(sql, self.seconds)
        return EngineCursor(columns, rows)

    def register(self, view_name: str, python_object: object) -> None:
        raise EngineError(f"This analytic joins a table computed in Python ({view_name}), which "
                          f"runs on DuckDB only: run it without --engine {self.engine.name}.")

    def unregister(self, view_name: str) -> None:
        return None

    def close(self) -> None:
        return None  # the engine outlives one question (starting Spark takes seconds)
