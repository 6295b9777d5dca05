"""Feedback index speed: embedding model cold start, indexing 10,000 snippets, search latency.

    .venv/bin/python benchmarks/feedback_benchmark.py [--snippets 10000] [--write]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import machine, write_section

from analytics.feedback.bulk_embed import BulkEmbedder
from analytics.feedback.embedder import MiniLMEmbedder
from analytics.feedback.index import FeedbackIndex
from analytics.store import EventStore, ingest_files
from sample_data.generator import generate

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ["too expensive", "billing problem", "charged twice", "hard to set up",
           "the app is broken", "great reports", "nobody on my team uses it",
           "mobile pricing page", "integration with our CRM", "refund please"]

COLD_START = ("import time; t = time.perf_counter(); "
              "from analytics.feedback.embedder import MiniLMEmbedder; "
              "MiniLMEmbedder().embed(['warm up']); print(time.perf_counter() - t)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--snippets", type=int, default=10_000)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    cold = sorted(float(subprocess.run([sys.executable, "-c", COLD_START], capture_output=True,
                                       text=True, check=True, cwd=ROOT).stdout)
                  for _ in range(3))
    work = Path(tempfile.mkdtemp(prefix="bench-feedback-"))
    data = generate(people=int(args.snippets / 0.085) + 1000, seed=3)
    feedback = data.feedback.head(args.snippets)
    path = work / "feedback.parquet"
    feedback.to_parquet(path, index=False)
    distinct_texts = feedback["text"].nunique()
    # Worst case: every text different (the demo's templated texts repeat, and repeats are
    # embedded once), made unique by a suffix so nothing can be reused. The suffix tokenises
    # into ~9 word pieces, so these texts are longer than the demo's (~16 tokens).
    unique = feedback.assign(text=feedback["text"] + " (ref " + feedback["feedback_id"] + ")")
    unique_path = work / "unique.parquet"
    unique.to_parquet(unique_path, index=False)

    def index_worst_case(name: str, embedder: MiniLMEmbedder | None = None) -> tuple:
        worst_store = EventStore(work / name)
        ingest_files(worst_store, "feedback", [unique_path])
        worst = FeedbackIndex(worst_store, embedder=embedder)
        worst.collection().count()  # open Chroma and load the model before timing
        worst.embedder.embed(["warm up"])
        started = time.perf_counter()
        report = worst.sync()
        return report, time.perf_counter() - started

    worst_report, worst_seconds = index_worst_case("worst")
    mean_tokens = statistics.mean(MiniLMEmbedder().count_tokens(unique["text"].tolist()))
    fp32_report, fp32_seconds = index_worst_case("worst-fp32", MiniLMEmbedder("fp32"))
    child_from = BulkEmbedder.PROCESS_FROM
    BulkEmbedder.PROCESS_FROM = 10**12  # everything in this process, for comparison
    inproc_report, inproc_seconds = index_worst_case("worst-in-process")
    BulkEmbedder.PROCESS_FROM = child_from
    store = EventStore(work / "home")
    ingest_files(store, "feedback", [path])
    index = FeedbackIndex(store)
    index.collection().count()
    started = time.perf_counter()
    report = index.sync()
    indexing = time.perf_counter() - started
    started = time.perf_counter()
    again = index.sync()
    reindex = time.perf_counter() - started
    def timings(distinct: bool) -> tuple[float, float]:
        latencies = []
        for i in range(args.searches):
            started = time.perf_counter()
            index.search(QUERIES[i % len(QUERIES)], k=8, distinct=distinct)
            latencies.append((time.perf_counter() - started) * 1000)
        latencies.sort()
        return statistics.median(latencies), latencies[int(0.95 * len(latencies)) - 1]

    p50, p95 = timings(distinct=False)
    sys.path.insert(0, str(ROOT / "tests"))
    from test_embedder_quality import retrieval_scores

    quality = {p: retrieval_scores(MiniLMEmbedder(p)) for p in ("int8", "fp32")}
    d50, d95 = timings(distinct=True)
    shutil.rmtree(work)

    rate = report.embedded / indexing
    worst_rate = worst_report.embedded / worst_seconds
    lines = [
        "## Feedback index",
        "",
        f"Machine: {machine()}. all-MiniLM-L6-v2 exported to ONNX with int8 "
        "weights (per output channel), run by onnxruntime; for bulk loads the model runs in a "
        "child process while Chroma (PersistentClient on local disk) writes. Worst case: the "
        "demo's texts made unique by a reference suffix, so nothing is reused. Command: "
        "`.venv/bin/python benchmarks/feedback_benchmark.py --write`.",
        "",
        "| what | figure | bar |",
        "|---|---:|---|",
        f"| embedding model cold start (import + load + first vector, median of 3 processes) "
        f"| {cold[1]:.2f} s | <= 2 s |",
        f"| index {worst_report.embedded:,} snippets, every text different (redact, sentiment, "
        f"embed, upsert; mean {mean_tokens:.0f} tokens each) | {worst_seconds:.1f} s = "
        f"{worst_rate:,.0f} snippets/s | >= 500/s |",
        f"| same, the model in the indexing process (no child process) | {inproc_seconds:.1f} s "
        f"= {inproc_report.embedded / inproc_seconds:,.0f} snippets/s | |",
        f"| same, with the fp32 model (child process) | {fp32_seconds:.1f} s = "
        f"{fp32_report.embedded / fp32_seconds:,.0f} snippets/s | |",
        f"| index the demo's {report.embedded:,} snippets ({distinct_texts:,} distinct texts; "
        f"repeats embedded once) | {indexing:.1f} s = {rate:,.0f} snippets/s | |",
        f"| re-index with nothing new ({again.embedded} embedded) | {reindex:.2f} s | |",
        f"| search, k=8, {args.searches} queries: p50 / p95 | {p50:.1f} / {p95:.1f} ms | "
        f"p95 <= 50 ms |",
        f"| same, identical quotes shown once (the default; the demo's templated texts repeat "
        f"a lot, so it fetches more) | {d50:.1f} / {d95:.1f} ms | |",
        "",
        "Retrieval quality of the int8 model against the fp32 model it is made from "
        "(tests/test_embedder_quality.py, the demo's labelled feedback themes): mean average "
        f"precision leaving one phrasing out {quality['int8']['leave_one_out_map']:.3f} vs "
        f"{quality['fp32']['leave_one_out_map']:.3f}; for 33 written queries "
        f"{quality['int8']['query_map']:.3f} vs {quality['fp32']['query_map']:.3f} (top result "
        f"on theme {quality['int8']['query_top1']:.0%} vs {quality['fp32']['query_top1']:.0%}).",
        "",
    ]
    section = "\n".join(lines)
    print(section)
    if args.write:
        write_section('Feedback index', section)
if __name__ == "__main__":
    main()
