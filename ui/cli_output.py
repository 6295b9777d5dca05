"""Shared output helpers for the command line: JSON for scripts, rich for people."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from typing import Any, Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

console = Console()
err_console = Console(stderr=True)


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if is_dataclass(value):
        return asdict(value)
    return str(value)


def print_json(data: Any) -> None:
    if is_dataclass(data):
        data = asdict(data)
    sys.stdout.write(json.dumps(data, default=_default, indent=2) + "\n")


class RowProgress:
    """A rich progress bar driven by the store's (description, done, total) callbacks."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and err_console.is_terminal
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=err_console, transient=True,
        )
        self._task = None

    def __enter__(self) -> Callable[[str, int, int], None]:
        if self.enabled:
            self._progress.start()
            self._task = self._progress.add_task("Starting", total=None)
        return self.update

    def update(self, description: str, done: int, total: int) -> None:
        if not self.enabled or self._task is None:
            return
        self._progress.update(self._task, description=description, completed=done,
                              total=total or None)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._progress.stop()
