"""What an event's name hints about its place in a journey: only a hint.

The journey model (journey_model.py) decides from behaviour (who does an event, when, and what
comes after it); these hints only break ties between events that behave alike: of two late,
once-per-person events, the one named like a purchase is the conversion. Names are read as
words ("Order Completed", "order_completed", "orderCompleted" and "$order-completed" alike).
"""

from __future__ import annotations

import re

# Words that name value changing hands: any one makes a strong conversion hint.
CONVERSION_WORDS = {"purchase", "purchased", "paid", "won", "subscribed", "converted",
                    "transaction", "booked", "bought", "conversion"}
# A thing, then what happened to it: "order completed", "subscription started".
CONVERSION_PAIRS = {
    "order": {"completed", "complete", "placed", "confirmed", "created", "submitted", "paid"},
    "subscription": {"started", "created", "purchased", "activated", "begun", "confirmed"},
    "checkout": {"completed", "complete", "succeeded", "success", "finished"},
    "payment": {"succeeded", "success", "completed", "received", "captured"},
    "deal": {"won", "closed"},
    "booking": {"confirmed", "completed", "made"},
}
# Words of the same world that, alone, are a weak hint ("Order", "Upgrade").
WEAK_WORDS = {"order", "subscription", "subscribe", "checkout", "payment", "upgrade",
              "upgraded", "buy", "deal", "booking", "invoice", "sale"}
# Words that say the value did not (yet, or any more) change hands.
NEGATIVE_WORDS = {"error", "errors", "fail", "failed", "failure", "cancel", "canceled",
                  "cancelled", "cancellation", "refund", "refunded", "return", "returned", "lost",
                  "abandon", "abandoned", "expired", "expire", "expiry", "churn", "churned",
                  "dismissed", "declined", "reversed", "chargeback", "renew", "renewed",
                  "renewal", "crash", "crashed"}
# Words of an attempt or a look, which cancel a weak hint ("Checkout Opened", "Payment Submitted").
NOT_YET_WORDS = {"view", "viewed", "views", "shown", "opened", "open", "page", "visit", "click",
                 "clicked", "start", "started", "begin", "begun", "initiated", "submitted",
                 "attempt", "attempted", "screen", "selected", "select"}
CHURN_WORDS = {"cancel", "canceled", "cancelled", "cancellation", "churn", "churned",
               "unsubscribe", "unsubscribed", "uninstall", "uninstalled", "deactivated",
               "terminated"}
CHURN_PAIRS = {"account": {"deleted", "closed"}, "subscription": {"ended", "expired"}}
# Steps that say something went wrong: never a step of the main journey.
NOT_PROGRESS_WORDS = NEGATIVE_WORDS - {"renew", "renewed", "renewal"} | {"bug", "exception",
                                                                        "timeout", "denied"}
# Revenue-like properties: an event that carries one is a payment.
REVENUE_KEYS = ("revenue", "amount", "price", "value", "order_value", "total", "order_total",
                "$revenue", "purchase_revenue", "deal_amount", "mrr")


def words(event_name: str) -> list[str]:
    """The words of a name: split at punctuation, spaces and camelCase joins, lowercased."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", event_name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def _has_pair(tokens: list[str], pairs: dict[str, set[str]]) -> bool:
    return any(t in pairs and any(o in pairs[t] for o in tokens) for t in tokens)


def conversion_hint(event_name: str) -> int:
    """2 strong, 1 weak, 0 none, -1 says the opposite (an error, a refund, a renewal)."""
    tokens = words(event_name)
    if any(t in NEGATIVE_WORDS for t in tokens):
        return -1
    if any(t in CONVERSION_WORDS for t in tokens) or _has_pair(tokens, CONVERSION_PAIRS):
        return 2
    if any(t in WEAK_WORDS for t in tokens) and not any(t in NOT_YET_WORDS for t in tokens):
        return 1
    return 0


def churn_hint(event_name: str) -> bool:
    tokens = words(event_name)
    return any(t in CHURN_WORDS for t in tokens) or _has_pair(tokens, CHURN_PAIRS)


def is_setback(event_name: str) -> bool:
    """An error, failure, cancellation or loss: evidence of friction, never a journey step."""
    return any(t in NOT_PROGRESS_WORDS for t in words(event_name))
