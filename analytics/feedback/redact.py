"""Personal data out of feedback text before it is embedded, indexed or shown to any model.

The original text stays only in DuckDB. Placeholders keep the sentence readable ("reach me at
[EMAIL]"), so quotes remain useful evidence.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# URLs carrying secrets in the query string or long opaque path segments.
_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_SECRET_URL = re.compile(r"[?&#](token|key|apikey|api_key|sig|signature|auth|session|password|"
                         r"code|secret|access_token)=|/[A-Za-z0-9_-]{24,}", re.IGNORECASE)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")
# 13-19 digits, optionally grouped by spaces or dashes: card numbers.
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
# Phone numbers: optional +country, then 8+ digits with common separators.
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?"
                    r"\d{2,4}(?:[ .-]?\d{2,4}){2,4}(?!\w)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")


def _luhn_ok(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    # Luhn-valid, or long enough that it is certainly not an amount or a date.
    return "[CARD]" if _luhn_ok(digits) or len(digits) >= 16 else match.group(0)


def _phone(match: re.Match) -> str:
    found = match.group(0)
    digits = re.sub(r"\D", "", found)
    if _DATE.fullmatch(found.strip()) or len(digits) < 8:
        return found  # a date or a short number, not a phone
    return "[PHONE]"


def _url(match: re.Match) -> str:
    url = match.group(0)
    return "[URL]" if _SECRET_URL.search(url) else url


def redact(text: str) -> str:
    """Replace e-mails, secret-bearing URLs, IBANs, card and phone numbers with placeholders."""
    if not text:
        return text
    text = _EMAIL.sub("[EMAIL]", text)
    text = _URL.sub(_url, text)
    text = _IBAN.sub("[IBAN]", text)
    text = _CARD.sub(_card, text)
    text = _PHONE.sub(_phone, text)
    return text
