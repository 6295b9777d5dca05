"""Reading stage metrics the way people paste them from decks and spreadsheets.

Accepted: "Stage: 10,000 visitors/month, 45% bounce rate" lines, bullet lists, Markdown tables
and tab- or comma-separated tables with a header row. Counts may carry k/M suffixes and thousands
separators; rates are percentages; durations are days, weeks or months ("28-day sales cycle");
counts may be per month, quarter or year (normalised to a month). Every line that could not be
read is returned in `unread`, never dropped. The parser raises nothing but JourneyError.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field

from analytics.errors import JourneyError

MAX_CHARS = 200_000
PERIOD_TO_MONTH = {"day": 30.0, "week": 52 / 12, "month": 1.0, "quarter": 1 / 3, "year": 1 / 12}
_PERIOD_WORDS = {"day": "day", "daily": "day", "week": "week", "weekly": "week", "wk": "week",
                 "month": "month", "monthly": "month", "mo": "month", "mth": "month",
                 "quarter": "quarter", "quarterly": "quarter", "qtr": "quarter", "q": "quarter",
                 "year": "year", "yearly": "year", "annual": "year", "annually": "year",
                 "yr": "year"}
_SUFFIX = {"k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6, "mm": 1e6, "b": 1e9, "B": 1e9}
NUMBER = r"(\d{1,3}(?:[,\u00a0 ]\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s*(mm|[kKmMbB](?![a-zA-Z]))?"
# Word stems that say what a percentage measures.
RATE_KINDS = {"bounce": "bounce", "convert": "conversion", "conversion": "conversion",
              "churn": "churn", "retain": "retention", "retention": "retention", "open": "open",
              "click": "click", "ctr": "click", "win": "win", "close": "win",
              "activat": "activation", "drop": "drop_off", "exit": "exit", "respon": "response",
              "to paid": "conversion", "to trial": "conversion"}
DURATION_UNITS = {"day": 1, "days": 1, "d": 1, "week": 7, "weeks": 7, "wk": 7, "month": 30,
                  "months": 30}


class MetricsParseError(JourneyError):
    """The pasted text cannot be read as stage metrics; the message says what is missing."""


@dataclass
class StageMetrics:
    name: str
    count: float | None = None  # people per month (normalised)
    count_as_written: str | None = None
    unit: str | None = None  # visitors, leads, signups ...
    period: str | None = None  # as written: month, quarter, year (None: not stated)
    rates: dict[str, float] = field(default_factory=dict)  # fractions: bounce 0.45
    durations_days: dict[str, float] = field(default_factory=dict)
    other: dict[str, float] = field(default_factory=dict)  # e.g. pages per visit 1.2
    source_line: str = ""


@dataclass
class ParsedMetrics:
    stages: list[StageMetrics]
    unread: list[str]
    notes: list[str] = field(default_factory=list)


def to_number(text: str, suffix: str | None = None) -> float:
    value = float(re.sub(r"[,\u00a0 ]", "", text))
    return value * _SUFFIX.get(suffix or "", 1.0)


def _period(text: str) -> str | None:
    m = re.search(r"(?:/|\bper\s+|\ba\s+|\beach\s+|\bevery\s+)\s*(day|week|wk|month|mo|mth|"
                  r"quarter|qtr|q|year|yr)\b|\b(daily|weekly|monthly|quarterly|yearly|annual|"
                  r"annually)\b", text, re.IGNORECASE)
    if not m:
        return None
    return _PERIOD_WORDS[(m.group(1) or m.group(2)).lower()]


def _read_cells(name: str, text: str, line: str) -> StageMetrics | None:
    stage = StageMetrics(name=name.strip(" -*\u2022\t|:#").strip(), source_line=line.strip())
    if not stage.name or len(stage.name) > 60:
        return None
    rest = text
    for m in re.finditer(r"(-?\d+(?:\.\d+)?)\s*%\s*([a-zA-Z][a-zA-Z \-]{0,30})?", rest):
        value = float(m.group(1)) / 100
        label = (m.group(2) or "").strip().lower()
        before = rest[max(0, m.start() - 25):m.start()].lower()
        kind = next((v for k, v in RATE_KINDS.items() if k in label), None) or next(
            (v for k, v in RATE_KINDS.items() if k in before), None)
        stage.rates[kind or "conversion"] = value
    rest = re.sub(r"-?\d+(?:\.\d+)?\s*%", " ", rest)
    for m in re.finditer(r"(\d+(?:\.\d+)?)[\s-]*(days?|weeks?|wk|months?|d)\b[\s-]*"
                         r"([a-zA-Z][a-zA-Z ]{0,25})?", rest):
        label = (m.group(3) or "cycle").strip().lower() or "cycle"
        stage.durations_days[label] = float(m.group(1)) * DURATION_UNITS[m.group(2).lower()]
    rest = re.sub(r"(\d+(?:\.\d+)?)[\s-]*(days?|weeks?|wk|months?|d)\b", " ", rest)
    for m in re.finditer(r"(?:avg\.?|average|mean)\s+" + NUMBER + r"\s*([a-zA-Z][a-zA-Z ]{0,25})?",
                         rest, re.IGNORECASE):
        label = (m.group(3) or "average").strip().lower()
        stage.other[label] = to_number(m.group(1), m.group(2))
    rest = re.sub(r"(?:avg\.?|average|mean)\s+" + NUMBER, " ", rest, flags=re.IGNORECASE)
    counts = list(re.finditer(r"(?<![\w.])" + NUMBER +
                              r"\s*((?:[a-zA-Z][a-zA-Z\-]*\s?){0,3})", rest))
    for m in counts:
        value = to_number(m.group(1), m.group(2))
        words = [w for w in (m.group(3) or "").lower().split()
                 if w not in _PERIOD_WORDS and w not in ("per", "a", "each", "every")]
        unit = " ".join(words) or None
        if stage.count is None:
            stage.count_as_written = m.group(0).strip()
            stage.unit = unit
            stage.period = _period(rest)
            stage.count = value
        else:
            stage.other[unit or f"number {len(stage.other) + 1}"] = value
    if stage.count is None and not stage.rates and not stage.durations_days and not stage.other:
        return None
    if stage.count is not None and stage.period:
        stage.count = stage.count * PERIOD_TO_MONTH[stage.period]
    return stage


def _split_table_row(line: str) -> list[str] | None:
    if line.count("|") >= 2:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        return cells
    if "\t" in line:
        return [c.strip() for c in line.split("\t")]
    return None


def parse_stage_metrics(text: str) -> ParsedMetrics:
    if text is None or not str(text).strip():
        raise MetricsParseError("Nothing to read: paste lines like 'Awareness: 12,000 "
                                "visitors/month, 40% bounce' (one stage per line)")
    text = str(text)
    if len(text) > MAX_CHARS:
        raise MetricsParseError(f"The text is {len(text):,} characters; paste at most "
                                f"{MAX_CHARS:,} (the stage lines, not the whole document)")
    try:
        return _parse(text)
    except JourneyError:
        raise
    except Exception as exc:  # the fuzz tests keep this unreachable; belt and braces
        raise MetricsParseError(f"Could not read the metrics ({type(exc).__name__}); paste one "
                                "stage per line, e.g. 'Evaluation: 800 trials, 25% to "
                                "paid'") from exc


def _parse(text: str) -> ParsedMetrics:
    lines = [l for l in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    stages: list[StageMetrics] = []
    unread: list[str] = []
    notes: list[str] = []
    header: list[str] | None = None
    csv_header: list[str] | None = None
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        cells = _split_table_row(line)
        if cells is None and "," in line and csv_header is None and not re.search(r"\d", line) \
                and len(line.split(",")) >= 2:
            csv_header = [c.strip() for c in line.split(",")]
            continue
        if cells is None and csv_header is not None and "," in line:
            cells = [c.strip() for c in next(csv.reader([line]))]
        if cells is not None:
            if all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
                continue  # Markdown separator row
            if header is None and not any(re.search(r"\d", c) for c in cells[1:]):
                header = cells
                continue
            names = header or csv_header or []
            body = ", ".join(f"{v} {names[i] if i < len(names) else ''}".strip()
                             for i, v in enumerate(cells[1:], start=1))
            stage = _read_cells(cells[0], body, line)
            (stages.append(stage) if stage else unread.append(line))
            continue
        m = re.match(r"^\s*(?:[-*\u2022]|\d+[.)])?\s*([A-Za-z][A-Za-z0-9 /&'()\-]{1,50}?)\s*"
                     r"(?::|\u2014|\u2013| - |=>|->)\s*(.+)$", line)
        if m:
            stage = _read_cells(m.group(1), m.group(2), line)
            (stages.append(stage) if stage else unread.append(line))
        else:
            unread.append(line)
    periods = {s.period for s in stages if s.count is not None}
    if len(periods) > 1:
        notes.append("Counts were given per " + ", ".join(sorted(p or "unstated period" for p in
                                                                 periods))
                     + "; all were converted to per month (unstated = per month).")
    return ParsedMetrics(stages=stages, unread=unread, notes=notes)
