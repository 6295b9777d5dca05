"""Names the whole product agrees on, defined once (and import-free, so any face can list them
at no start-up cost)."""

from __future__ import annotations

from typing import Literal, get_args

# Where feedback comes from.
FeedbackSource = Literal["review", "nps", "ticket", "chat", "survey"]
FEEDBACK_SOURCES: tuple[str, ...] = get_args(FeedbackSource)

Sentiment = Literal["positive", "neutral", "negative"]
SENTIMENTS: tuple[str, ...] = get_args(Sentiment)

# The business models the diagnosis has benchmark ranges for (analytics/diagnosis/benchmarks.yaml).
BusinessModel = Literal["b2b-saas", "ecommerce", "b2c-subscription", "marketplace"]
BUSINESS_MODELS: tuple[str, ...] = get_args(BusinessModel)
