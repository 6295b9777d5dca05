"""Editing the stage map: which journey stage each event belongs to, and the stages' order."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from analytics.errors import JourneyError, UnknownNameError
from analytics.store.connection import EventStore


@dataclass
class StageAssignment:
    event_name: str
    stage: str
    origin: str  # 'rule' (guessed from the name) or 'user'


def list_stage_map(store: EventStore) -> tuple[list[str], list[StageAssignment]]:
    with store.reader(local=True) as con:
        stages = [r[0] for r in con.execute(
            "SELECT stage FROM stages ORDER BY position, stage").fetchall()]
        rows = con.execute("""
            SELECT m.event_name, m.stage, m.origin FROM stage_map AS m
            LEFT JOIN stages AS s ON s.stage = m.stage
            ORDER BY COALESCE(s.position, 999), m.event_name
        """).fetchall()
    return stages, [StageAssignment(*r) for r in rows]


def set_event_stage(store: EventStore, event_name: str, stage: str) -> StageAssignment:
    """Put `event_name` in `stage` (which must exist); remembered as the user's choice."""
    with store.writer() as con:
        stages = [r[0] for r in con.execute("SELECT stage FROM stages").fetchall()]
        if stage not in stages:
            raise UnknownNameError("stage", stage, difflib.get_close_matches(stage, stages, 3, 0.4)
                                   or stages)
        known = [r[0] for r in con.execute(
            "SELECT DISTINCT event_name FROM events UNION SELECT event_name FROM stage_map"
        ).fetchall()]
        if event_name not in known:
            raise UnknownNameError("event", event_name,
                                   difflib.get_close_matches(event_name, known, 5, 0.5))
        con.execute("BEGIN TRANSACTION")
        con.execute("DELETE FROM stage_map WHERE event_name = ?", [event_name])
        con.execute("INSERT INTO stage_map VALUES (?, ?, 'user')", [event_name, stage])
        con.execute("COMMIT")
    return StageAssignment(event_name, stage, "user")


def add_stage(store: EventStore, stage: str, after: str | None = None) -> list[str]:
    """Add a stage of the user's own (after `after`, or at the end); returns the new order."""
    stage = stage.strip().lower()
    if not stage or not stage.replace("_", "").replace("-", "").isalnum():
        raise JourneyError(f"Stage name '{stage}' must be letters, digits, '-' or '_'")
    with store.writer() as con:
        stages = [r[0] for r in con.execute(
            "SELECT stage FROM stages ORDER BY position").fetchall()]
        if stage in stages:
            raise JourneyError(f"Stage '{stage}' already exists")
        if after is not None and after not in stages:
            raise UnknownNameError("stage", after, difflib.get_close_matches(after, stages, 3, 0.4)
                                   or stages)
        index = stages.index(after) + 1 if after is not None else len(stages)
        stages.insert(index, stage)
        con.execute("BEGIN TRANSACTION")
        con.execute("DELETE FROM stages")
        con.executemany("INSERT INTO stages VALUES (?, ?)",
                        [(s, i) for i, s in enumerate(stages, start=1)])
        con.execute("COMMIT")
    return stages
