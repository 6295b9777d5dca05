"""How long the command line takes to start, and what a scripted funnel spends outside its query.

    .venv/bin/python benchmarks/startup_benchmark.py [--people 1250000] [--write]

Times, as a user's shell sees them (a new process each run, median of `--runs`):
* `journey --help`;
* `journey status` on the 20,000-person demo store (its description cached, as after any
  command; and once right after a write, when it is computed again);
* `journey funnel A B C D --json` on the ~10M-event store of the analytics benchmark, against
  the funnel query alone timed inside a fresh process: the difference is what start-up, name
  checks and printing the JSON cost.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_common import ROOT, machine, write_section

STEPS = ["landing_view", "pricing_view", "signup", "subscription_started"]
JOURNEY = [str(ROOT / ".venv" / "bin" / "journey")]


def wall(args: list[str], runs: int) -> float:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(JOURNEY + args, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


QUERY_ONLY = """
import sys, time
from analytics.funnel import funnel
from analytics.store import EventStore
from tools.base import ToolContext
store = EventStore(sys.argv[1])
catalog = ToolContext(store).catalog()
with store.reader() as con:
    started = time.perf_counter()
    funnel(con, sys.argv[2:], catalog=catalog)
    print(time.perf_counter() - started)
"""


def query_only(home: Path, runs: int) -> float:
    seconds = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", QUERY_ONLY, str(home), *STEPS],
                             check=True, capture_output=True, text=True, cwd=ROOT)
        seconds.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(seconds)


def store(home: Path, people: int) -> Path:
    if not (home / "journey.duckdb").exists():
        subprocess.run(JOURNEY + ["--home", str(home), "demo-data", "--customers", str(people),
                                  "--json"], check=True, stdout=subprocess.DEVNULL)
    return home


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=1_250_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    data = ROOT / "benchmarks" / ".data"
    demo = store(data / "demo-20000", 20_000)
    big = store(data / f"demo-{args.people}", args.people)

    help_s = wall(["--help"], args.runs)
    wall(["--home", str(demo), "status"], 1)  # the description is cached from here on
    status_s = wall(["--home", str(demo), "status"], args.runs)
    os.utime(demo / "journey.duckdb")  # as a write would: the cached description is stale
    status_cold = wall(["--home", str(demo), "status"], 1)
    wall(["--home", str(big), "status"], 1)
    funnel_args = ["--home", str(big), "funnel", *STEPS, "--json"]
    funnel_s = wall(funnel_args, args.runs)
    query_s = query_only(big, args.runs)

    rows = [
        ("`journey --help`", help_s, "bar < 0.35 s"),
        ("`journey status`, 20,000-person demo", status_s, "bar < 0.35 s"),
        ("`journey status` right after a write (description computed)", status_cold, ""),
        ("`journey funnel` (4 steps) `--json`, 10M events: whole command", funnel_s, ""),
        ("the funnel query alone, first query of a fresh process", query_s, ""),
        ("outside the query (start-up, name checks, JSON)", funnel_s - query_s,
         "bar < 0.35 s"),
    ]
    lines = ["## Start-up", "",
             f"Machine: {machine()}. Command: `.venv/bin/python benchmarks/startup_benchmark.py "
             f"--write` (a new process per run, median of {args.runs}). The 10M-event store is "
             "the analytics benchmark's.", "",
             "| what | seconds | note |", "|---|---:|---|"]
    lines += [f"| {what} | {seconds:.3f} | {note} |" for what, seconds, note in rows]
    lines += ["", "Heavy imports (scikit-learn, Chroma, LangChain, Gradio, plotly, pandas) wait "
              "until a command needs them; the argument models build their validators on first "
              "use; the description of the data (counts, names, journey defaults) is kept in "
              "the data folder with the store's change stamp, so name checks need no query.",
              ""]
    section = "\n".join(lines)
    print(section)
    if args.write:
        write_section("Start-up", section)


if __name__ == "__main__":
    main()
