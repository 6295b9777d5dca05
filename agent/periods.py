"""Periods in a marketer's words, read relative to the end of the data, never to today.

"in April", "early June", "mid-March", "late Aug", "the past 30 days", "last 2 weeks", "Q3",
"last quarter", "this year", "last month", "since May", "between 2026-03-01 and 2026-03-15",
"the week of 17 August", "in 2025". A month or quarter without a year is the latest one that
has started by the data's end (April asked in October 2026 is April 2026; November is 2025's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]
MONTH_WORD = {m: i for i, m in enumerate(MONTHS, start=1)}
MONTH_WORD.update({m[:3]: i for i, m in enumerate(MONTHS, start=1)})
MONTH_WORD["sept"] = 9
# "may" is also a verb: a bare "may" counts as the month only after a preposition or a part.
MONTH_RE = r"(january|february|march|april|may|june|july|august|september|october|november|" \
           r"december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)"
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "thirty": 30, "ninety": 90,
                "a": 1, "an": 1}


@dataclass(frozen=True)
class Period:
    since: date
    until: date
    label: str  # as the answer says it: "April 2026", "the 30 days to 2026-10-31"

    def to_dict(self) -> dict:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(),
                "label": self.label}


def period_words(period: dict) -> str:
    """A period as an answer states it: its words and its dates ("June 2026 (2026-06)",
    "early June 2026 (2026-06-01 to 2026-06-10)"), so the reader sees exactly what was counted."""
    label, since, until = period["label"], period["since"], period["until"]
    if since in label or until in label:
        return label
    first, last = date.fromisoformat(since), date.fromisoformat(until)
    if first.day == 1 and last == _month_end(first.year, first.month):
        return f"{label} ({first:%Y-%m})"
    return f"{label} ({since} to {until})"


def _month_end(year: int, month: int) -> date:
    return date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)


def _latest_year(month: int, end: date) -> int:
    return end.year if month <= end.month else end.year - 1


def _clip(period: Period, end: date) -> Period:
    """A period running past the data's end stops there (its label says what was asked)."""
    return period if period.until <= end else Period(period.since, end, period.label)


def _count(word: str) -> int:
    return int(word) if word.isdigit() else NUMBER_WORDS.get(word, 1)


def read_period(question: str, end: date) -> Period | None:
    """The period a question asks about, or None when it names none."""
    q = " " + re.sub(r"(?<=[a-z])-(?=[a-z0-9])", " ", question.lower()) + " "
    q = re.sub(r"\s+", " ", q)
    explicit = re.findall(r"\b(\d{4})-(\d{2})-(\d{2})\b", q)
    days = [date(int(y), int(m), int(d)) for y, m, d in explicit]
    if len(days) >= 2:
        first, last = sorted(days[:2])
        return Period(first, last, f"{first} to {last}")
    if days and re.search(r"\b(since|from|after)\b", q):
        return Period(days[0], end, f"since {days[0]}")
    if days and re.search(r"\bweek (of|starting)\b", q):
        monday = days[0] - timedelta(days=days[0].weekday())
        return _clip(Period(monday, monday + timedelta(days=6), f"the week of {monday}"), end)
    if days:
        return Period(days[0], days[0], f"{days[0]}")
    return (_day_range(q, end) or _relative(q, end) or _quarter(q, end) or _month(q, end)
            or _season(q, end) or _year(q, end))


# Meteorological seasons (northern hemisphere): first month and the number of months.
SEASONS = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}


def _season(q: str, end: date) -> Period | None:
    """"in spring", "over the summer", "last winter", "late summer": the latest such season
    (or part of it) the data reach."""
    m = re.search(r"\b(?:in|during|over|this|last|across|through|throughout|the|(early|mid|"
                  r"late)) (?:the )?(?:(early|mid|late) )?(spring|summer|autumn|fall|winter)"
                  r"(?: (20\d\d))?\b", q)
    if not m:
        return None
    part, season, said_year = m.group(1) or m.group(2), m.group(3), m.group(4)
    if season == "fall" and not (part or re.search(r"\b(in|during|over|this|last) (the )?fall\b",
                                                   q)):
        return None  # "conversions fall": the verb
    first_month = SEASONS[season]
    since = date(int(said_year) if said_year else end.year, first_month, 1)
    if not said_year and since > end:
        since = date(since.year - 1, first_month, 1)  # not begun yet this year: last year's
    last_month = (first_month + 1) % 12 + 1
    until = _month_end(since.year + (1 if last_month < first_month else 0), last_month)
    label = f"{season} {since.year}"
    if part:
        # "late summer": the season's last month; "early spring": its first; "mid": the middle.
        month = (first_month - 1 + {"early": 0, "mid": 1, "late": 2}[part]) % 12 + 1
        since = date(since.year + (1 if month < first_month else 0), month, 1)
        until = _month_end(since.year, month)
        label = f"{part} {label}"
    return _clip(Period(since, until, f"{label} ({since} to {until})"), end)


