"""The web app under 20 concurrent chat sessions on 127.0.0.1 (bounded: 2 questions each).

    .venv/bin/python benchmarks/load_benchmark.py [--sessions 20] [--write]
"""

from __future__ import annotations

import argparse

from bench_common import served_demo, write_section

from tests.load_flow import run_load

EVENTS = ["signup", "pricing_view", "checkout_started", "landing_view", "onboarding_started"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    with served_demo(20_000) as url:
        result = run_load(url, args.sessions, EVENTS)
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
        write_section('Web app under load', section)
if __name__ == "__main__":
    main()
