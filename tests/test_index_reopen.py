"""A feedback index changed by another process is reopened, not used stale (issue #14, item 4).

Chroma keeps an opened folder's state in memory for the whole process: after another process
synced or rebuilt the folder, the web app's open index answered from the old state (new
snippets missing) or failed on every call ("attempt to write a readonly database").
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from analytics.store import EventStore, ingest_files
from tools.base import ToolContext

REPO = Path(__file__).resolve().parents[1]


def _other_process(home: Path, code: str) -> None:
    script = ("from analytics.store import EventStore\n"
              "from analytics.feedback.index import FeedbackIndex\n"
              f"store = EventStore({str(home)!r})\n" + code)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture
def served(tmp_path):
    """A store and the tool context a long-running face holds, its index open and searched."""
    store = EventStore(tmp_path / "home")
    (tmp_path / "e.csv").write_text("customer_id,timestamp,event\nc1,2024-01-01,signup\n"
                                    "c2,2024-01-01,signup\n")
    (tmp_path / "f.csv").write_text(
        "feedback_id,customer_id,timestamp,source,text\n"
        "f1,c1,2024-01-03,ticket,The price is far too high for us\n"
        "f2,c2,2024-01-03,review,Love the weekly reports\n")
    ingest_files(store, "events", [tmp_path / "e.csv"])
    ingest_files(store, "feedback", [tmp_path / "f.csv"])
    ctx = ToolContext(store)
    assert ctx.feedback_index().search("too expensive", k=1)[0].feedback_id == "f1"
    return store, ctx, tmp_path


def test_a_sync_by_another_process_is_seen(served):
    store, ctx, tmp_path = served
    (tmp_path / "more.csv").write_text("feedback_id,customer_id,timestamp,source,text\n"
                                       "f3,c2,2024-01-04,chat,The billing page times out\n")
    ingest_files(store, "feedback", [tmp_path / "more.csv"])
    _other_process(store.home, "FeedbackIndex(store).sync()")  # `journey feedback index`
    assert ctx.feedback_index().search("billing timeout", k=1)[0].feedback_id == "f3"


def test_a_folder_rebuilt_by_another_process_is_reopened(served):
    store, ctx, _ = served
    index = ctx.feedback_index()
    _other_process(store.home, "import shutil\nshutil.rmtree(FeedbackIndex(store).path)\n"
                               "FeedbackIndex(store).sync()")
    assert index.search("too expensive", k=1)[0].feedback_id == "f1"  # same object: reopened
    assert ctx.feedback_index().search("reports", k=1)[0].feedback_id == "f2"
    _other_process(store.home, "FeedbackIndex(store).erase(['f2'])")  # swaps the folder
    assert [s.feedback_id for s in index.search("reports", k=2)] == ["f1"]


def test_a_chroma_failure_reopens_the_index_and_answers(served, monkeypatch):
    """A folder replaced without the generation file (an older version, a person): the first
    Chroma error drops the process's state for it, and the question is asked again."""
    from chromadb.errors import InternalError

    _, ctx, _ = served
    index = ctx.feedback_index()
    real, failures = index._search, []

    def fails_once(*args):
        if not failures:
            failures.append(1)
            raise InternalError("attempt to write a readonly database")
        return real(*args)

    monkeypatch.setattr(index, "_search", fails_once)
    before = index.collection()
    assert index.search("too expensive", k=1)[0].feedback_id == "f1"
    assert failures and index.collection() is not before  # reopened
