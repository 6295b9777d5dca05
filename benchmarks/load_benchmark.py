"""The web app under concurrent chat clients on 127.0.0.1: by default the issue's shape, 20
clients (each its own Gradio session) asking 200 varied questions in all (10 each: drop-off,
paths, channels, churn, what changed, feedback, follow-ups), every answer checked correct and
unmixed (tests/load_flow.py).

    .venv/bin/python benchmarks/load_benchmark.py [--clients 20] [--per-client 10] [--write]
"""

from __future__ import annotations

import argparse

from bench_common import machine, served_demo, wait_until_warm, write_section

from tests.load_flow import run_mixed_load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--per-client", type=int, default=10)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    with served_demo(20_000) as url:
        warm_s = wait_until_warm(url)
        result = run_mixed_load(url, args.clients, args.per_client)
    lines = [
        "## Web app under load",
        "",
        f"Machine: {machine()}. {args.clients} concurrent chat clients on 127.0.0.1, each its "
        f"own Gradio session, asking {args.per_client} questions each "
        f"({result['questions']} in all, {result['distinct_questions']} different questions "
        "counting follow-ups by what they follow: drop-off, paths, channels, churn, what "
        "changed, why, feedback, the plan, follow-ups) against `journey ui` on the "
        "20,000-people demo in offline mode, the clients on the same 2 cores. Each client asks "
        "its next question when its answer has come. The clock starts once the server's "
        f"warm-up is done ({warm_s:.0f} s after the page answered). Command: "
        "`.venv/bin/python benchmarks/load_benchmark.py --write`.",
        "",
        "| figure | value | bar |",
        "|---|---:|---|",
        f"| answers (each correct, and the same for every client that asked it) | "
        f"{result['answers']} of {result['questions']} | all |",
        f"| errors | {len(result['errors'])} | 0 |",
        f"| throughput | {result['throughput']:.1f} answers/s | |",
        f"| latency p50 / p95 / max | {result['p50_s']:.2f} / {result['p95_s']:.2f} / "
        f"{result['max_s']:.2f} s | p95 < 2.5 s |",
        "",
        "| kind of question | asked | median s | max s |",
        "|---|---:|---:|---:|",
        *[f"| {kind} | {n} | {median:.2f} | {most:.2f} |"
          for kind, (n, median, most) in result["by_kind"].items()],
        "",
        "Chat questions run side by side (up to 8 at once; loads and erasures keep one queue "
        "of their own), and sessions share read tools' results while the store's change stamp "
        "stays the same (tools/session.py `shared_call`): a result several sessions need at "
        "once is computed once. Before that, one queue served every session: the same run "
        "measured 3.6 answers/s, p50 3.80 s, p95 12.41 s on 2026-12-03. The slowest answer is "
        "the first plan from the store (the `plan` tool recomputes the feedback themes for "
        "each step it explains); everyone asking for it meanwhile waits for that one.",
        "",
    ]
    section = "\n".join(lines)
    print(section)
    for error in result["errors"]:
        print(error)
    if args.write:
        write_section("Web app under load", section)


if __name__ == "__main__":
    main()
