"""The `journey` command line: the same store and analytics a marketer uses in the app.

Every command takes --home (or JOURNEY_HOME) to choose the data folder, and most take --json
so analysts can script them.
"""

from __future__ import annotations

import os
from typing import Optional

import typer

from analytics.errors import JourneyError
from ui.cli_output import err_console

app = typer.Typer(
    name="journey",
    help=(
        "Journey Agent: see where customers drop off, which paths convert, who churns and why, "
        "from your own event, CRM and feedback exports.\n\n"
        "Start with `journey demo-data` to explore sample data, or load yours with "
        "`journey ingest events my_events.csv`."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    ctx: typer.Context,
    home: Optional[str] = typer.Option(
        None, "--home", metavar="DIR",
        help="Folder that holds your data (default: ./.journey, or $JOURNEY_HOME).",
    ),
) -> None:
    ctx.obj = {"home": home or os.environ.get("JOURNEY_HOME")}


def run() -> None:
    """Console entry point: turn our own errors into a clear message and a non-zero exit.

    Typer keeps handling usage errors (exit 2) and Ctrl-C itself; only JourneyError, which
    carries a message written for the user, is caught here instead of showing a traceback.
    """
    try:
        app()
    except JourneyError as exc:
        err_console.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
        raise SystemExit(2) from None


# Command modules register themselves on `app` when imported.
from ui import (cli_agent, cli_analytics, cli_doctor, cli_feedback, cli_models,  # noqa: E402,F401
                cli_plan, cli_store)
