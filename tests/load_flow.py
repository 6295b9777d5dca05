"""A bounded load test of the web app on 127.0.0.1: concurrent chat sessions, each checked for
correct and unmixed answers (shared by the test and benchmarks/load_benchmark.py). Loopback
only; every request has a timeout.

`run_load` is the small one (a question and a follow-up per session, for the test);
`run_mixed_load` is the issue's shape: many clients, each its own Gradio session, each asking a
script of varied marketer questions (drop-off, paths, channels, churn, what changed, feedback,
follow-ups)."""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


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


def _percentile(ordered: list[float], q: float) -> float | None:
    return ordered[max(0, int(q * len(ordered)) - 1)] if ordered else None


def _run_clients(url: str, clients: int, session: Callable[[int, object], None],
                 timeout: float) -> float:
    """Starts `clients` threads, each with its own Gradio client (its own session), and
    returns the wall time until all finished."""
    from gradio_client import Client

    assert url.startswith("http://127.0.0.1"), "load tests only ever target this machine"
    ready = threading.Barrier(clients + 1)

    def run(i: int) -> None:
        try:
            # Plain http on loopback: nothing to verify, and not loading the CA bundle on every
            # request keeps the load generator from eating the cores the server is measured on.
            client = Client(url, verbose=False, ssl_verify=False)
        except Exception:
            ready.abort()
            raise
        ready.wait()
        session(i, client)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    ready.wait(timeout)  # every client connected: the clock starts when they all may ask
    started = time.perf_counter()
    for t in threads:
        t.join(timeout * 20 + 30)
    return time.perf_counter() - started


def run_load(url: str, sessions: int, events: list[str], timeout: float = 120.0) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def session(i: int, client) -> None:
        event = events[i % len(events)]
        try:
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

    wall = _run_clients(url, sessions, session, timeout)
    ordered = sorted(latencies)
    return {"sessions": sessions, "answers": len(latencies), "errors": errors,
            "wall_s": wall, "throughput": len(latencies) / wall if wall else 0.0,
            "p50_s": statistics.median(ordered) if ordered else None,
            "p95_s": _percentile(ordered, 0.95)}


# -- the shape: varied questions ---------------------------------------------------------

EVENTS = ["signup", "pricing_view", "checkout_started", "landing_view", "onboarding_started",
          "trial_started", "features_view", "plan_selected"]
DEVICES = ["mobile", "desktop"]
CHANNELS = ["paid_social", "paid_search", "email", "referral", "organic_search", "display"]
FRICTION_STEPS = ["pricing_view", "signup", "checkout_started", "landing_view"]
TOPICS = ["billing", "the price", "onboarding", "integrations", "the mobile app", "invoices"]
MONTHS = ["March", "April", "May", "June", "July", "August"]


@dataclass
class Question:
    kind: str  # what it asks (for the report): dropoff, paths, channels, churn, ...
    text: str
    expect: str  # a phrase its answer must hold: a wrong tool or someone else's answer lacks it
    follow_up: bool = False


@dataclass
class Asked:
    client: int
    question: Question
    context: str  # the question before a follow-up (its answer depends on it), else ""
    seconds: float
    answer: str = field(repr=False, default="")


