"""Pure analytics over the DuckDB event store: no LLM, no UI.

`analytics.store` owns the store itself (schema, ingest, identity and stage maps); the
analytics modules read it through `analytics.store.EventStore`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from analytics.erasers import register_eraser

if TYPE_CHECKING:
    from analytics.store.connection import EventStore
    from analytics.store.forget import ErasureReport

# Folders of the data folder that keep rows as files: the rows loads skipped, and the demo's
# generated exports (sample_data writes them to `demo/`).
KEPT_ROW_FOLDERS = ("rejects", "demo")
KEPT_ROW_SUFFIXES = (".csv", ".parquet", ".jsonl", ".ndjson")
# Caches in the data folder computed from the store: recomputed when next needed.
CACHE_FILES = ("description.json",)


def _erase_from_feedback_index(store: EventStore, report: ErasureReport) -> None:
    """The feedback index is derived from the store: its snippets of the customer go, and the
    index is written afresh so that Chroma's queue and free pages forget them too; backups of
    a damaged index go as well."""
    from analytics.feedback.index import FeedbackIndex, remove_leftover_folders

    index = FeedbackIndex(store)
    if report.feedback_ids and index.path.exists():
        index.erase(report.feedback_ids)
    remove_leftover_folders(store.home)


def _clear_temporary_files(store: EventStore, report: ErasureReport) -> None:
    """Uploads, exported plans and an ingest's or embedding's scratch files may hold the
    erased customer: everything in the temporary folder goes (uploaded files are the raw
    data). A file that cannot be removed fails the erasure rather than staying silently."""
    import shutil

    folder = store.home / "tmp"
    if not folder.exists():
        return
    for child in list(folder.iterdir()):
        if child.is_dir() and not child.is_symlink():
            try:
                shutil.rmtree(child)
            except OSError:  # a read-only file (Windows will not delete one): made writable
                for path in child.rglob("*"):
                    path.chmod(0o700)
                shutil.rmtree(child)
        else:
            child.unlink(missing_ok=True)


def _erase_from_kept_files(store: EventStore, report: ErasureReport) -> None:
    """Rejected rows and the demo's exports are copies of rows: the customer's rows go."""
    from analytics.store.rejects import erase_rows_from_files

    files = [path for name in KEPT_ROW_FOLDERS if (store.home / name).is_dir()
             for path in sorted((store.home / name).rglob("*"))
             if path.is_file() and path.name.lower().endswith(KEPT_ROW_SUFFIXES)]
    erase_rows_from_files(files, report.traces)


def _drop_caches(store: EventStore, report: ErasureReport) -> None:
    for name in CACHE_FILES:
        (store.home / name).unlink(missing_ok=True)


# Registered here, in the package both the store and the feedback layer sit under, so an
# erasure can never run without them; the store itself stays free of the index.
register_eraser(_erase_from_feedback_index)
register_eraser(_clear_temporary_files)
register_eraser(_erase_from_kept_files)
register_eraser(_drop_caches)
