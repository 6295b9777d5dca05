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


def make_vendor_files(folder: Path, events: int) -> dict[str, Path]:
    """The same demo events three ways: flat JSON Lines, a Segment archive (track calls with
    context.campaign and context.device nested) and a GA4 export (event_params key/value
    arrays), so the cost of reading a vendor's nesting is measured against the flat file."""
    import json

    people = max(1000, int(events / 7.5))
    frame = generate(people=people, seed=3).events.head(events)
    paths = {name: folder / f"{name}.jsonl" for name in ("flat", "segment", "ga4")}
    with (paths["flat"].open("w") as flat, paths["segment"].open("w") as segment,
          paths["ga4"].open("w") as ga4):
        for row in frame.itertuples(index=False):
            when = row.timestamp.isoformat().replace("+00:00", "Z")
            user = row.customer_id if isinstance(row.customer_id, str) else None
            anon = row.anonymous_id if isinstance(row.anonymous_id, str) else None
            flat.write(json.dumps({"event_id": row.event_id, "user_id": user,
                                   "anonymous_id": anon, "timestamp": when,
                                   "event": row.event_name, "channel": row.channel,
                                   "device": row.device}) + "\n")
            segment.write(json.dumps({
                "type": "track", "messageId": row.event_id, "userId": user, "anonymousId": anon,
                "timestamp": when, "event": row.event_name, "properties": {"path": "/"},
                "context": {"campaign": {"source": row.channel},
                            "device": {"type": row.device}}}) + "\n")
            ga4.write(json.dumps({
                "event_timestamp": str(int(row.timestamp.timestamp() * 1_000_000)),
                "event_name": row.event_name, "user_id": user, "user_pseudo_id": anon or user,
                "event_params": [{"key": "page_location", "value": {"string_value": "/"}},
                                 {"key": "source", "value": {"string_value": row.channel}}],
                "device": {"category": row.device}}) + "\n")
    return paths


def time_vendor_files(paths: dict[str, Path]) -> dict[str, tuple[float, int]]:
    out = {}
    for name, path in paths.items():
        home = Path(tempfile.mkdtemp(prefix="bench-vendor-"))
        started = time.perf_counter()
        report = ingest_files(EventStore(home), "events", [path])
        out[name] = (time.perf_counter() - started, report.rows_loaded)
        shutil.rmtree(home)
    return out


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
    parser.add_argument("--vendor-events", type=int, default=200_000,
                        help="events in the vendor-shaped JSON Lines files (0 to skip)")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-"))
    parquet = make_events_parquet(work, args.events)
    seconds, loaded = time_ingest(parquet, args.runs)
    reingest = time_reingest(parquet)
    best, median = min(seconds), statistics.median(seconds)
    small = time_demo(5000)
    large = time_demo(args.demo_large) if args.demo_large else None
    vendors = (time_vendor_files(make_vendor_files(work, args.vendor_events))
               if args.vendor_events else {})
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
    titles = {"flat": "flat JSON Lines (the same events, no nesting)",
              "segment": "Segment archive (track calls, context nested), preset recognised",
              "ga4": "GA4 export (event_params key/value arrays), preset recognised"}
    for name, (taken, rows) in vendors.items():
        lines.append(f"| {titles[name]} | {rows:,} | {taken:.2f} | {rows / taken:,.0f} |")
    lines += ["", f"Bar: >= 500,000 events/s from Parquet. "
              f"Result: {'met' if loaded / median >= 500_000 else 'NOT met'}.", ""]
    section = "\n".join(lines)
    print(section)
    if args.write:
        write_section('Ingest', section)
if __name__ == "__main__":
    main()
