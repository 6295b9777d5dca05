"""Reading names out of a marketer's question: events, devices, channels, dates, segments.

Everything is matched against the store's catalog, so the planner can only ever pass names the
data has. Relative dates ("last week", "in March") are relative to the end of the data, not to
today: a question about last week means the last week the data covers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analytics.catalog import Catalog

SUFFIXES = ("_view", "_started", "_completed", "_created", "_visit", "_click", "_selected",
            "_page_view", "_expired", "_cancelled")
# Everyday words for journey moments -> a role the planner resolves to an event.
ROLE_WORDS = {
    "conversion": ("convert", "conversion", "purchase", "buy", "buying", "paying", "pay ", "paid",
                   "subscribe", "subscription", "upgrade"),
    "churn": ("churn", "cancel", "cancellation", "leave us", "quit the product"),
}
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]
DEVICE_WORDS = {"phone": "mobile", "phones": "mobile", "smartphone": "mobile", "app": "mobile",
                "computer": "desktop", "laptop": "desktop", "web": "desktop"}
BREAKDOWNS = {"device": ("device", "mobile", "desktop"), "channel": ("channel", "source"),
              "plan": ("plan",), "country": ("country", "countries", "market")}


@dataclass
class Entities:
    events: list[str] = field(default_factory=list)  # in the order they appear
    device: str | None = None
    channel: str | None = None
    since: date | None = None
    until: date | None = None
    segment: str | None = None
    by: str | None = None
    topic: str | None = None  # free text for feedback search
    roles: list[str] = field(default_factory=list)


def _aliases(event: str) -> list[str]:
    name = event.lower()
    out = {name, name.replace("_", " "), name.replace("_", "-")}
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 2:
            root = name[: -len(suffix)]
            out |= {root, root.replace("_", " ")}
    if name == "signup":
        out |= {"sign up", "signing up", "sign-up", "signups", "register", "registration"}
    if "checkout" in name:
        out |= {"checkout", "check out"}
    return sorted(out, key=len, reverse=True)


def find_events(question: str, catalog: Catalog, popularity: dict[str, int]) -> list[str]:
    text = " " + re.sub(r"[^a-z0-9_\- ]", " ", question.lower()) + " "
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    candidates = []
    for event in catalog.events:
        for alias in _aliases(event):
            candidates.append((alias, event))
    # Longest alias first; on equal alias, the event more people do.
    candidates.sort(key=lambda c: (-len(c[0]), -popularity.get(c[1], 0)))
    for alias, event in candidates:
        for m in re.finditer(rf"(?<![a-z0-9_]){re.escape(alias)}(?![a-z0-9_])", text):
            span = (m.start(), m.end())
            if any(a < span[1] and span[0] < b for a, b in taken):
                continue
            taken.append(span)
            if event not in [e for _, e in found]:
                found.append((m.start(), event))
    return [e for _, e in sorted(found)]


def extract(question: str, catalog: Catalog, popularity: dict[str, int], data_end: date
            ) -> Entities:
    q = question.lower()
    ent = Entities(events=find_events(question, catalog, popularity))
    for device in catalog.devices:
        if re.search(rf"\b{re.escape(device)}\b", q):
            ent.device = device
    for word, device in DEVICE_WORDS.items():
        if ent.device is None and re.search(rf"\b{word}\b", q) and device in catalog.devices:
            ent.device = device
    for channel in catalog.channels:
        spoken = channel.replace("_", " ")
        if re.search(rf"\b{re.escape(spoken)}s?\b", q) or channel in q:
            ent.channel = channel
    for role, words in ROLE_WORDS.items():
        if any(w in q + " " for w in words):
            ent.roles.append(role)
    for by, words in BREAKDOWNS.items():
        if re.search(rf"\bby ({'|'.join(words)})\b|\bper ({'|'.join(words)})\b", q):
            ent.by = by
    if ent.by is None and re.search(r"\bmobile\b.*\bdesktop\b|\bdesktop\b.*\bmobile\b", q):
        ent.by, ent.device = "device", None
    segment = re.search(r"\bsegment\s+(\d+)\b", q)
    if segment:
        ent.segment = segment.group(1)
    _dates(q, ent, data_end)
    topic = re.search(r"(?:about|regarding|mentioning|on|with)\s+(?:the\s+)?([a-z][a-z \-']{2,60})",
                      q)
    if topic:
        ent.topic = topic.group(1).strip(" ?.")
    return ent


def _dates(q: str, ent: Entities, end: date) -> None:
    explicit = re.findall(r"\b(\d{4}-\d{2}-\d{2})\b", q)
    if "since" in q and explicit:
        ent.since = date.fromisoformat(explicit[0])
        return
    if len(explicit) >= 2:
        ent.since, ent.until = date.fromisoformat(explicit[0]), date.fromisoformat(explicit[1])
        return
    last_monday = end - timedelta(days=end.weekday())
    if "last week" in q or "past week" in q:
        ent.since, ent.until = last_monday - timedelta(days=7), last_monday - timedelta(days=1)
    elif "this week" in q:
        ent.since, ent.until = last_monday, end
    elif "last month" in q or "past month" in q:
        first = end.replace(day=1)
        previous_end = first - timedelta(days=1)
        ent.since, ent.until = previous_end.replace(day=1), previous_end
    for i, month in enumerate(MONTHS, start=1):
        if re.search(rf"\b(in|during|for) {month}\b", q):
            year = end.year if i <= end.month else end.year - 1
            start = date(year, i, 1)
            next_month = date(year + (i == 12), i % 12 + 1, 1)
            ent.since, ent.until = start, next_month - timedelta(days=1)
