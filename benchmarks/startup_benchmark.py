"""How long the command line takes to start, and what a scripted funnel spends outside its query.

    .venv/bin/python benchmarks/startup_benchmark.py [--people 1250000] [--write]
        [--before DIR]   # also time an older checkout (git worktree add DIR COMMIT), same venv

Times, as a user's shell sees them (a new process each run, median of `--runs`):
* `journey --help`;
* `journey status` on the 20,000-person demo store (its description cached, as after any
  command; and once right after a write, when it is computed again);
* `journey funnel A B C D --json` on the ~10M-event store of the analytics benchmark, and the
  same command with the funnel analytic timed inside the process: the rest of that process's
  wall time is what start-up, name checks and printing the JSON cost.
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


def checkout(before: str | None) -> tuple[list[str], dict[str, str]]:
    """The command and environment that run `journey` from this tree, or from `before`."""
    if before is None:
        return JOURNEY, dict(os.environ)
    return ([sys.executable, "-c", "from ui.cli import run; run()"],
            {**os.environ, "PYTHONPATH": str(Path(before).resolve())})


def wall(args: list[str], runs: int, before: str | None = None) -> float:
    command, env = checkout(before)
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command + args, check=True, stdout=subprocess.DEVNULL, env=env,
                       stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                       cwd=before or ROOT)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


# The command itself, run in a process whose funnel function reports the time it spent; the
# rest of the process's wall time (start-up, imports, name checks, JSON) is what is outside.
TIMED_COMMAND = """
import sys, time
import analytics.funnel as module
inner = module.funnel
def timed(*args, **kwargs):
    started = time.perf_counter()
    try:
        return inner(*args, **kwargs)
    finally:
        sys.stderr.write(f"QUERY {time.perf_counter() - started}\\n")
module.funnel = timed
from ui.cli import run
sys.argv = ["journey", *sys.argv[1:]]
run()
"""


def funnel_split(args: list[str], runs: int, before: str | None = None
                 ) -> tuple[float, float, float]:
    """(whole command, the funnel analytic, outside it): medians over runs of the same process."""
    _, env = checkout(before)
    whole, query, outside = [], [], []
    for _ in range(runs):
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", TIMED_COMMAND, *args], check=True,
                             capture_output=True, text=True, cwd=before or ROOT, env=env,
                             stdin=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        spent = float(out.stderr.rsplit("QUERY ", 1)[1])
        whole.append(seconds)
        query.append(spent)
        outside.append(seconds - spent)
    return statistics.median(whole), statistics.median(query), statistics.median(outside)


def store(home: Path, people: int) -> Path:
    if not (home / "journey.duckdb").exists():
        subprocess.run(JOURNEY + ["--home", str(home), "demo-data", "--customers", str(people),
                                  "--json"], check=True, stdout=subprocess.DEVNULL)
    return home


def _commit(path: str) -> str:
    out = subprocess.run(["git", "-C", path, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=1_250_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--before", default=None, metavar="DIR",
                        help="an older checkout to time side by side (same virtual env)")
    args = parser.parse_args()
    data = ROOT / "benchmarks" / ".data"
    demo = store(data / "demo-20000", 20_000)
    big = store(data / f"demo-{args.people}", args.people)

    def measure(before: str | None) -> list[float]:
        status = ["--home", str(demo), "status"]
        wall(status, 1, before)  # the description is cached from here on
        warm = wall(status, args.runs, before)
        os.utime(demo / "journey.duckdb")  # as a write would: the cached description is stale
        cold = wall(status, 1, before)
        wall(["--home", str(big), "status"], 1, before)
        funnel_args = ["--home", str(big), "funnel", *STEPS, "--json"]
        whole = wall(funnel_args, args.runs, before)
        _, query, outside = funnel_split(funnel_args, args.runs, before)
        return [wall(["--help"], args.runs, before), warm, cold, whole, query, outside]

    now = measure(None)
    then = measure(args.before) if args.before else None
    names = [
        ("`journey --help`", "bar < 0.35 s"),
        ("`journey status`, 20,000-person demo", "bar < 0.35 s"),
        ("`journey status` right after a write (description computed)", ""),
        ("`journey funnel` (4 steps) `--json`, 10M events: whole command", ""),
        ("same command, timed inside: the funnel analytic (its SQL)", ""),
        ("same command: outside the analytic (start-up, name checks, JSON)", "bar < 0.35 s"),
    ]
    lines = ["## Start-up", "",
             f"Machine: {machine()}. Command: `.venv/bin/python benchmarks/startup_benchmark.py "
             f"--write` (a new process per run, median of {args.runs}). The 10M-event store is "
             "the analytics benchmark's.", "",
             "| what | seconds" + (" | before, same run" if then else "") + " | note |",
             "|---|---:|" + ("---:|" if then else "") + "---|"]
    for k, (what, note) in enumerate(names):
        before = f" | {then[k]:.3f}" if then else ""
        lines.append(f"| {what} | {now[k]:.3f}{before} | {note} |")
    if then:
        lines += ["", f"Before: the same commands from `{args.before}` (commit "
                  f"{_commit(args.before)}), with this virtual environment."]
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
