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


def _erase_from_feedback_index(store: EventStore, report: ErasureReport) -> None:
    """The feedback index is derived from the store: drop the erased snippets from it too."""
    if not report.feedback_ids:
        return
    from analytics.feedback.index import FeedbackIndex

    index = FeedbackIndex(store)
    if index.path.exists():
        index.collection().delete(ids=report.feedback_ids)


def _clear_temporary_files(store: EventStore, report: ErasureReport) -> None:
    """Uploads and exported plans may hold the erased customer: the temporary folder goes."""
    import shutil

    folder = store.home / "tmp"
    if folder.exists():
        for child in folder.iterdir():
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


# Registered here, in the package both the store and the feedback layer sit under, so an
# erasure can never run without it; the store itself stays free of the index.
register_eraser(_erase_from_feedback_index)
register_eraser(_clear_temporary_files)
