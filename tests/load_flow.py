"""A bounded load test of the web app on 127.0.0.1: concurrent chat sessions, each with its own
question and a follow-up, checked for correct and unmixed answers (shared by the test and
benchmarks/load_benchmark.py). Loopback only; every request has a timeout."""

from __future__ import annotations

import statistics
import threading
import time


def _text(message) -> str:
    content = message.get("content") if isinstance(message, dict) else message
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def _answer(history: list) -> str:
    """The last answer's text: after it may come its chart (a component, not text)."""
    for message in reversed(history):
        content = message.get("content") if isinstance(message, dict) else message
        if isinstance(content, dict) and "component" in content:
            continue
        if isinstance(content, list) and content and all(
                isinstance(part, dict) and part.get("type") == "component" for part in content):
            continue
        return _text(message)
    return ""


def run_load(url: str, sessions: int, events: list[str], timeout: float = 120.0) -> dict:
    from gradio_client import Client

    assert url.startswith("http://127.0.0.1"), "load tests only ever target this machine"
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def session(i: int) -> None:
        event = events[i % len(events)]
        try:
            client = Client(url, verbose=False)
            history: list = []
            for question in (f"what happens after {event}?", "and on mobile?"):
                started = time.perf_counter()
                job = client.submit(question, history, api_name="/respond")
                history = job.result(timeout=timeout)[0]
                elapsed = time.perf_counter() - started
                answer = _answer(history)
                if f"path {event} occurs" not in answer:
                    raise AssertionError(f"session {i} got someone else's answer: {answer[:120]}")
                with lock:
                    latencies.append(elapsed)
        except Exception as exc:  # collected, reported, and failed on by the caller
            with lock:
                errors.append(f"session {i}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=session, args=(i,)) for i in range(sessions)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 30)
    wall = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"sessions": sessions, "answers": len(latencies), "errors": errors,
            "wall_s": wall, "throughput": len(latencies) / wall if wall else 0.0,
            "p50_s": statistics.median(ordered) if ordered else None,
            "p95_s": ordered[max(0, int(0.95 * len(ordered)) - 1)] if ordered else None}
