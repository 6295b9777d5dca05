"""Routing a question to an intent by meaning: nearest example questions, embedded locally."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import resources

import numpy as np
import yaml

from analytics.feedback.embedder import MiniLMEmbedder, shared_embedder
from tools.base import BoundedCache

# Below this similarity to every example, the question is not one we can answer.
MIN_SIMILARITY = 0.38


def load_examples() -> dict[str, list[str]]:
    text = resources.files("prompts").joinpath("intents.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


@dataclass
class IntentMatch:
    intent: str
    score: float
    runner_up: str
    runner_up_score: float
    scores: dict[str, float]

    def best_journey_intent(self) -> str:
        """The best intent other than 'out of scope'."""
        return max((i for i in self.scores if i != "out_of_scope"), key=self.scores.get)


class IntentClassifier:
    def __init__(self, embedder: MiniLMEmbedder | None = None) -> None:
        self.embedder = embedder or shared_embedder()
        self.examples = load_examples()
        self.labels = [intent for intent, items in self.examples.items() for _ in items]
        self.vectors = self.embedder.embed([q for items in self.examples.values() for q in items])
        self._vectors = BoundedCache(512)  # question -> its vector

    def classify(self, question: str) -> IntentMatch:
        v = self._vectors.get(question)
        if v is None:
            # The suggested questions come again and again from every session: embed once.
            v = self._vectors[question] = self.embedder.embed([question])[0]
        sims = self.vectors @ v
        scores: dict[str, float] = {}
        for intent in self.examples:
            mine = np.sort(sims[[i for i, l in enumerate(self.labels) if l == intent]])[::-1]
            # The best example counts most; the second keeps one lucky phrase from deciding.
            scores[intent] = float(0.7 * mine[0] + 0.3 * (mine[1] if len(mine) > 1 else mine[0]))
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        (best, score), (second, second_score) = ranked[0], ranked[1]
        if score < MIN_SIMILARITY:
            best = "out_of_scope"
        return IntentMatch(best, score, second, second_score, scores)


_shared: IntentClassifier | None = None
_shared_lock = threading.Lock()


def shared_classifier() -> IntentClassifier:
    """One classifier per process, built once even when the first questions come together."""
    global _shared
    if _shared is None:
        with _shared_lock:
            if _shared is None:
                _shared = IntentClassifier()
    return _shared
