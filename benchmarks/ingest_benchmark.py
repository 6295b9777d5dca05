"""Ingest speed: 1M events from Parquet into a fresh store, and the demo at two sizes.

    .venv/bin/python benchmarks/ingest_benchmark.py [--events 1000000] [--runs 3]

Prints a Markdown table; `--write` replaces the ingest section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
from bench_common import write_section

from analytics.store import EventStore, ingest_files
from sample_data.generator import generate, write_demo_files

ROOT = Path(__file__).resolve().parents[1]


def make_events_parquet(folder: Path, events: int) -> Path:
    # The demo averages ~8 events per person; generate enough people, then cut to size.
    people = max(1000, int(events / 7.5))
    data = generate(people=people, seed=1)
    frame = data.events.head(events)
    path = folder / "events.parquet"
    frame.to_parquet(path, index=False)
    return path


def time_ingest(parquet: Path, runs: int) -> tuple[list[float], int]:
    seconds, loaded = [], 0
    for _ in range(runs):
        home = Path(tempfile.mkdtemp(prefix="bench-home-"))
        store = EventStore(home)
        started = time.perf_counter()
        report = ingest_files(store, "events", [parquet])
        seconds.append(time.perf_counter() - started)
        loaded = report.rows_loaded
        shutil.rmtree(home)
    return seconds, loaded


def time_reingest(parquet: Path) -> float:
    home = Path(tempfile.mkdtemp(prefix="bench-home-"))
    store = EventStore(home)
    ingest_files(store, "events", [parquet])
    started = time.perf_counter()
    report = ingest_files(store, "events", [parquet])
    elapsed = time.perf_counter() - started
    assert report.rows_loaded == 0
    shutil.rmtree(home)
    return elapsed


def time_demo(people: int) -> tuple[float, float, int]:
    home = Path(tempfile.mkdtemp(prefix="bench-demo-"))
    started = time.perf_counter()
    data = generate(people=people, seed=7)
    paths = write_demo_files(data, home / "demo")
    generated = time.perf_counter() - started
    store = EventStore(home)
    for kind in ("events", "customers", "feedback"):
        ingest_files(store, kind, [paths[kind]])
    total = time.perf_counter() - started
    shutil.rmtree(home)
    return generated, total, len(data.events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--demo-large", type=int, default=1_000_000,
                        help="people for the large demo run (0 to skip)")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-"))
    parquet = make_events_parquet(work, args.events)
    seconds, loaded = time_ingest(parquet, args.runs)
    reingest = time_reingest(parquet)
    best, median = min(seconds), statistics.median(seconds)
    small = time_demo(5000)
    large = time_demo(args.demo_large) if args.demo_large else None
    shutil.rmtree(work)

    lines = [
        "## Ingest",
        "",
        f"Machine: {os.cpu_count()} CPU cores, {platform.machine()}, Python "
        f"{platform.python_version()}, DuckDB {duckdb.__version__}. "
        f"Command: `.venv/bin/python benchmarks/ingest_benchmark.py --write` "
        f"({args.runs} runs, fresh store each run).",
        "",
        "| what | rows | seconds | rows/s |",
        "|---|---:|---:|---:|",
        f"| Parquet events into an empty store (median of {args.runs}) | {loaded:,} | "
        f"{median:.2f} | {loaded / median:,.0f} |",
        f"| same, best run | {loaded:,} | {best:.2f} | {loaded / best:,.0f} |",
        f"| loading the same file again (adds nothing) | {loaded:,} | {reingest:.2f} | "
        f"{loaded / reingest:,.0f} |",
        f"| `demo-data --customers 5000`: generate + load all three files | {small[2]:,} events |"
        f" {small[1]:.2f} | |",
    ]
    if large:
        lines.append(f"| `demo-data --customers {args.demo_large:,}`: generate ({large[0]:.1f} s) "
                     f"+ load | {large[2]:,} events | {large[1]:.1f} | |")
    lines += ["", f"Bar: >= 500,000 events/s from Parquet. "
              f"Result: {'met' if loaded / median >= 500_000 else 'NOT met'}.", ""]
    section = "\n".join(lines)
    print(section)
    if args.write:
        write_section('Ingest', section)
if __name__ == "__main__":
    main()
