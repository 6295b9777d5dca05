"""The int8 model the app embeds with retrieves as well as the fp32 model it was made from.

Ground truth: the demo's feedback phrasings, each written for one theme (sample_data/
feedback_text.py), and short queries a marketer would type, each meant for one theme. Retrieval
is scored by mean average precision (MAP): how high the same-theme phrasings rank.
"""

from __future__ import annotations

import numpy as np
import pytest

from analytics.feedback.embedder import MiniLMEmbedder, onnx_path, package_model_dir
from sample_data.feedback_text import THEMES

QUERIES = {
    "price_team_size": ["too expensive for a small team", "price per seat is too high",
                        "costs too much for us"],
    "mobile_pricing_page": ["pricing page broken on phone", "can't see plans on mobile",
                            "plan table unreadable on my phone"],
    "missing_integration": ["no CRM connector", "missing integrations",
                            "need salesforce integration"],
    "just_browsing": ["just looking around", "not ready to buy yet", "evaluating alternatives"],
    "billing": ["charged twice", "billing problem", "refund my payment"],
    "checkout_error": ["payment page error", "couldn't complete purchase", "checkout broken"],
    "signup_error": ["can't create an account", "registration fails", "sign up not working"],
    "onboarding_setup": ["hard to set up", "onboarding is confusing",
                         "importing data is difficult"],
    "team_collaboration": ["team uses it together", "sharing with colleagues",
                           "collaboration is great"],
    "reports_value": ["great reports", "reports save time", "love the dashboards"],
    "lonely_user": ["nobody on my team uses it", "I use it alone", "colleagues never log in"],
}


def _phrasings() -> tuple[list[str], np.ndarray]:
    texts, labels = [], []
    for theme, options in THEMES.items():
        for option in options:
            texts.append(option.format(n=3))
            labels.append(theme)
    return texts, np.array(labels)


def _average_precision(scores: np.ndarray, relevant: np.ndarray) -> float:
    hits = relevant[np.argsort(-scores, kind="stable")]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())


def retrieval_scores(embedder: MiniLMEmbedder) -> dict[str, float]:
    texts, labels = _phrasings()
    queries = [q for theme in QUERIES for q in QUERIES[theme]]
    query_labels = np.array([theme for theme in QUERIES for _ in QUERIES[theme]])
    docs = embedder.embed(texts)
    asked = embedder.embed(queries)
    between = docs @ docs.T
    leave_one_out = [
        _average_precision(np.delete(between[i], i), np.delete(labels == labels[i], i))
        for i in range(len(texts))]
    scores = asked @ docs.T
    by_query = [_average_precision(scores[i], labels == query_labels[i])
                for i in range(len(queries))]
    top1 = np.mean(labels[scores.argmax(axis=1)] == query_labels)
    return {"leave_one_out_map": float(np.mean(leave_one_out)),
            "query_map": float(np.mean(by_query)), "query_top1": float(top1)}


def test_average_precision_by_hand():
    # Relevant at ranks 1 and 3 of 4: (1/1 + 2/3) / 2.
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    assert _average_precision(scores, np.array([True, False, True, False])) == \
        pytest.approx((1 + 2 / 3) / 2)


@pytest.fixture(scope="module")
def both_models():
    if not onnx_path("fp32").exists():
        pytest.fail(f"{onnx_path('fp32')} is missing: run `make test` (it builds the models)")
    return MiniLMEmbedder("fp32"), MiniLMEmbedder("int8")


def test_int8_retrieves_as_well_as_fp32(both_models):
    fp32, int8 = (retrieval_scores(model) for model in both_models)
    # Measured: fp32 0.733 / 0.826 / 0.909, int8 0.734 / 0.820 / 0.909.
    assert fp32["leave_one_out_map"] > 0.65 and fp32["query_map"] > 0.75
    for key in fp32:
        assert int8[key] >= fp32[key] - 0.02, (key, fp32, int8)


def test_int8_vectors_stay_close_to_fp32(both_models):
    fp32, int8 = both_models
    texts, _ = _phrasings()
    cosine = (fp32.embed(texts) * int8.embed(texts)).sum(axis=1)
    assert cosine.min() > 0.98, cosine.min()


