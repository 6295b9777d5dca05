"""What a pasted percentage means, read the way a marketer writes it, and the period of a count.

A rate on a stage's line says one of these things:

- `into`: the share of the previous stage that reached this one ("1,200 signups (30% of
  visitors)", "25% trial to paid" on the paid line, a table's Conversion column);
- `onward`: the share of this stage that moves to the next ("Trials: 900, 30% go on to book a
  call", "request a demo", "convert to paid", "move to", "progress to", "win rate");
- `loss`: the share of this stage that leaves instead of moving on ("35% leave after the pricing
  page", "abandon", "drop", "exit", "churn"), so onward = 1 - loss; with a period of its own
  ("10% churn per year") it is a loss over time, not a step of the funnel;
- `loss_into`: a table's Drop-off column, the loss from the previous row to this one;
- `bounce`: visitors leaving after one page, checked against its own benchmark;
- `state`: a state of the people at the stage ("80% weekly active", "satisfied", "retained",
  "open rate"), never a conversion.

A rate's period ("per year") belongs to the rate: it never sets the period of the line's count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

PERIOD_TO_MONTH = {"day": 30.0, "week": 52 / 12, "month": 1.0, "quarter": 1 / 3, "year": 1 / 12}
PERIOD_WORDS = {"day": "day", "daily": "day", "week": "week", "weekly": "week", "wk": "week",
                "month": "month", "monthly": "month", "mo": "month", "mth": "month",
                "quarter": "quarter", "quarterly": "quarter", "qtr": "quarter", "q": "quarter",
                "year": "year", "yearly": "year", "annual": "year", "annually": "year",
                "yr": "year"}
_PERIOD = re.compile(
    r"(?:/|\bper\s+|\ba\s+|\beach\s+|\bevery\s+|\b(?:last|this|past|previous)\s+)\s*(day|week|wk|"
    r"month|mo|mth|quarter|qtr|q|year|yr)\b|\b(daily|weekly|monthly|quarterly|yearly|annual|"
    r"annually)\b", re.IGNORECASE)

MEANINGS = ("into", "onward", "loss", "loss_into", "bounce", "state")

_LOSS = [("bounc", "bounce"), ("abandon", "abandon"), ("churn", "churn"), ("cancel", "churn"),
         ("unsubscrib", "unsubscribe"), ("drop", "drop_off"), ("exit", "exit"),
         ("leav", "leave"), ("left", "leave"), ("lost", "leave"), ("lose", "leave"),
         ("quit", "leave"), ("fall off", "drop_off"), ("fall out", "drop_off")]
_STATE = [("weekly active", "weekly active"), ("monthly active", "monthly active"),
          ("daily active", "daily active"), ("active", "active"), ("dau", "daily active"),
          ("wau", "weekly active"), ("mau", "monthly active"), ("satisf", "satisfied"),
          ("csat", "satisfied"), ("happy", "satisfied"), ("nps", "nps"),
          ("retain", "retention"), ("retention", "retention"), ("renew", "renewal"),
          ("open", "open"), ("click", "click"), ("ctr", "click"), ("engag", "engaged"),
          ("respon", "response"), ("activat", "activation"), ("adopt", "adoption"),
          ("mobile", "mobile"), ("desktop", "desktop"), ("returning", "returning"),
          ("repeat", "repeat")]
_FORWARD = re.compile(
    r"\b(?:go(?:es)?\s+on(?:\s+to)?|go(?:es)?\s+to|went\s+on(?:\s+to)?|moves?\s+(?:on\s+)?to|"
    r"moves?\s+on|moved\s+(?:on\s+)?to|progress\w*(?:\s+to)?|proceed\w*(?:\s+to)?|"
    r"continue[sd]?(?:\s+to)?|advance[sd]?(?:\s+to)?|request\w*|book\w*|schedul\w*|start\w*|"
    r"sign(?:s|ed)?\s+up(?:\s+for)?|upgrade[sd]?(?:\s+to)?|convert(?:s|ed)?\s+(?:in)?to|"
    r"conversion\s+to|click\w*\s+through(?:\s+to)?|reach\w*|become|becomes|turn\s+into|"
    r"buy|buys|pay|pays|purchase|subscribe|next\s+(?:stage|step))\b")
_FROM_TO = re.compile(r"\b([a-z][a-z\-]*)\s+to\s+([a-z][a-z\-]*)\b")
_WIN = re.compile(r"\b(?:win|won|close|closed)\b")
_INTO_WORDS = re.compile(r"^(?:rate|conv|cvr|cr|pct|percent|conversion(?: rate)?|"
                         r"step conversion|converted|convert|conversions)?$")
_STOP = {"a", "an", "the", "to", "on", "of", "for", "into", "and", "after", "before", "at",
         "go", "goes", "went", "per", "their", "our", "rate", "step", "stage", "page"}


@dataclass
class RateReading:
    value: float  # a fraction: 0.30
    meaning: str  # one of MEANINGS
    kind: str  # what it measures: conversion, onward, bounce, churn, weekly active ...
    phrase: str  # as written: "30% go on to book a call"
    period: str | None = None  # the rate's own period ("10% churn per year"); not the count's
    target: str | None = None  # where an onward rate leads ("book a call")
    base: str | None = None  # what an into rate is a share of ("of visitors" -> "visitors")

    def onward(self) -> float | None:
        """The share of the stage moving to the next stage this reading states, if any."""
        if self.meaning == "onward":
            return self.value
        if self.meaning == "loss" and self.period is None:
            return 1 - self.value
        return None

    def into(self) -> float | None:
        """The share of the previous stage reaching this stage this reading states, if any."""
        if self.meaning == "into":
            return self.value
        if self.meaning == "loss_into":
            return 1 - self.value
        return None


def period_in(text: str) -> str | None:
    m = _PERIOD.search(text)
    if not m:
        return None
    return PERIOD_WORDS[(m.group(1) or m.group(2)).lower()]


@lru_cache(maxsize=1)
def stage_synonyms() -> dict[str, list[str]]:
    text = resources.files("analytics.diagnosis").joinpath("benchmarks.yaml").read_text("utf-8")
    return dict(yaml.safe_load(text)["synonyms"])


def synonym_stage(text: str) -> str | None:
    """The canonical stage a phrase names by its words ("paid" -> purchase), or None."""
    words = set(_words(text))
    lowered = " ".join(_words(text))
    for stage, names in stage_synonyms().items():
        for name in names:
            if (" " in name and name in lowered) or _stem(name) in words:
                return stage
    return None


def _stem(word: str) -> str:
    word = word.lower()
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def _words(text: str) -> list[str]:
    return [_stem(w) for w in re.findall(r"[a-zA-Z][a-zA-Z\-]*", text or "")]


def names_stage(phrase: str, name: str, unit: str | None) -> bool:
    """Whether a phrase ("visitors") names a stage by its name or unit."""
    return _overlaps(phrase, set(_words(f"{name} {unit or ''}")))


def _overlaps(phrase: str, stage_words: set[str]) -> bool:
    return any(w in stage_words for w in _words(phrase) if w not in _STOP)


def _lookup(text: str, table: list[tuple[str, str]]) -> str | None:
    return next((kind for stem, kind in table
                 if re.search(r"\b" + re.escape(stem), text)), None)


def read_rate(value: float, label: str, before: str, *, stage_name: str, stage_unit: str | None,
              has_count: bool = True, from_table: bool = False) -> RateReading:
    """Classify one percentage by the words after it (`label`), before it on the same clause
    (`before`), and, when those say nothing, the stage's own name ("Churn: 3%")."""
    label = " ".join(label.lower().split())
    before = " ".join(before.lower().split())
    phrase = f"{value * 100:g}% {label}".strip()
    words = f"{before} {label}".strip()
    period = period_in(label) or period_in(before)
    stage_words = set(_words(f"{stage_name} {stage_unit or ''}"))

    def reading(meaning: str, kind: str, target: str | None = None) -> RateReading:
        return RateReading(value, meaning, kind, phrase, period, target)

    loss = _lookup(words, _LOSS)
    if loss == "bounce":
        return reading("bounce", "bounce")
    if loss:
        return reading("loss_into" if from_table else "loss", loss)
    forward = _FORWARD.search(label) or _FORWARD.search(before)
    if forward:
        source = label if _FORWARD.search(label) else before
        target = re.sub(r"^(?:(?:a|an|the|to|on|for|into)\s+)+", "",
                        source[forward.end():].strip(" -:")).strip() or None
        if target and _overlaps(target, stage_words):
            return reading("into", "conversion")
        return reading("onward", "onward", target)
    from_to = _FROM_TO.search(words)
    if from_to and from_to.group(1) not in _STOP:
        source, target = from_to.group(1), from_to.group(2)
        if _overlaps(source, stage_words) or (
                synonym_stage(source) and synonym_stage(source) == synonym_stage(stage_name)
                and synonym_stage(target) != synonym_stage(stage_name)):
            return reading("onward", "onward", target)
        return reading("into", "conversion")
    state = _lookup(words, _STATE)
    if state:
        return reading("state", state)
    base = re.search(r"\b(?:of|from)\s+(?:all\s+|the\s+|our\s+)?([a-z][a-z\- ]*)", label)
    if base:
        into = reading("into", "conversion")
        into.base = base.group(1).strip()
        return into
    if _WIN.search(words):
        is_won = synonym_stage(f"{stage_name} {stage_unit or ''}") == "purchase"
        return reading("into" if is_won else "onward", "conversion" if is_won else "onward",
                       None if is_won else "won")
    core = " ".join(w for w in label.split()
                    if w not in PERIOD_WORDS and w not in ("per", "a", "each", "every"))
    if not core:
        # A bare percentage: a conversion, unless a stage without a count is itself named as a
        # loss or a state ("Churn: 3%", "Retention: 92%").
        by_name = _lookup(stage_name.lower(), _LOSS) or _lookup(stage_name.lower(), _STATE)
        if by_name and not has_count:
            named = read_rate(value, stage_name, "", stage_name="", stage_unit=None,
                              has_count=True, from_table=from_table)
            named.phrase, named.period = phrase, named.period or period
            return named
        return reading("into", "conversion")
    if _INTO_WORDS.match(core) or "conver" in words:
        return reading("into", "conversion")
    # Words we do not know ("60% mobile users", "15% enterprise"): a share of the stage, which
    # must not be taken for a conversion.
    return reading("state", core)