def _relative(q: str, end: date) -> Period | None:
    m = re.search(r"\b(?:past|last|previous|recent) (\d+|one|two|three|four|five|six|seven|eight|"
                  r"nine|ten|twelve|thirty|ninety|a|an)? ?(day|week|month|quarter)s?\b"
                  r"(?! (?:of|in) [a-z])", q)  # "the last week of September": that month's
    last_monday = end - timedelta(days=end.weekday())
    if m and m.group(1):
        n, unit = _count(m.group(1)), m.group(2)
        length = {"day": 1, "week": 7, "month": 30, "quarter": 91}[unit] * n
        since = end - timedelta(days=length - 1)
        return Period(since, end, f"the {length} days to {end}")
    if m:
        unit = m.group(2)
        if unit == "day":
            return Period(end, end, f"{end}")
        if unit == "week":
            if re.search(r"\b(past|recent) week\b", q):
                return Period(end - timedelta(days=6), end, f"the 7 days to {end}")
            # The last complete week: the data's own when they end on a Sunday.
            start = last_monday - timedelta(days=7) if end.weekday() < 6 else last_monday
            if end.weekday() == 6:
                return Period(start, end, f"the week of {start}")
            return Period(start, last_monday - timedelta(days=1), f"the week of {start}")
        if unit == "month":
            if re.search(r"\bpast month\b", q):
                return Period(end - timedelta(days=29), end, f"the 30 days to {end}")
            # The last complete month: the data's own when they end on its last day (an
            # export taken on 31 October means October by "last month").
            month_done = end == _month_end(end.year, end.month)
            previous_end = end if month_done else end.replace(day=1) - timedelta(days=1)
            start = previous_end.replace(day=1)
            return Period(start, previous_end, f"{start:%B %Y}")
        if unit == "quarter":
            quarter = (end.month - 1) // 3
            if end == _month_end(end.year, 3 * quarter + 3):
                quarter += 1  # the data end on the last day of a quarter: that one
            year = end.year
            if quarter == 0:
                quarter, year = 4, year - 1
            return _quarter_period(year, quarter, end)
    if re.search(r"\b(this|current) week\b", q):
        return Period(last_monday, end, f"the week of {last_monday}")
    if re.search(r"\b(this|current) month\b", q):
        return Period(end.replace(day=1), end, f"{end:%B %Y}")
    if re.search(r"\b(this|current) quarter\b", q):
        return _quarter_period(end.year, (end.month - 1) // 3 + 1, end)
    if re.search(r"\b(this|current) year\b|\bytd\b|\byear to date\b", q):
        return Period(date(end.year, 1, 1), end, f"{end.year} to {end}")
    if re.search(r"\blast year\b", q):
        return Period(date(end.year - 1, 1, 1), date(end.year - 1, 12, 31), f"{end.year - 1}")
    if re.search(r"\byesterday\b", q):
        return Period(end, end, f"{end}")
    return None


def _day_range(q: str, end: date) -> Period | None:
    """"11-24 May", "May 11-24", "between May 11 and May 24", "from 3 to 9 June"."""
    m = (re.search(rf"\b(\d{{1,2}})(?:st|nd|rd|th)? ?(?:-|–|to|and|until|through) ?(\d{{1,2}})"
                   rf"(?:st|nd|rd|th)? (?:of )?{MONTH_RE}\b(?: ?(20\d\d))?", q)
         or re.search(rf"\b{MONTH_RE} (\d{{1,2}})(?:st|nd|rd|th)? ?(?:-|–|to|and|until|through)"
                      rf" ?(?:{MONTH_RE} )?(\d{{1,2}})(?:st|nd|rd|th)?\b(?: ?(20\d\d))?", q))
    if not m:
        return None
    groups = m.groups()
    if groups[0].isdigit():
        first_day, last_day, month_word, year_word = groups[0], groups[1], groups[2], groups[3]
    else:
        month_word, first_day, last_day, year_word = groups[0], groups[1], groups[3], groups[4]
    month = MONTH_WORD[month_word]
    year = int(year_word) if year_word else _latest_year(month, end)
    last = _month_end(year, month)
    a, b = int(first_day), int(last_day)
    if not (1 <= a <= b <= last.day):
        return None
    since, until = date(year, month, a), date(year, month, b)
    return _clip(Period(since, until, f"{since} to {until}"), end)


def _quarter_period(year: int, quarter: int, end: date) -> Period:
    start = date(year, 3 * quarter - 2, 1)
    return _clip(Period(start, _month_end(year, 3 * quarter), f"Q{quarter} {year}"), end)


def _quarter(q: str, end: date) -> Period | None:
    m = re.search(r"\bq([1-4])(?: ?(20\d\d))?\b", q) or re.search(
        r"\b(first|second|third|fourth) quarter(?: of (20\d\d))?\b", q)
    if not m:
        return None
    word = m.group(1)
    quarter = int(word) if word.isdigit() else ["first", "second", "third", "fourth"].index(
        word) + 1
    year = int(m.group(2)) if m.group(2) else (end.year if 3 * quarter - 2 <= end.month
                                               else end.year - 1)
    return _quarter_period(year, quarter, end)


def _month_range(q: str, end: date) -> Period | None:
    """"April and May", "from March to May", "between June and August 2026": both months."""
    m = re.search(rf"\b{MONTH_RE} (?:and|to|through|thru|until|till|-|–) {MONTH_RE}\b"
                  rf"(?: ?(20\d\d))?", q)
    if not m or "may" in (m.group(1), m.group(2)) and not re.search(
            rf"\b(in|from|between|during|over|of|for) {m.group(1)}\b", q):
        return None  # "which customers may churn": "may" the verb
    first, last = MONTH_WORD[m.group(1)], MONTH_WORD[m.group(2)]
    last_year = int(m.group(3)) if m.group(3) else _latest_year(last, end)
    first_year = last_year - (1 if first > last else 0)
    since, until = date(first_year, first, 1), _month_end(last_year, last)
    label = f"{MONTHS[first - 1].capitalize()} to {MONTHS[last - 1].capitalize()} {last_year}"
    return _clip(Period(since, until, f"{label} ({since} to {until})"), end)


def _month(q: str, end: date) -> Period | None:
    ranged = _month_range(q, end)
    if ranged:
        return ranged
    part = r"(early|beginning of|start of|mid|middle of|late|end of)? ?"
    pattern = (rf"\b(in|during|for|over|of|since|from|after|before|around|through|throughout|"
               rf"across)? ?{part}{MONTH_RE}\b(?: ?(20\d\d))?")
    m = None
    for found in re.finditer(pattern, q):
        # "may" the verb ("which customers may churn") is no month.
        if found.group(3) == "may" and not (found.group(1) or found.group(2) or found.group(4)):
            continue
        m = found
        break
    if not m:
        return None
    m = _Shifted(m)
    month = MONTH_WORD[m.group(2)]
    year = int(m.group(3)) if m.group(3) else _latest_year(month, end)
    label = f"{MONTHS[month - 1].capitalize()} {year}"
    first, last = date(year, month, 1), _month_end(year, month)
    day = re.search(rf"\b(\d{{1,2}})(?:st|nd|rd|th)? (?:of )?{m.group(2)}\b|\b{m.group(2)} "
                    rf"(\d{{1,2}})(?:st|nd|rd|th)?\b", q)
    if day:
        number = int(day.group(1) or day.group(2))
        if 1 <= number <= last.day:
            picked = date(year, month, number)
            if re.search(r"\bweek\b", q):
                monday = picked - timedelta(days=picked.weekday())
                return _clip(Period(monday, monday + timedelta(days=6),
                                    f"the week of {monday}"), end)
            if re.search(r"\b(since|from|after)\b", q[:day.start()]):
                # "since August 17": from that day to the data's end, like "since 2026-08-17".
                return Period(picked, end, f"since {picked}")
            return Period(picked, picked, f"{picked}")
    if re.search(rf"\b(since|from|after) {m.group(1) or ''} ?{m.group(2)}\b", q):
        return Period(first, end, f"since {label}")
    nth = re.search(rf"\b(first|1st|second|2nd|third|3rd|fourth|4th|last) week (?:of|in) "
                    rf"{m.group(2)}\b", q)
    if nth:
        # "the first week of June": days 1-7; "the last week of June": its last seven days.
        if nth.group(1) == "last":
            since = last - timedelta(days=6)
        else:
            since = first + timedelta(days=7 * (["first", "1st", "second", "2nd", "third", "3rd",
                                                 "fourth", "4th"].index(nth.group(1)) // 2))
        until = min(since + timedelta(days=6), last)
        return _clip(Period(since, until, f"{nth.group(1)} week of {label} ({since} to {until})"),
                     end)
    which = (m.group(1) or "").strip()
    if which in ("early", "beginning of", "start of"):
        return _clip(Period(first, date(year, month, 10), f"early {label}"), end)
    if which in ("mid", "middle of"):
        return _clip(Period(date(year, month, 11), date(year, month, 20), f"mid {label}"), end)
    if which in ("late", "end of"):
        return _clip(Period(date(year, month, 21), last, f"late {label}"), end)
    return _clip(Period(first, last, label), end)


class _Shifted:
    """The month match with groups renumbered (1: part of the month, 2: month, 3: year)."""

    def __init__(self, match: re.Match) -> None:
        self.match = match

    def group(self, i: int) -> str | None:
        return self.match.group(i + 1)


def _year(q: str, end: date) -> Period | None:
    m = re.search(r"\b(?:in|during|for|of) (20\d\d)\b", q)
    if not m:
        return None
    year = int(m.group(1))
    return _clip(Period(date(year, 1, 1), date(year, 12, 31), f"{year}"), end)
