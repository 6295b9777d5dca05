"""How the command line shows things: JSON for scripts, rich tables for people, progress bars,
and errors (as text for people, as one JSON object for scripts).

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


def error_json(message: str, kind: str, *, field: str | None = None, hint: str | None = None,
               **more: Any) -> None:
    """An error as `--json` prints it: one object on stdout, the same keys every time, so that a
    script reads `error.kind` instead of parsing a sentence."""
    import json

    shown = {"message": message, "kind": kind, "field": field, "hint": hint}
    shown.update({k: v for k, v in more.items() if v not in (None, [], {})})
    # tools.base.to_json's format, without importing the tools: a Ctrl-C can come first.
    sys.stdout.write(json.dumps({"error": shown}, indent=2, ensure_ascii=False, default=str)
                     + "\n")


def error_details(exc: BaseException) -> dict[str, Any]:
    """What `--json` says of an error: its kind (the error's class, `usage` for a command line
    that cannot be read, `store` for a store that cannot be used), the argument it names and
    what to do about it, where the error knows them."""
    from analytics.errors import (
        ArgumentError,
        InputFileError,
        StoreBusyError,
        StoreDamagedError,
        StoreError,
        UnknownNameError,
    )

    details: dict[str, Any] = getattr(exc, "details", None) or {}
    if details:
        return dict(details)
    if isinstance(exc, click.UsageError):
        param = getattr(exc, "param", None)  # a missing or bad value names its parameter
        command = exc.ctx.command_path if exc.ctx is not None else "journey"
        return {"kind": "usage",
                # filters__since is the parameter of the field filters.since (ui/cli_tools.py)
                "field": param.name.replace("__", ".") if param and param.name else None,
                "option": param.opts[0] if isinstance(param, click.Option)
                else getattr(exc, "option_name", None),
                "hint": f"see `{command} --help`"}
    if isinstance(exc, click.ClickException):
        return {"kind": "usage"}
    if isinstance(exc, (StoreError, StoreBusyError)):
        return {"kind": "store", "type": type(exc).__name__,
                "tables": exc.tables if isinstance(exc, StoreDamagedError) else None}
    if isinstance(exc, UnknownNameError):
        return {"kind": type(exc).__name__, "name": exc.name, "suggestions": exc.suggestions,
                "hint": f"did you mean: {', '.join(exc.suggestions)}?" if exc.suggestions
                else None}
    if isinstance(exc, ArgumentError):
        return {"kind": type(exc).__name__, "field": exc.field}
    if isinstance(exc, InputFileError):
        return {"kind": type(exc).__name__, "file": exc.file, "row": exc.row,
                "line": exc.line, "column": exc.column, "hint": exc.hint}
    return {"kind": type(exc).__name__}


def print_error(exc: BaseException, as_json: bool) -> None:
    """One of our errors, as a person reads it (stderr) or as `--json` prints it (stdout)."""
    text = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
    if as_json:
        details = error_details(exc)
        error_json(text, details.pop("kind"), **details)
    else:
        say(f"[bold red]Error:[/] {data(text)}", stderr=True)


# What a Ctrl-C means for the command now running (ui.cli prints it): a command whose work is
# one transaction can promise that nothing changed; one that writes in steps says what to do.
interrupt_note = "Interrupted."


def when_interrupted(note: str) -> None:
    global interrupt_note
    interrupt_note = note


def home_of(ctx: click.Context) -> str | None:
    root = ctx.find_root()
    return (root.obj or {}).get("home")


def store_of(ctx: click.Context) -> EventStore:
    from analytics.store import EventStore

    root = ctx.find_root()
    return EventStore(home_of(ctx), engine=(root.obj or {}).get("engine"))


def emit_tool_result(result: ToolResult, face: Any, *, as_json: bool = False,
                     chart: str | None = None, csv: str | None = None, md: bool = False,
                     html: str | None = None, pdf: str | None = None, png: str | None = None,
                     yes: bool = False) -> None:
    """A tool's result as the terminal shows it: --json prints exactly the tool's data."""
    from tools.base import to_json
    from tools.registry import BY_NAME

    typed = result.result
    if chart and result.figure is not None:
        result.figure().write_html(str(chart), include_plotlyjs=True, full_html=True)
    if csv:
        typed.write_csv(csv)
    if html:
        typed.write_html(html)
    if pdf:
        typed.write_pdf(pdf)
    if png:
        typed.write_png(png)
    if as_json:
        sys.stdout.write(to_json(result.data()))
        return
    if md or "md" in face.extras and hasattr(typed, "markdown"):
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
            # A narrow terminal wraps names rather than cutting them: two steps cut to the same
            # "page_v…" could not be told apart.
            table.add_column(column, justify="right" if numeric else "left",
                             overflow="ellipsis" if numeric else "fold")
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
        rows = typed.people if hasattr(typed, "people_at") else typed.recommendations
        out.print(f"{len(rows):,} rows written to {csv}")


class RowProgress:
    """A rich progress bar on stderr driven by (description, done, total) callbacks (total 0:
    not known), from a load or a long analytic. Only on a terminal: a pipe or a file gets none.

    The bar appears at the first callback, so a quick command shows nothing. One that reports
    nothing of its own (a single long query) shows `waiting` and the time elapsed once it has
    run `WAIT_S`, so that no command sits silent for minutes."""

    WAIT_S = 1.0

    def __init__(self, enabled: bool = True, waiting: str | None = None) -> None:
        import threading

        self.enabled = enabled and sys.stderr.isatty()
        self._progress: Any = None
        self._task: Any = None
        # The timer's thread and the command's both call update(): one at a time.
        self._lock = threading.Lock()
        self._closed = False
        self._timer = (threading.Timer(self.WAIT_S, self._waited, [waiting])
                       if self.enabled and waiting else None)

    def __enter__(self) -> Callable[[str, int, int], None] | None:
        if self._timer is not None:
            self._timer.daemon = True
            self._timer.start()
        return self.update if self.enabled else None

    def _waited(self, waiting: str) -> None:
        if self._progress is None:
            self.update(waiting, 0, 0)

    def update(self, description: str, done: int, total: int) -> None:
        with self._lock:
            if self._closed:
                return
            if self._progress is None:
                from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

                self._progress = Progress(
                    TextColumn("{task.description}"), BarColumn(), _counts_column(),
                    TimeElapsedColumn(), console=console(stderr=True), transient=True)
                self._task = self._progress.add_task(description, completed=done,
                                                     total=total or None)
                self._progress.start()
                return
            self._progress.update(self._task, description=description, completed=done,
                                  total=total or None)
            if not total:  # rich's update keeps the old total when given None: a new
                self._progress.tasks[0].total = None  # phase's is not known yet

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            self._closed = True
            if self._progress is not None:
                self._progress.stop()
                self._progress = None


def _counts_column() -> Any:
    """'1,200/55,000', as the rest of the command line writes numbers (rich's own column has
    no thousands separators); nothing while the total is not known."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class Counts(ProgressColumn):
        def render(self, task: Any) -> Text:
            if task.total is None:
                return Text(f"{int(task.completed):,}" if task.completed else "")
            return Text(f"{int(task.completed):,}/{int(task.total):,}", style="progress.download")

    return Counts()