def _numpy_bert(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """BERT's last hidden state in float64 numpy, written from the model card's definition
    (transformers' BertModel), to check the hand-built ONNX graph against something that
    shares no code with it."""
    import json

    from safetensors.numpy import load_file
    from scipy.special import erf

    source = package_model_dir()
    config = json.loads((source / "config.json").read_text())
    w = {k: v.astype(np.float64) for k, v in
         load_file(str(source / "model.safetensors")).items()}
    eps, heads = config["layer_norm_eps"], config["num_attention_heads"]

    def norm(x, name):
        centred = x - x.mean(-1, keepdims=True)
        scaled = centred / np.sqrt((centred ** 2).mean(-1, keepdims=True) + eps)
        return scaled * w[f"{name}.weight"] + w[f"{name}.bias"]

    def linear(x, name):
        return x @ w[f"{name}.weight"].T + w[f"{name}.bias"]

    batch, tokens = ids.shape
    x = (w["embeddings.word_embeddings.weight"][ids]
         + w["embeddings.token_type_embeddings.weight"][np.zeros_like(ids)]
         + w["embeddings.position_embeddings.weight"][:tokens])
    x = norm(x, "embeddings.LayerNorm")
    bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}"
        q, k, v = (linear(x, f"{p}.attention.self.{n}").reshape(batch, tokens, heads, -1)
                   .transpose(0, 2, 1, 3) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1]) + bias
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, tokens, -1)
        x = norm(linear(context, f"{p}.attention.output.dense") + x,
                 f"{p}.attention.output.LayerNorm")
        h = linear(x, f"{p}.intermediate.dense")
        h = 0.5 * h * (1.0 + erf(h / np.sqrt(2.0)))
        x = norm(linear(h, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
    return x


def test_fp32_onnx_matches_a_numpy_bert(both_models):
    import onnxruntime as ort
    from tokenizers import Tokenizer

    texts = ["Pricing is steep for a small team like ours.", "charged twice", "ok",
             "The plan table on the mobile pricing page is unreadable, so I gave up on the "
             "upgrade and asked for a refund instead."]
    tokenizer = Tokenizer.from_file(str(package_model_dir() / "tokenizer.json"))
    tokenizer.enable_padding()  # pads to the longest: three of the four rows are padded
    encoded = tokenizer.encode_batch(texts)
    ids = np.array([e.ids for e in encoded], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
    assert (mask == 0).any(axis=1).sum() == 3
    session = ort.InferenceSession(str(onnx_path("fp32")), providers=["CPUExecutionProvider"])
    hidden = session.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask,
                                                 "token_type_ids": np.zeros_like(ids)})[0]
    expected = _numpy_bert(ids, mask)
    real = mask.astype(bool)
    assert hidden.shape == expected.shape == (4, ids.shape[1], 384)
    assert np.abs(hidden[real] - expected[real]).max() < 1e-4
    # The app's pooling over the same model gives the numpy model's sentence vectors.
    weights = mask[..., None]
    pooled = (expected * weights).sum(1) / weights.sum(1)
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    assert np.abs(both_models[0].embed(texts) - pooled).max() < 1e-5


@pytest.mark.slow
def test_the_models_build_without_torch_into_a_fresh_folder(tmp_path, monkeypatch, both_models):
    import subprocess
    import sys
    from pathlib import Path

    # The set-up step exactly as the Makefile runs it, in a process of its own so that we can
    # tell it imported neither torch nor transformers.
    monkeypatch.setenv("JOURNEY_MODEL_DIR", str(tmp_path / "models"))
    build = ("import runpy, sys; sys.argv = ['embedder', '--build']; "
             "runpy.run_module('analytics.feedback.embedder', run_name='__main__'); "
             "assert not {'torch', 'transformers'} & set(sys.modules), 'torch imported'")
    subprocess.run([sys.executable, "-c", build], check=True, capture_output=True,
                   cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert onnx_path("fp32") == tmp_path / "models" / "all-MiniLM-L6-v2.onnx"
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [
        "all-MiniLM-L6-v2-int8.onnx", "all-MiniLM-L6-v2.onnx"]  # no .partial left behind
    texts = ["charged twice", "Pricing is steep for a small team like ours."]
    for precision, installed in zip(("fp32", "int8"), both_models):
        assert np.allclose(MiniLMEmbedder(precision).embed(texts), installed.embed(texts),
                           atol=1e-5), precision


def test_an_environment_without_the_int8_model_makes_it_once(tmp_path, monkeypatch, both_models):
    # A virtual environment built before the int8 model existed holds only the fp32 export.
    (tmp_path / onnx_path("fp32").name).symlink_to(onnx_path("fp32"))
    monkeypatch.setenv("JOURNEY_MODEL_DIR", str(tmp_path))
    made = MiniLMEmbedder("int8").embed(["charged twice"])
    assert onnx_path("int8") == tmp_path / "all-MiniLM-L6-v2-int8.onnx"
    assert onnx_path("int8").exists() and not list(tmp_path.glob("*.partial"))
    assert np.allclose(made, both_models[1].embed(["charged twice"]), atol=1e-5)
