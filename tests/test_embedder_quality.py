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


def test_fp32_onnx_matches_the_packaged_model_on_torch(both_models):
    torch = pytest.importorskip("torch")
    from transformers import AutoModel, AutoTokenizer

    texts = ["Pricing is steep for a small team like ours.", "charged twice", "ok"]
    source = str(package_model_dir())
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModel.from_pretrained(source).eval()
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    expected = torch.nn.functional.normalize(pooled, dim=1).numpy()
    assert np.abs(both_models[0].embed(texts) - expected).max() < 1e-5


def test_an_environment_without_the_int8_model_makes_it_once(tmp_path, monkeypatch, both_models):
    # A virtual environment built before the int8 model existed holds only the fp32 export.
    (tmp_path / onnx_path("fp32").name).symlink_to(onnx_path("fp32"))
    monkeypatch.setenv("JOURNEY_MODEL_DIR", str(tmp_path))
    made = MiniLMEmbedder("int8").embed(["charged twice"])
    assert onnx_path("int8") == tmp_path / "all-MiniLM-L6-v2-int8.onnx"
    assert onnx_path("int8").exists() and not list(tmp_path.glob("*.partial"))
    assert np.allclose(made, both_models[1].embed(["charged twice"]), atol=1e-5)
