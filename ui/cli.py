"""The `journey` command line: the same tools a marketer uses in the app.

The analytic commands are built from the tool specifications (ui/cli_tools.py); the commands
that look after the product are in ui/cli_admin.py. Every command takes --home (or
JOURNEY_HOME) to choose the data folder, and the analytic ones take --json for scripts.
"""

from __future__ import annotations

import click

HELP = ("Journey Agent: see where customers drop off, which paths convert, who churns and why, "
        "from your own event, CRM and feedback exports.\n\n"
        "Start with `journey demo-data` to explore sample data, or load yours with "
        "`journey ingest events my_events.csv`.")


@click.group("journey", help=HELP, no_args_is_help=True,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="journey-agent", prog_name="journey",
                      message="%(prog)s %(version)s")
@click.option("--home", metavar="DIR", default=None,
              help="Folder that holds your data (default: ./.journey, or $JOURNEY_HOME).")
@click.pass_context
def app(ctx: click.Context, home: str | None) -> None:
    from analytics.config import settings

    ctx.obj = {"home": home or settings().home}


def _register() -> None:
    from ui.cli_admin import ADMIN_COMMANDS
    from ui.cli_tools import add_tool_commands

    for command in ADMIN_COMMANDS:
        app.add_command(command)
    add_tool_commands(app)


_register()


def run() -> None:
    """Console entry point: our own errors become a clear message and exit code 2.

    Click keeps handling usage errors (exit 2) and Ctrl-C itself; only JourneyError, which
    carries a message written for the user, is caught here instead of showing a traceback.
    A command that only read the store ends without the interpreter's teardown (freeing every
    module and DuckDB's buffers costs ~0.05 s a run, which scripts calling us in a loop pay);
    anything that wrote, or opened the feedback index, exits the ordinary way.
    """
    import os
    import sys

    from analytics.errors import JourneyError
    from ui import cli_tools

    code: int | str | None = 0
    try:
        app.main(prog_name="journey", standalone_mode=True)
    except JourneyError as exc:
        from ui.cli_output import data, say

        say(f"[bold red]Error:[/] {data(exc)}", stderr=True)
        code = 2
    except Exception as exc:
        # A damaged store or a full disk met somewhere not already wrapped: still a message
        # and exit 2, never a traceback.
        from analytics.store.faults import store_fault
        from ui.cli_output import data, say

        fault = store_fault(exc)
        if fault is None:
            raise
        say(f"[bold red]Error:[/] {data(fault)}", stderr=True)
        code = 2
    except SystemExit as exc:
        code = exc.code
    if cli_tools.read_only_run and isinstance(code, int):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise SystemExit(code)


if __name__ == "__main__":
    run()
