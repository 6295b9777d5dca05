"""Tiny event logs built in code, small enough to compute every answer by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from analytics.store import EventStore, ingest_files

BASE = datetime(2024, 1, 1, tzinfo=UTC)

# person: [(minutes after the person's day, event)]; person i's day is 2024-01-0i.
JOURNEYS = {
    "p1": [(0, "view"), (60, "pricing"), (120, "signup"), (1440, "paid")],
    "p2": [(0, "view"), (30, "pricing"), (40, "pricing")],
    "p3": [(0, "view"), (10, "signup"), (20, "paid")],
    "p4": [(0, "pricing"), (10, "view"), (20, "signup")],
    "p5": [(0, "view"), (0, "pricing"), (30, "signup")],  # a tie: event ids order it
    "p6": [(0, "view")],
    "p7": [(0, "view"), (5, "signup"), (50, "pricing")],
}
MOBILE = {"p6"}


def tiny_store(folder: Path) -> EventStore:
    lines = ["event_id,customer_id,timestamp,event_name,device"]
    for n, (person, steps) in enumerate(JOURNEYS.items(), start=1):
        day = BASE + timedelta(days=n - 1)
        for k, (minutes, event) in enumerate(steps, start=1):
            ts = (day + timedelta(minutes=minutes)).isoformat()
            device = "mobile" if person in MOBILE else "desktop"
            lines.append(f"e{n}{k},{person},{ts},{event},{device}")
    path = folder / "tiny.csv"
    path.write_text("\n".join(lines) + "\n")
    store = EventStore(folder / "home")
    ingest_files(store, "events", [path])
    return store


def store_from_lines(folder: Path, lines: list[str]) -> EventStore:
    """A store loaded from CSV lines (a header first), as a user's export would be."""
    path = folder / "log.csv"
    path.write_text("\n".join(lines) + "\n")
    store = EventStore(folder / "home")
    ingest_files(store, "events", [path])
    return store


# Channel touches for attribution: a and c convert.
TOUCHES = {
    "a": ["email", "paid_search", "CONVERT"],
    "b": ["email"],
    "c": ["paid_search", "CONVERT"],
    "d": ["paid_search", "email"],
}


def attribution_store(folder: Path) -> EventStore:
    lines = ["customer_id,timestamp,event_name,channel"]
    for person, steps in TOUCHES.items():
        for k, step in enumerate(steps):
            ts = (BASE + timedelta(hours=k)).isoformat()
            if step == "CONVERT":
                lines.append(f"{person},{ts},purchase,")
            else:
                lines.append(f"{person},{ts},ad_click,{step}")
    path = folder / "touches.csv"
    path.write_text("\n".join(lines) + "\n")
    store = EventStore(folder / "home")
    ingest_files(store, "events", [path])
    return store
