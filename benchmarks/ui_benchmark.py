"""The web app as a marketer sees it: first-answer latency in headless Chromium, and a
screenshot of every screen for the README.

    .venv/bin/python benchmarks/ui_benchmark.py [--runs 5] [--write]

Starts `journey ui` on the demo data (offline mode), opens a fresh page per run, and times from
pressing Enter to the answer appearing. Screenshots go to docs/screenshots/.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench_common import ROOT, served_demo, write_section

from tests.browser_flow import ask, browser_page, tour

QUESTIONS = ["Where do we lose people?", "Why do people leave at pricing?",
             "Which channels drive conversions?", "What changed last week?",
             "What predicts churn?"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    firsts: list[float] = []
    outside: list[str] = []
    with served_demo(20_000) as url:
        for run in range(args.runs):
            with browser_page(url, outside) as page:
                firsts.append(ask(page, QUESTIONS[run % len(QUESTIONS)]))
        with tempfile.TemporaryDirectory() as tmp:
            bad = Path(tmp) / "bad_events.csv"
            bad.write_text("user_id,timestamp,event\nu1,not-a-date,signup\n")
            with browser_page(url, outside) as page:
                tour(page, ROOT / "docs" / "screenshots", bad, Path(tmp))
    lines = [
        "## Web app",
        "",
        "`journey ui` on the 20,000-people demo, offline mode, headless Chromium on this machine; "
        "a fresh page per run. Command: `.venv/bin/python benchmarks/ui_benchmark.py --write`.",
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
        write_section('Web app', section)
if __name__ == "__main__":
    main()
