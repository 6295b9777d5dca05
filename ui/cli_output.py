"""How the command line shows things: JSON for scripts, rich tables for people, progress bars.

rich is imported when something is shown, not when the command line starts.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from analytics.results import printable

if TYPE_CHECKING:
    from analytics.store import EventStore
    from tools.base import ToolResult


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr)


def say(text: str, stderr: bool = False, markup: bool = True) -> None:
    """Our own messages (markup allowed); data inside them must come through `data()`."""
    console(stderr).print(text, highlight=False, soft_wrap=True, markup=markup)


def data(text: object) -> str:
    """Data placed inside a message: markup escaped, control characters removed."""
    from rich.markup import escape

    return escape(printable(str(text)))


def print_json(data: Any) -> None:
    from tools.base import serialise, to_json

    if not isinstance(data, (dict, list)):
        data = serialise(data)
    sys.stdout.write(to_json(data))


def home_of(ctx: click.Context) -> str | None:
    root = ctx.find_root()
    return (root.obj or {}).get("home")


def store_of(ctx: click.Context) -> EventStore:
    from analytics.store import EventStore

    return EventStore(home_of(ctx))


def emit_tool_result(result: ToolResult, face: Any, *, as_json: bool = False,
                     chart: str | None = None, csv: str | None = None, md: bool = False,
                     yes: bool = False) -> None:
    """A tool's result as the terminal shows it: --json prints exactly the tool's data."""
    from tools.base import to_json
    from tools.registry import BY_NAME

    typed = result.result
    if chart and result.figure is not None:
        result.figure().write_html(str(chart), include_plotlyjs=True, full_html=True)
    if csv:
        typed.write_csv(csv)
    if as_json:
        sys.stdout.write(to_json(result.data()))
        return
    if md or face.extras == ("md",) and hasattr(typed, "markdown"):
        # A plan reads as the document it is; --md prints it raw, for a file or a pipe.
        if md:
            sys.stdout.write(typed.markdown())
        else:
            console().print(printable(typed.markdown()), markup=False, highlight=False,
                            soft_wrap=True)
        return
    view = BY_NAME[result.tool].view(BY_NAME[result.tool].args.model_validate(result.arguments),
                                     typed)
    out = console()
    if getattr(typed, "summary", ""):
        out.print(printable(typed.summary), markup=False, highlight=False, soft_wrap=True)
    if view.rows:
        from rich.table import Table
        from rich.text import Text

        table = Table(title=Text(printable(view.title)))
        for i, column in enumerate(view.columns):
            numeric = any(isinstance(r[i], (int, float)) for r in view.rows)
            table.add_column(column, justify="right" if numeric else "left")
        for row in view.rows:
            # Cells are data: Text() so that markup in a name is shown, not interpreted.
            table.add_row(*[Text(f"{v:,}" if isinstance(v, int) and not isinstance(v, bool)
                                 else "" if v is None else printable(v)) for v in row])
        out.print(table)
    for line in view.notes:
        out.print(printable(line), markup=False, highlight=False, soft_wrap=True)
    filters = getattr(typed, "filters", None)
    if filters:
        shown = {k: ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v
                 for k, v in filters.items()}
        out.print(printable("Filters: " + "; ".join(f"{k}: {v}" for k, v in shown.items())),
                  markup=False, highlight=False)
    if chart:
        out.print(f"Chart saved to {chart}")
    if csv:
        out.print(f"{len(typed.recommendations):,} rows written to {csv}")


class RowProgress:
    """A rich progress bar driven by the store's (description, done, total) callbacks."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Callable[[str, int, int], None] | None:
        if not self.enabled:
            return None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console(stderr=True), transient=True)
        self._progress.start()
        self._task = self._progress.add_task("Starting", total=None)
        return self.update

    def update(self, description: str, done: int, total: int) -> None:
        if self._progress is None or self._task is None:
            return
        self._progress.update(self._task, description=description, completed=done,
                              total=total or None)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
