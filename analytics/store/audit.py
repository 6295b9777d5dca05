"""The record of every write: who did it, when, which write, and whether it went through.

One JSON object per line in `audit.jsonl` in the data folder, appended and synced, so a crash
loses at most the line being written. It never holds personal data: an erasure is recorded by
the keyed hash of the id (as the erasure log keeps it), a load by its file names and counts.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

AUDIT_FILENAME = "audit.jsonl"


@dataclass(frozen=True)
class AuditEntry:
    at: str
    who: str
    role: str
    action: str
    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)


def record(home: Path, who: str, role: str, action: str, ok: bool,
           detail: dict[str, Any] | None = None) -> AuditEntry:
    entry = AuditEntry(datetime.now(UTC).isoformat(timespec="milliseconds"), who, role, action,
                       ok, dict(detail or {}))
    path = Path(home) / AUDIT_FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(asdict(entry), sort_keys=True, default=str) + "\n"
    # O_APPEND: lines from several processes never interleave within a line.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return entry


def entries(home: Path, last: int | None = None) -> list[AuditEntry]:
    """The recorded writes, oldest first (the last `last` of them when given)."""
    path = Path(home) / AUDIT_FILENAME
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    found = []
    for line in lines[-last:] if last else lines:
        try:
            found.append(AuditEntry(**json.loads(line)))
        except (ValueError, TypeError):
            continue  # a line cut short by a crash
    return found
