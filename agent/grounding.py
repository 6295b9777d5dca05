"""Grounding: every figure in an answer must be one a tool returned.

Figures are read from the answer (integers with thousands separators, decimals, percentages)
and looked up among the numbers in the tool results, allowing the roundings and the
percent-versus-fraction forms the answers use. Result ids ([R3]), dates and step numbers are not
figures.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

NUMBER = re.compile(r"(?<![\w\-/.])(-?\d[\d,]*(?:\.\d+)?)(%?)(?![\w\-/])")


def _numbers(value: Any, out: list[float]) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        out.append(float(value))
    elif isinstance(value, str):
        for m in NUMBER.finditer(value):
            try:
                out.append(float(m.group(1).replace(",", "")))
            except ValueError:
                pass
    elif isinstance(value, dict):
        for v in value.values():
            _numbers(v, out)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _numbers(v, out)


def ungrounded_numbers(text: str, artifacts: Iterable[dict]) -> list[str]:
    known: list[float] = []
    for artifact in artifacts:
        _numbers(artifact, known)
    cleaned = re.sub(r"\[R\d+\]", " ", text)
    cleaned = re.sub(r"\d{4}-\d{2}-\d{2}", " ", cleaned)
    missing = []
    for m in NUMBER.finditer(cleaned):
        raw, percent = m.group(1), m.group(2)
        value = float(raw.replace(",", ""))
        decimals = len(raw.split(".")[1]) if "." in raw else 0
        tolerance = 0.5 * 10 ** -decimals
        candidates = [value / 100, value] if percent else [value]
        if value in (0, 1, 2, 3) and not percent:
            continue  # small counts in prose ("2 themes") are not reported figures
        ok = any(abs(k - c) <= tolerance * (0.01 if percent and c == value / 100 else 1) + 1e-9
                 for k in known for c in candidates)
        if not ok:
            missing.append(m.group(0))
    return missing
