"""Sessions answered side by side: questions from two sessions run at the same time, a result
that several sessions need at once is computed once, and nothing shared outlives a write."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from analytics.store import EventStore
from tools import registry
from tools.base import ToolContext
from tools.session import Session, shared_call


def _wrap_tool(monkeypatch, name: str, before) -> list:
    """Runs `before(arguments)` in the tool, then the tool itself; returns the calls seen."""
    spec = registry.BY_NAME[name]
    calls: list = []

    def run(ctx, args):
        calls.append(args)
        before(args)
        return spec.run(ctx, args)

    monkeypatch.setitem(registry.BY_NAME, name, replace(spec, run=run))
    return calls


def test_two_sessions_questions_run_at_the_same_time(demo_store, monkeypatch):
    """Each question waits inside its tool until the other one is inside its own: asked one
    after the other, the barrier breaks and both fail; side by side, both pass."""
    from ui.web import JourneyApp

    app = JourneyApp(demo_store)
    both_inside = threading.Barrier(2, timeout=20)
    waited: set[int] = set()

    def meet_once(args: dict) -> None:
        # Only each question's first call meets the other: an answer may follow up with a
        # second next_steps call (from the top next step) once it is past the barrier.
        if threading.get_ident() not in waited:
            waited.add(threading.get_ident())
            both_inside.wait()

    _wrap_tool(monkeypatch, "next_steps", meet_once)
    answers: dict[str, str] = {}
    errors: list[BaseException] = []

    def ask(event: str) -> None:
        try:
            history = list(app.respond(f"what happens after {event}?", [], None))[-1][0]
            answers[event] = next(m["content"] for m in reversed(history)
                                  if isinstance(m["content"], str))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(e,)) for e in ("signup", "pricing_view")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert "path signup occurs" in answers["signup"]
    assert "path pricing_view occurs" in answers["pricing_view"]  # each its own answer


def test_the_web_app_answers_chat_side_by_side_and_writes_one_at_a_time(demo_store):
    from ui.web import build

    demo = build(demo_store)
    fns = {fn.name: fn for fn in demo.fns.values()}
    assert fns["respond"].concurrency_limit != 1  # the queue's default: several at once
    assert fns["upload"].concurrency_limit == fns["forget"].concurrency_limit == 1
    assert fns["upload"].concurrency_id == fns["forget"].concurrency_id  # one queue for both


def test_a_result_many_sessions_ask_for_at_once_is_computed_once(demo_store, monkeypatch):
    calls = _wrap_tool(monkeypatch, "funnel", lambda args: time.sleep(0.3))
    ctx = ToolContext(demo_store)
    sessions = [Session(ctx) for _ in range(4)]
    results: list = []
    threads = [threading.Thread(target=lambda s=s: results.append(
        s.call("funnel", {"steps": ["pricing_view", "signup"]}))) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(calls) == 1
    assert [r.result_id for r in results] == ["R1"] * 4  # each session numbers its own
    assert len({id(r.result) for r in results}) == 1
    assert sessions[0].call("funnel", {"steps": ["pricing_view", "signup"]}).result_id == "R2"
    assert len(calls) == 1
    # Other arguments are another result; a call that failed is not kept.
    assert shared_call(ctx, "funnel", {"steps": ["signup", "pricing_view"]}).ok
    assert len(calls) == 2
    for _ in range(2):
        assert not shared_call(ctx, "funnel", {"steps": ["nope", "signup"]}).ok
    assert len(calls) == 4


EVENTS = "user_id,timestamp,event\n" + "".join(
    f"u{i},2026-01-0{1 + i % 5} 10:00:00,pricing_view\n" for i in range(40)) + "".join(
    f"u{i},2026-01-0{1 + i % 5} 11:00:00,signup\n" for i in range(0, 40, 4))
MORE = "".join(f"u{i},2026-01-07 12:00:00,signup\n" for i in range(1, 40, 4))


def _signed_up(ctx: ToolContext) -> int:
    result = Session(ctx).call("funnel", {"steps": ["pricing_view", "signup"]})
    assert result.ok, result.content
    return result.result.steps[1].customers


@pytest.mark.parametrize("writer", ["same context", "another process"])
def test_shared_results_and_caches_are_forgotten_after_a_write(tmp_path, write, writer):
    store = EventStore(tmp_path / "home")
    first = write("events.csv", EVENTS)
    assert registry.call_tool(ToolContext(store), "ingest",
                              {"kind": "events", "paths": [str(first)]}).ok
    ctx = ToolContext(store)
    assert _signed_up(ctx) == 10
    catalog, facts = ctx.catalog(), ctx.cached(ctx.cache, "probe", lambda: "before")
    assert _signed_up(ctx) == 10 and ctx.catalog() is catalog  # from the shared results
    more = write("more.csv", "user_id,timestamp,event\n" + MORE)
    # The app's own load clears its context; one by another process (another context here)
    # is seen by the store's change stamp on the next question.
    loader = ctx if writer == "same context" else ToolContext(store)
    assert registry.call_tool(loader, "ingest", {"kind": "events", "paths": [str(more)]}).ok
    assert _signed_up(ctx) == 20
    assert ctx.catalog() is not catalog
    assert ctx.cached(ctx.cache, "probe", lambda: "after") == "after" != facts


def test_a_value_computed_while_the_data_changed_is_not_kept(tmp_path, write):
    store = EventStore(tmp_path / "home")
    path = write("events.csv", EVENTS)
    ctx = ToolContext(store)
    assert registry.call_tool(ctx, "ingest", {"kind": "events", "paths": [str(path)]}).ok
    more = write("more.csv", "user_id,timestamp,event\n" + MORE)

    def load_meanwhile() -> str:
        assert registry.call_tool(ToolContext(store), "ingest",
                                  {"kind": "events", "paths": [str(more)]}).ok
        return "stale"

    assert ctx.cached(ctx.results, "key", load_meanwhile) == "stale"  # the caller gets it
    assert ctx.cached(ctx.results, "key", lambda: "fresh") == "fresh"  # nobody else does


def test_the_shared_models_are_made_once_when_threads_ask_together(monkeypatch):
    from agent import intents
    from analytics.feedback import embedder

    made: list = []

    class Counting(embedder.MiniLMEmbedder):
        def __init__(self) -> None:
            made.append(self)
            time.sleep(0.2)
            super().__init__()

    monkeypatch.setattr(embedder, "_shared", None)
    monkeypatch.setattr(embedder, "MiniLMEmbedder", Counting)
    threads = [threading.Thread(target=embedder.shared_embedder) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(made) == 1 and embedder.shared_embedder() is made[0]
    assert intents._shared_lock is not None  # the classifier is made under the same rule
