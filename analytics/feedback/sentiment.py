"""Sentiment of each snippet: VADER, with a few words of SaaS support language added.

Why VADER: a lexicon and rules (negation, intensifiers, "but", punctuation) that ships inside its
PyPI package, so it works offline, is deterministic, and scores ~10,000 snippets a second on one
core; a transformer sentiment model would need another download and be 100x slower for a label
that only has to be roughly right. Its general-purpose lexicon misses how customers complain
about software ("charged twice", "declined", "crashed"), so those words are added below.
"""

from __future__ import annotations

from dataclasses import dataclass

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# Valence on VADER's -4..4 scale.
SUPPORT_LEXICON = {
    "charged": -1.2, "overcharged": -2.5, "refund": -1.5, "declined": -1.8, "locked": -1.5,
    "crashed": -2.2, "crash": -2.0, "error": -1.6, "errors": -1.6, "broken": -2.2, "bug": -1.5,
    "failed": -1.8, "failing": -1.8, "fails": -1.8, "expensive": -1.6, "steep": -1.2,
    "overpriced": -2.2, "confusing": -1.6, "unclear": -1.3, "slow": -1.3, "cancel": -1.0,
    "cancelled": -1.2, "gave": -0.3, "non-starter": -2.0, "alone": -0.8, "forget": -0.8,
    "twice": -0.6, "lonely": -1.5, "cut": -0.8, "frustrating": -2.2, "mess": -2.0,
    # "like ours", "like this": in feedback "like" is far more often a preposition than a verb.
    "like": 0.3,
    "saves": 1.5, "worth": 1.2, "clear": 1.0, "loves": 2.5, "finally": 0.8,
}

POSITIVE, NEGATIVE = 0.05, -0.05  # VADER's own recommended thresholds
# Names the scoring above; change it whenever the lexicon or thresholds change, so that an index
# re-scores its snippets instead of keeping labels it stored earlier.
SENTIMENT_MODEL = "vader-support-lexicon-1"


@dataclass(frozen=True)
class Sentiment:
    label: str  # positive, neutral, negative
    compound: float  # -1..1


class SentimentScorer:
    def __init__(self) -> None:
        self._analyzer = SentimentIntensityAnalyzer()
        self._analyzer.lexicon.update(SUPPORT_LEXICON)

    def score(self, text: str) -> Sentiment:
        compound = self._analyzer.polarity_scores(text or "")["compound"]
        if compound >= POSITIVE:
            return Sentiment("positive", compound)
        if compound <= NEGATIVE:
            return Sentiment("negative", compound)
        return Sentiment("neutral", compound)
