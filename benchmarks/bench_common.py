"""Shared by the benchmark scripts: writing a section of BENCHMARKS.md and serving the demo."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def timed(fn, runs: int) -> tuple[float, object]:
    """Median seconds of `runs` calls after a warm-up call (whose value is returned)."""
    import statistics

    result = fn()
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def machine() -> str:
    """'2 CPU cores (AMD EPYC), 2026-11-23': machines differ between runs, so say which."""
    import datetime
    import os
    import platform

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPU cores ({model}), {datetime.date.today().isoformat()}"


def write_section(heading: str, section: str) -> None:
    """Replace (or append) the `## heading` section of BENCHMARKS.md."""
    target = ROOT / "BENCHMARKS.md"
    text = target.read_text() if target.exists() else "# Benchmarks\n\n"
    start = text.find(f"## {heading}\n")
    if start != -1:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + ("\n" + text[end + 1:] if end != -1 else "")
    else:
        text = text.rstrip() + "\n\n" + section
    target.write_text(text)


def demo_store(people: int):
    from analytics.feedback.index import FeedbackIndex
    from analytics.store import EventStore
    from sample_data.demo import load_demo

    store = EventStore(ROOT / "benchmarks" / ".data" / f"demo-{people}")
    if not store.exists():
        load_demo(store, people=people, seed=7)
    FeedbackIndex(store).sync()
    return store


@contextmanager
def served_demo(people: int = 20_000, settle_s: float = 5.0) -> Iterator[str]:
    """`journey ui` on the demo store, on a free loopback port; yields its URL."""
    store = demo_store(people)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-c", "from ui.cli import run; run()", "--home",
                               str(store.home), "ui", "--port", str(port)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        time.sleep(settle_s)  # let the server's warm-up finish, as it would before a user
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_until_warm(url: str, limit_s: float = 300.0) -> float:
    """Seconds until the served app's warm-up is done: its last step trains the churn model,
    so a churn-risk question that answers at once says everything is loaded."""
    from gradio_client import Client

    started = time.perf_counter()
    client = Client(url, verbose=False)
    while time.perf_counter() - started < limit_s:
        asked = time.perf_counter()
        client.submit("who is at risk of churning?", [], api_name="/respond").result(timeout=300)
        if time.perf_counter() - asked < 0.5:
            break
        time.sleep(1)
    return time.perf_counter() - started
