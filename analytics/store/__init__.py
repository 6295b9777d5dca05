"""The event store: one DuckDB file with events, customers, feedback, identities and stages."""

from analytics.store.connection import EventStore, data_home
from analytics.store.ingest import ingest_files
from analytics.store.ingest_report import FileLoadReport, IngestReport

__all__ = ["EventStore", "data_home", "ingest_files", "IngestReport", "FileLoadReport"]
