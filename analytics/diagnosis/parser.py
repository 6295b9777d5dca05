"""Reading stage metrics the way people paste them from decks and spreadsheets.

Accepted: "Stage: 10,000 visitors/month, 45% bounce rate" lines, bullet lists, Markdown tables
and tab- or comma-separated tables with a header row. Counts may carry k/M suffixes and thousands
separators; rates are percentages; durations are days, weeks or months ("28-day sales cycle");
counts may be per month, quarter or year (normalised to a month): the period written with the
count, else in the stage's name, else the deck's ("Monthly funnel"); never a rate's own period.
What each rate means (into the stage, onward from it, a loss, a state) is read in `reading`. Every
line that could not be read is returned in `unread`, never dropped. The parser raises nothing but
JourneyError.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field

from analytics.diagnosis.reading import (  # noqa: F401  (PERIOD_TO_MONTH: read from here)
    PERIOD_TO_MONTH,
    PERIOD_WORDS,
    RateReading,
    period_in,
    read_rate,
)
from analytics.errors import JourneyError

MAX_CHARS = 200_000
_SUFFIX = {"k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6, "mm": 1e6, "b": 1e9, "B": 1e9}
NUMBER = r"(\d{1,3}(?:[,\u00a0 ]\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s*(mm|[kKmMbB](?![a-zA-Z]))?"
_RATE = re.compile(r"(-?\d+(?:\.\d+)?)\s*%\s*([a-zA-Z][a-zA-Z \-]{0,40})?")
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
    period: str | None = None  # month, quarter, year (None: not stated on the count or deck)
    period_from: str | None = None  # "count", "stage name" or "deck": where the period was said
    rates: dict[str, float] = field(default_factory=dict)  # fractions: bounce 0.45
    readings: list[RateReading] = field(default_factory=list)  # what each rate means
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


def _rate_key(reading: RateReading) -> str:
    return {"into": "conversion", "onward": "onward"}.get(reading.meaning, reading.kind)


def _read_cells(name: str, text: str, line: str, from_table: bool = False
                ) -> StageMetrics | None:
    stage = StageMetrics(name=name.strip(" -*\u2022\t|:#").strip(), source_line=line.strip())
    if not stage.name or len(stage.name) > 60:
        return None
    raw_rates: list[tuple[float, str, str]] = []
    pieces: list[str] = []
    done = 0
    for m in _RATE.finditer(text):
        label = re.split(r"\b(?:avg|average|mean)\b", m.group(2) or "", flags=re.IGNORECASE)[0]
        before = re.split(r"[,;(:%]", text[max(0, m.start() - 25):m.start()])[-1]
        raw_rates.append((float(m.group(1)) / 100, label, before))
        # The whole rate phrase goes, its own period included ("10% churn per year"), so that
        # what is left describes the counts only.
        end = m.start(2) + len(label) if m.group(2) else m.end()
        pieces += [text[done:m.start()], ", "]
        done = end
    rest = "".join(pieces) + text[done:]
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
                 if w not in PERIOD_WORDS and w not in ("per", "a", "each", "every")]
        unit = " ".join(words) or None
        if stage.count is None:
            stage.count_as_written = m.group(0).strip()
            stage.unit = unit
            stage.count = value
            # The count's period is the one written with it ("4,800 views (per month)"), or in
            # the stage's name ("Monthly visitors"); never a rate's on the same line.
            clause = re.split(r"[,;]", rest[m.end():])[0]
            stage.period = period_in(m.group(0) + clause)
            stage.period_from = "count" if stage.period else None
            if stage.period is None and period_in(stage.name):
                stage.period, stage.period_from = period_in(stage.name), "stage name"
        else:
            stage.other[unit or f"number {len(stage.other) + 1}"] = value
    for value, label, before in raw_rates:
        reading = read_rate(value, label, before, stage_name=stage.name, stage_unit=stage.unit,
                            has_count=stage.count is not None, from_table=from_table)
        stage.readings.append(reading)
        stage.rates[_rate_key(reading)] = value
    if stage.count is None and not stage.rates and not stage.durations_days and not stage.other:
        return None
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


def _header_like(line: str) -> bool:
    """"stage,count,conversion" is a CSV header; "Our funnel last quarter, please diagnose:"
    is a sentence with a comma (its cells are long, or it ends like a sentence)."""
    cells = [c.strip() for c in line.split(",")]
    return not re.search(r"[:?.!]\s*$", line) and all(
        c and len(c.split()) <= 3 for c in cells)


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
                and len(line.split(",")) >= 2 and _header_like(line):
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
            stage = _read_cells(cells[0], body, line, from_table=True)
            (stages.append(stage) if stage else unread.append(line))
            continue
        m = re.match(r"^\s*(?:[-*\u2022]|\d+[.)])?\s*([A-Za-z][A-Za-z0-9 /&'()\-]{1,50}?)\s*"
                     r"(?::|\u2014|\u2013| - |=>|->)\s*(.+)$", line) or _name_then_number(line)
        if m:
            stage = _read_cells(m.group(1), m.group(2), line)
            (stages.append(stage) if stage else unread.append(line))
        else:
            unread.append(line)
    _apply_deck_period(stages, unread, notes)
    periods = {s.period for s in stages if s.count is not None}
    if len(periods) > 1:
        notes.append("Counts were given per " + ", ".join(sorted(p or "unstated period" for p in
                                                                 periods))
                     + "; all were converted to per month (unstated = per month).")
    for s in stages:
        if s.count is not None and s.period:
            s.count = s.count * PERIOD_TO_MONTH[s.period]
    return ParsedMetrics(stages=stages, unread=unread, notes=notes)


_NOT_A_STAGE = {"we", "our", "i", "they", "it", "this", "that", "the", "in", "on", "at", "for",
                "and", "but", "with", "about", "over", "since", "by", "from", "to", "show", "give",
                "list", "top", "what", "which", "who", "how", "why", "when", "where", "find",
                "tell", "last", "next", "first", "is", "are", "did", "do", "does", "can", "please",
                "compare", "only", "after", "before", "between", "up", "down"}


def _name_then_number(line: str) -> re.Match[str] | None:
    """A line with no separator, "Signups 1,200 (30% of visitors)": a short name, then a count."""
    m = re.match(r"^\s*(?:[-*\u2022]|\d+[.)])?\s*([A-Za-z][A-Za-z/&'\-]*(?: [A-Za-z][A-Za-z/&'\-]*)"
                 r"{0,2})\s+(\d.*)$", line)
    if m is None or m.group(1).split()[0].lower() in _NOT_A_STAGE:
        return None
    return m


def _apply_deck_period(stages: list[StageMetrics], unread: list[str], notes: list[str]) -> None:
    """A line that is not a stage but states a period ("Monthly funnel", "All figures per
    quarter") is the deck's period: counts that state none of their own take it."""
    for line in list(unread):
        period = period_in(line)
        if period is None or "%" in line or len(line.split()) > 10:
            continue
        unread.remove(line)
        taken = [s for s in stages if s.count is not None and s.period is None]
        for s in taken:
            s.period, s.period_from = period, "deck"
        if taken:
            notes.append(f"Counts without a period of their own were read as per {period}, as "
                         f"the line '{line}' says.")
        return
