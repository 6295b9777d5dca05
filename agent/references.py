"""Figures cited by reference: [[R3.steps.1.conversion_from_previous|pct]] -> "42.0%".

The language model never types a number it computed; it points at a value in a tool result and
the agent writes the value, formatted, from the result itself.
"""

from __future__ import annotations

import re
from typing import Any

REFERENCE = re.compile(r"\[\[(R\d+)((?:\.[A-Za-z0-9_\-]+)+)(?:\|(pct|int|num))?\]\]")


class UnresolvedReference(Exception):
    pass


def lookup(artifact: Any, path: list[str]) -> Any:
    value = artifact
    for part in path:
        if isinstance(value, list):
            if not part.lstrip("-").isdigit() or not -len(value) <= int(part) < len(value):
                raise UnresolvedReference(part)
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise UnresolvedReference(part)
    return value


def format_value(value: Any, style: str | None) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, float)):
        if style == "pct":
            return f"{value * 100:.1f}%"
        if style == "int" or (style is None and float(value).is_integer()):
            return f"{value:,.0f}"
        return f"{value:,.2f}"
    return str(value)


def resolve(text: str, artifacts: dict[str, dict]) -> tuple[str, list[str]]:
    """Replace references with values; returns the text and the references that failed."""
    failed: list[str] = []

    def replace(match: re.Match) -> str:
        result_id, path, style = match.group(1), match.group(2), match.group(3)
        artifact = artifacts.get(result_id)
        try:
            if artifact is None:
                raise UnresolvedReference(result_id)
            return format_value(lookup(artifact, path.strip(".").split(".")), style)
        except UnresolvedReference:
            failed.append(match.group(0))
            return match.group(0)

    return REFERENCE.sub(replace, text), failed
