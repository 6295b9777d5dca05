"""What a funnel can be asked beyond its steps: exclusion steps, a window per move, a property
held constant, noise events ignored, and the buckets its times to convert are counted in.

Semantics follow PostHog's where it has them (exclusions remove a person from the whole
funnel) and are stated in every result's definitions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from analytics.catalog import Catalog
from analytics.errors import ArgumentError
from analytics.event_filters import StepEvent, parse_step_event, property_sql

# Time to convert, counted in these buckets (upper bounds in seconds; the last is open).
TIME_BUCKETS: tuple[tuple[str, float | None], ...] = (
    ("< 1 min", 60), ("1-10 min", 600), ("10-60 min", 3600), ("1-24 h", 86400),
    ("1-7 days", 7 * 86400), ("7-30 days", 30 * 86400), ("30+ days", None))

# Properties read from the event's own columns rather than its JSON properties.
COLUMN_PROPERTIES = ("device", "channel")


@dataclass(frozen=True)
class Exclusion:
    """A person who does `event` after reaching step `first` and before reaching step `last`
    (or, not reaching it, before the window closes) is removed from the whole funnel."""

    text: str  # as given: "support_contacted[plan=trial]@1-2"
    event: StepEvent
    first: int  # 1-based funnel steps
    last: int


def parse_exclusion(text: str, steps: int, catalog: Catalog) -> Exclusion:
    """`EVENT`, `EVENT@1-2`, `EVENT[plan=trial]`, `EVENT[plan=trial]@2-3`."""
    body, first, last = text, 1, steps
    ranged = re.fullmatch(r"(.+)@(\d+)-(\d+)", text.strip())
    if ranged:
        body, first, last = ranged.group(1), int(ranged.group(2)), int(ranged.group(3))
        if not 1 <= first < last <= steps:
            raise ArgumentError("exclude", f"'{text}': the steps must be two of 1-{steps}, the "
                                           f"first before the second (e.g. {body}@1-2)")
    event = parse_step_event(body.strip(), catalog.events)
    catalog.check_event(event.event)
    for condition in event.conditions:
        catalog.check_event_property(condition.key)
    return Exclusion(text, event, first, last)


def value_sql(key: str, alias: str) -> str:
    """The text of property `key` on the event aliased `alias` (device and channel are
    columns of the event; anything else one of its properties)."""
    if key in COLUMN_PROPERTIES:
        return f"{alias}.{key}"
    return property_sql(key, f"{alias}.properties")


def check_hold(key: str, catalog: Catalog) -> None:
    if key not in COLUMN_PROPERTIES:
        catalog.check_event_property(key)


def check_windows(step_windows: list[int] | None, steps: int, order: str) -> None:
    if not step_windows:
        return
    if order == "any":
        raise ArgumentError("step_windows", "a window per move needs an order (strict or "
                                            "consecutive); with any order use the overall window")
    if len(step_windows) != steps - 1:
        raise ArgumentError("step_windows", f"give one window per move between steps: "
                                            f"{steps - 1} for {steps} steps, not "
                                            f"{len(step_windows)}")
