"""Who must hear of an erasure: layers holding copies derived from the store register here.

Kept free of imports so that registering costs nothing at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analytics.store.connection import EventStore

# An eraser gets the store and the erasure report (which lists the erased feedback ids).
Eraser = Callable[["EventStore", Any], None]
_ERASERS: list[Eraser] = []


def register_eraser(eraser: Eraser) -> Eraser:
    """Ask `eraser` to remove derived copies on every erasure (registering twice is harmless)."""
    if eraser not in _ERASERS:
        _ERASERS.append(eraser)
    return eraser


def registered_erasers() -> tuple[Eraser, ...]:
    return tuple(_ERASERS)
