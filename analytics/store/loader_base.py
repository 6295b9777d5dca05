"""What every step of loading one file shares: the open transaction, the file and the options.

The steps themselves are in loader_nesting (vendor presets, dotted paths), loader_reading (what a
load refuses or sets aside while reading) and loader_checks (cells, repeats, conflicts); the
loader that runs them in order is file_loader.FileLoader.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import duckdb

from analytics.store.columns import Kind
from analytics.store.fields import TimeRange
from analytics.store.read_errors import BadJsonLine

OnError = Literal["fail", "skip"]
# (phase description, rows done, rows in total) -> None; rows in total is 0 while unknown.
Progress = Callable[[str, int, int], None]


class LoaderBase:
    con: duckdb.DuckDBPyConnection
    kind: Kind
    path: Path
    name: str
    mapping: dict[str, str]
    on_error: OnError
    replace: bool
    time_format: str | None
    default_source: str | None
    progress: Progress
    load_id: int
    max_line_bytes: int
    time_range: TimeRange
    temp_folder: Callable[[], Path]
    vendor_format: str
    timezone: str | None
    id_col: str
    id_source: str
    bad_json: list[BadJsonLine]
    bad_lines: int
    rowid_base: int
    row_sql: str  # SQL for a raw row's 1-based number in the file
    csv_lines: bool
    store_empty: bool
    no_rejects: bool
    no_repeats: bool
    synthetic: set[str]  # columns made from dotted paths (not extras)
    preset_sources: dict[str, str]
    linked: bool  # identity calls in the file linked ids (in _journey_links)

    def _sql(self, query: str, params: list | None = None) -> Any:
        return self.con.execute(query, params or [])
