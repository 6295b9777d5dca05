"""The web app as a marketer sees it: first-answer latency in headless Chromium, and a
screenshot of every screen for the README.

    .venv/bin/python benchmarks/ui_benchmark.py [--runs 5] [--write]

Starts `journey ui` on the demo data (offline mode), opens a fresh page per run, and times from
pressing Enter to the answer appearing. Screenshots go to docs/screenshots/.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.feedback.index import FeedbackIndex  # noqa: E402
from analytics.store import EventStore  # noqa: E402
from sample_data.demo import load_demo  # noqa: E402
from tests.browser_flow import ask, browser_page, tour  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
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
        time.sleep(5)  # let the server's warm-up finish, as it would before a user arrives
        questions = ["Where do we lose people?", "Why do people leave at pricing?",
                     "Which channels drive conversions?", "What changed last week?",
                     "What predicts churn?"]
        firsts = []
        outside: list[str] = []
        for run in range(args.runs):
            with browser_page(url, outside) as page:
                firsts.append(ask(page, questions[run % len(questions)]))
        with tempfile.TemporaryDirectory() as tmp:
            bad = Path(tmp) / "bad_events.csv"
            bad.write_text("user_id,timestamp,event\nu1,not-a-date,signup\n")
            with browser_page(url, outside) as page:
                tour(page, ROOT / "docs" / "screenshots", bad, Path(tmp))
    finally:
        server.terminate()
        server.wait(timeout=30)
    lines = [
        "## Web app",
        "",
        f"`journey ui` on the 20,000-people demo, offline mode, headless Chromium on this machine; "
        f"a fresh page per run. Command: `.venv/bin/python benchmarks/ui_benchmark.py --write`.",
        "",
        "| figure | seconds | bar |",
        "|---|---:|---|",
        f"| first answer after pressing Enter, median of {len(firsts)} fresh pages | "
        f"{statistics.median(firsts):.2f} | <= 3 s |",
        f"| slowest of them | {max(firsts):.2f} | |",
        f"| requests to anything but 127.0.0.1 | {len(outside)} | 0 |",
        "",
    ]
    section = "\n".join(lines)
    print(section)
    if args.write:
        target = ROOT / "BENCHMARKS.md"
        text = target.read_text()
        start = text.find("## Web app")
        if start != -1:
            end = text.find("\n## ", start + 1)
            text = text[:start] + section + ("\n" + text[end + 1:] if end != -1 else "")
        else:
            text = text.rstrip() + "\n\n" + section
        target.write_text(text)


if __name__ == "__main__":
    main()
