"""Event properties in steps, filters and breakdowns.

A step may narrow its event by the event's own properties, written in brackets after the name:
`$pageview[$pathname=/pricing]`, `page_view[page_location~/pricing]`, `Order Completed[plan=pro,
country!=US]`. `=` is equal, `!=` is not equal, `~` contains (ignoring case); every condition in
the brackets must hold. A property name with dots (`context.page.path`) reaches into nested
objects, unless the event has a key written exactly so.
"""

from __future__ import annotations

from dataclasses import dataclass

from analytics.errors import ArgumentError
from analytics.store.nesting import json_path

OPERATORS = ("!=", "~", "=")


@dataclass(frozen=True)
class Condition:
    key: str
    op: str  # '=', '!=' or '~'
    value: str


@dataclass(frozen=True)
class StepEvent:
    """One event a step accepts, with the property conditions it must meet."""

    text: str  # as the user wrote it
    event: str
    conditions: tuple[Condition, ...] = ()


def property_sql(key: str, column: str = "properties") -> str:
    """The text of event property `key` (a literal key first, else a dotted path into nested
    objects); NULL when the event does not have it."""
    literal = f"json_extract_string({column}, {_literal(json_path([key]))})"
    if "." not in key:
        return literal
    nested = f"json_extract_string({column}, {_literal(json_path(key.split('.')))})"
    return f"COALESCE({literal}, {nested})"


def same_value(value_sql: str) -> str:
    """SQL (two ? parameters, both the value) true when a property equals the value as a
    marketer means it: ignoring case, and numbers by value (49 is 49.0)."""
    return (f"(lower({value_sql}) = lower(?) OR TRY_CAST({value_sql} AS DOUBLE) = "
            "TRY_CAST(? AS DOUBLE))")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _split_conditions(text: str) -> list[str]:
    """Conditions separated by commas outside quotes."""
    parts, current, quote = [], "", None
    for char in text:
        if quote:
            current += char
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
            current += char
        elif char == ",":
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _split_brackets(text: str) -> tuple[str, str] | None:
    """(event, conditions) for `event[conditions]`, the brackets being the last ones: event and
    property names may have brackets of their own (Amplitude's `[Amplitude] Page Viewed`)."""
    if not text.endswith("]"):
        return None
    depth = 0
    for position in range(len(text) - 1, -1, -1):
        char = text[position]
        if char == "]":
            depth += 1
        elif char == "[":
            depth -= 1
            if depth == 0:
                return text[:position].strip(), text[position + 1:-1]
    return None


def _operator_in(part: str) -> tuple[int, str] | None:
    """(position, operator) of the first operator after the property name: in
    `title="a ~ b"` it is '=', and the '~' is part of the value. A name in quotes
    (`"a=b"=1`) may hold operators itself."""
    start = 0
    stripped = part.lstrip()
    if stripped[:1] in ("'", '"'):
        close = stripped.find(stripped[0], 1)
        start = len(part) - len(stripped) + (close + 1 if close > 0 else 0)
    for position in range(start, len(part)):
        if part.startswith("!=", position):
            return position, "!="
        if part[position] in "=~":
            return position, part[position]
    return None


def split_alternatives(step: str) -> list[str]:
    """A step's alternatives, separated by '|' outside brackets and quotes (a page title such as
    "Pricing | Acme" is one value)."""
    parts, current, depth, quote = [], "", 0, None
    for char in step:
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'" and depth:
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth = max(depth - 1, 0)
        elif char == "|" and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def parse_step_event(text: str, known_events: list[str] | tuple[str, ...] = ()) -> StepEvent:
    """`name` or `name[key=value,...]` -> StepEvent (the event name is not checked here). A
    name the store has, brackets and all, is that event: names are kept as written."""
    if text in known_events or text.strip() in known_events:
        return StepEvent(text, text.strip())
    split = _split_brackets(text.strip())
    if split is None:
        if text.count("[") != text.count("]"):
            raise ArgumentError("steps", f"step '{text}' has unbalanced brackets; write "
                                         "event[property=value]")
        return StepEvent(text, text.strip())
    event, inside = split
    if not event:
        raise ArgumentError("steps", f"step '{text}' names no event before its brackets")
    conditions = []
    for part in _split_conditions(inside):
        found = _operator_in(part)
        if found is None:
            raise ArgumentError("steps", f"condition '{part}' in step '{text}' needs an "
                                         "operator: property=value, property!=value or "
                                         "property~text")
        at, op = found
        key, value = part[:at], part[at + len(op):]
        key, value = _unquote(key), _unquote(value)
        if not key:
            raise ArgumentError("steps", f"condition '{part}' in step '{text}' names no "
                                         "property")
        conditions.append(Condition(key, op, value))
    if not conditions:
        raise ArgumentError("steps", f"step '{text}' has empty brackets")
    return StepEvent(text, event, tuple(conditions))


def step_sql(alternatives: list[StepEvent], alias: str = "") -> tuple[str, list]:
    """SQL true for an event that any of the alternatives accepts, and its parameters."""
    prefix = f"{alias}." if alias else ""
    plain = [a.event for a in alternatives if not a.conditions]
    parts: list[str] = []
    params: list = []
    if plain:
        parts.append(f"{prefix}event_name IN ({', '.join('?' for _ in plain)})")
        params.extend(plain)
    for alt in alternatives:
        if not alt.conditions:
            continue
        clauses = [f"{prefix}event_name = ?"]
        params.append(alt.event)
        for condition in alt.conditions:
            value = property_sql(condition.key, f"{prefix}properties")
            if condition.op == "~":
                clauses.append(f"contains(lower({value}), lower(?))")
                params.append(condition.value)
                continue
            same = f"COALESCE({same_value(value)}, FALSE)"
            clauses.append(same if condition.op == "=" else f"NOT {same}")
            params += [condition.value, condition.value]
        parts.append("(" + " AND ".join(clauses) + ")")
    return "(" + " OR ".join(parts) + ")", params