def _blocks(i: int) -> list[list[Question]]:
    """Client i's topics, each a question and maybe its follow-up; names vary with i."""
    event, device = EVENTS[i % len(EVENTS)], DEVICES[i % 2]
    other = DEVICES[(i + 1) % 2]
    channel, step = CHANNELS[i % len(CHANNELS)], FRICTION_STEPS[i % len(FRICTION_STEPS)]
    topic, month = TOPICS[i % len(TOPICS)], MONTHS[i % len(MONTHS)]
    churn = [Question("churn", "What predicts churn?", "Correlation, not cause"),
             Question("churn", "who is at risk of churning?", "ROC AUC"),
             Question("churn", "which segments churn the most?", "segments")][i % 3]
    paths = [Question("paths", "which paths convert best?", "The most common path"),
             Question("paths", "compare mobile and desktop", "By device"),
             Question("paths", "what predicts conversion?", "did subscription_started")][i % 3]
    overview = [Question("overview", "What should we fix first this quarter?", "quick wins"),
                Question("overview", "what do customers complain about?", "themes"),
                Question("overview", "how is retention by week?", "active in week")][i % 3]
    dropoff = (Question("dropoff", f"Where do we lose people on {DEVICES[i // 2 % 2]}?",
                        "customers started at") if i % 2 else
               Question("dropoff", f"where do people drop off in {month}?",
                        "customers started at"))
    return [
        [Question("next_steps", f"what happens after {event}?", f"path {event} occurs"),
         Question("next_steps", f"and on {other}?", f"path {event} occurs", follow_up=True)],
        [dropoff],
        [Question("channels", "Which channels drive conversions?", "By the markov model"),
         Question("channels", f"and for {channel}?", "By the markov model", follow_up=True)],
        [churn],
        [Question("what_changed", "What changed last week?", "unusual week")],
        [Question("why", f"Why do people leave at {step}?", f"did {step} but not"),
         Question("why", f"and on {device}?", f"did {step} but not", follow_up=True)],
        [paths],
        [Question("feedback", f"what do customers say about {topic}?", "customers said")],
        [overview],
    ]


def mixed_script(i: int, count: int = 10) -> list[Question]:
    """Client i's `count` questions: its topics in an order rotated by i, so at any moment the
    clients are asking different kinds of question."""
    blocks = _blocks(i)
    start = i % len(blocks)
    ordered = blocks[start:] + blocks[:start]
    script: list[Question] = []
    while len(script) < count:
        for block in ordered:
            script.extend(block)
    script = script[:count]
    if script[0].follow_up:  # a follow-up needs something before it
        script[0] = _blocks(i)[4][0]
    return script


_RESULT_ID = re.compile(r"\[R\d+\]")


def run_mixed_load(url: str, clients: int = 20, per_client: int = 10,
                   timeout: float = 120.0) -> dict:
    """Each client asks its script in one Gradio session. An answer is correct when it holds its
    question's phrase, and unmixed when every client that asked the same question (after the
    same question, for a follow-up) got the same answer, result ids aside."""
    asked: list[Asked] = []
    errors: list[str] = []
    lock = threading.Lock()

    def session(i: int, client) -> None:
        history: list = []
        previous = ""
        for question in mixed_script(i, per_client):
            try:
                started = time.perf_counter()
                job = client.submit(question.text, history, api_name="/respond")
                history = job.result(timeout=timeout)[0]
                elapsed = time.perf_counter() - started
                answer = _answer(history)
                if question.expect not in answer:
                    raise AssertionError(f"{question.text!r} got: {answer[:160]!r}")
                with lock:
                    asked.append(Asked(i, question, previous if question.follow_up else "",
                                       elapsed, answer))
            except Exception as exc:  # collected, reported, and failed on by the caller
                with lock:
                    errors.append(f"client {i}: {question.text!r}: {type(exc).__name__}: {exc}")
            previous = question.text

    wall = _run_clients(url, clients, session, timeout)
    answers: dict[tuple[str, str], set[str]] = {}
    for a in asked:
        answers.setdefault((a.context, a.question.text), set()).add(
            _RESULT_ID.sub("[R]", a.answer))
    for (context, text), seen in answers.items():
        if len(seen) > 1:
            errors.append(f"{text!r} (after {context!r}) got {len(seen)} different answers")
    ordered = sorted(a.seconds for a in asked)
    by_kind: dict[str, list[float]] = {}
    for a in asked:
        by_kind.setdefault(a.question.kind, []).append(a.seconds)
    return {"clients": clients, "questions": clients * per_client, "answers": len(asked),
            "errors": errors, "wall_s": wall,
            "throughput": len(asked) / wall if wall else 0.0,
            "p50_s": statistics.median(ordered) if ordered else None,
            "p95_s": _percentile(ordered, 0.95), "max_s": ordered[-1] if ordered else None,
            "distinct_questions": len(answers),
            "by_kind": {k: (len(v), statistics.median(v), max(v))
                        for k, v in sorted(by_kind.items())}}
