"""The web app under 20 concurrent chat sessions on 127.0.0.1 (bounded: 2 questions each).

    .venv/bin/python benchmarks/load_benchmark.py [--sessions 20] [--write]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.feedback.index import FeedbackIndex  # noqa: E402
from analytics.store import EventStore  # noqa: E402
from sample_data.demo import load_demo  # noqa: E402
from tests.load_flow import run_load  # noqa: E402

EVENTS = ["signup", "pricing_view", "checkout_started", "landing_view", "onboarding_started"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    home = ROOT / "benchmarks" / ".data" / "demo-20000"
    store = EventStore(home)
    if not store.exists():
        load_demo(store, people=20_000, seed=7)
    FeedbackIndex(store).sync()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-c", "from ui.cli import run; run()", "--home",
                               str(home), "ui", "--port", str(port)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        time.sleep(5)
        result = run_load(url, args.sessions, EVENTS)
    finally:
        server.terminate()
        server.wait(timeout=30)
    lines = [
        "## Web app under load",
        "",
        f"{args.sessions} concurrent chat sessions on 127.0.0.1, each asking a question and a "
        "follow-up (2 answers), against `journey ui` on the 20,000-people demo in offline mode. "
        "Command: `.venv/bin/python benchmarks/load_benchmark.py --write`.",
        "",
        "| figure | value |",
        "|---|---:|",
        f"| answers (all correct and from their own session) | {result['answers']} |",
        f"| errors | {len(result['errors'])} |",
        f"| throughput | {result['throughput']:.1f} answers/s |",
        f"| latency p50 / p95 | {result['p50_s']:.2f} / {result['p95_s']:.2f} s |",
        "",
    ]
    section = "\n".join(lines)
    print(section)
    for error in result["errors"]:
        print(error)
    if args.write:
        target = ROOT / "BENCHMARKS.md"
        text = target.read_text()
        start = text.find("## Web app under load")
        if start != -1:
            end = text.find("\n## ", start + 1)
            text = text[:start] + section + ("\n" + text[end + 1:] if end != -1 else "")
        else:
            text = text.rstrip() + "\n\n" + section
        target.write_text(text)


if __name__ == "__main__":
    main()
