"""Offline-mode answer latency: 20 marketer questions on a ~1M-event store.

    .venv/bin/python benchmarks/agent_benchmark.py [--people 125000] [--write]

A session starts by warming up (embedding model, catalog, feedback themes, segments, churn
model), which the web app does when it starts; that is timed separately.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bench_common import machine, write_section

from agent.planner import OfflinePlanner
from analytics.feedback.index import FeedbackIndex
from analytics.store import EventStore
from sample_data.demo import load_demo
from tools.base import ToolContext

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "Where do people drop off?", "compare mobile and desktop", "which paths convert best?",
    "what happens after signup?", "what predicts conversion?", "what predicts churn?",
    "who is at risk of churning?", "describe the segments", "why do people leave at pricing?",
    "what do customers say about billing?", "what do customers complain about?",
    "which channels drive conversions?", "what changed last week?", "how is retention?",
    "what data do we have?", "and on mobile?", "why do customers drop off at signup?",
    "show me complaints about onboarding", "conversion by channel",
    "what stops people at checkout?",
    # In the words of the answer evaluation (#17): investigations, counts, lists, periods.
    "why did signups drop in august?", "what do churned customers complain about?",
    "which customers should we call this week?", "where should next quarter's budget go?",
    "how long does it take a new signup to create their first report?",
    "how many customers cancelled in the past 30 days?", "who churned last quarter?",
    "Which plan has the worst churn?", "iOS vs Android: pricing to signup?",
    "how did pricing-to-signup conversion do in early June?", "how many sessions per person?",
    "whats the conversoin rate for people from paid socail?",
    "what should we do next for C0000123?",
    "what do people do right after seeing pricing?", "which paths lead to a paid subscription?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=125_000)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    home = ROOT / "benchmarks" / ".data" / f"demo-{args.people}"
    store = EventStore(home)
    if not store.exists():
        load_demo(store, people=args.people, seed=7)
    FeedbackIndex(store).sync()
    with store.reader() as con:
        events = con.execute("SELECT count(*) FROM events").fetchone()[0]
    planner = OfflinePlanner(ToolContext(store))
    started = time.perf_counter()
    planner.warm_up()
    warm = time.perf_counter() - started
    timings = []
    for question in QUESTIONS:
        started = time.perf_counter()
        answer = planner.ask(question)
        timings.append(time.perf_counter() - started)
        print(f"{timings[-1]:6.2f} s  {answer.intent:20s} {question}", flush=True)
    ordered = sorted(timings)
    p95 = ordered[int(0.95 * len(ordered)) - 1]
    churn_q = timings[QUESTIONS.index("who is at risk of churning?")]
    lines = [
        "## Agent (offline mode)",
        "",
        f"{len(QUESTIONS)} questions (one session, follow-up included) on the demo store with "
        f"{args.people:,} people = {events:,} events. Machine: {machine()}. Command: "
        "`.venv/bin/python "
        "benchmarks/agent_benchmark.py --write`.",
        "",
        "| figure | seconds | bar |",
        "|---|---:|---|",
        f"| session start (`warm_up`: embedding model, catalog, feedback themes, segments, churn, "
        f"what changed, sessions, at-risk next actions; "
        f"the web app does this when it starts) | {warm:.2f} | |",
        f"| first question | {timings[0]:.2f} | |",
        f"| median answer | {statistics.median(timings):.2f} | |",
        f"| p95 answer | {p95:.2f} | <= 1.5 s |",
        f"| \"who is at risk of churning?\" (model trained at warm-up) | {churn_q:.2f} | |",
        f"| slowest answer | {max(timings):.2f} | |",
        "",
    ]
    section = "\n".join(lines)
    print(section)
    if args.write:
        write_section('Agent (offline mode)', section)
if __name__ == "__main__":
    main()
