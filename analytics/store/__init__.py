"""The event store: one DuckDB file with events, customers, feedback, identities and stages.

The names below load on first use: reading the store should not pay for importing ingest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analytics.store.connection import EventStore, data_home
    from analytics.store.ingest import ingest_files
    from analytics.store.ingest_report import FileLoadReport, IngestReport

__all__ = ["EventStore", "data_home", "ingest_files", "IngestReport", "FileLoadReport"]
_HOMES = {"EventStore": "connection", "data_home": "connection", "ingest_files": "ingest",
          "IngestReport": "ingest_report", "FileLoadReport": "ingest_report"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'analytics.store' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"analytics.store.{_HOMES[name]}"), name)
