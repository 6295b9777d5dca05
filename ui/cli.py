"""The `journey` command line: the same tools a marketer uses in the app.

The analytic commands are built from the tool specifications (ui/cli_tools.py); the commands
that look after the product are in ui/cli_admin.py. Every command takes --home (or
JOURNEY_HOME) to choose the data folder, and every command that prints a result takes --json
for scripts. With --json anywhere on the line, an error is one JSON object on stdout too.
A Ctrl-C prints one line and exits 130, whatever was running.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

HELP = ("Journey Agent: see where customers drop off, which paths convert, who churns and why, "
        "from your own event, CRM and feedback exports.\n\n"
        "Start with `journey demo-data` to explore sample data, or load yours with "
        "`journey ingest events my_events.csv`.")


class _Interrupted(BaseException):
    """A Ctrl-C on its way out of a command. Not a KeyboardInterrupt, which click catches to
    print a blank line and 'Aborted!' before `run` could say what the interruption left."""


class JourneyGroup(click.Group):
    """The top-level group. Its commands are added on first use, not at import: importing them
    (the tools, pydantic) is most of the start-up, and `run` takes Ctrl-C in hand first."""

    _added = False

    @property  # type: ignore[override]
    def commands(self) -> dict[str, click.Command]:
        if not self._added:
            self._added = True
            _register(self)
        return self._commands

    @commands.setter
    def commands(self, value: dict[str, click.Command]) -> None:
        self._commands = value

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise _Interrupted from exc


@click.group("journey", cls=JourneyGroup, help=HELP, no_args_is_help=True,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="journey-agent", prog_name="journey",
                      message="%(prog)s %(version)s")
@click.option("--home", metavar="DIR", default=None,
              help="Folder that holds your data (default: ./.journey, or $JOURNEY_HOME).")
@click.option("--engine", type=click.Choice(["duckdb", "spark", "clickhouse"]), default=None,
              help="Where read-only analytics run: duckdb (the store), spark or clickhouse "
                   "(default: $JOURNEY_ENGINE, else engine.toml in the data folder, else duckdb).")
@click.pass_context
def app(ctx: click.Context, home: str | None, engine: str | None) -> None:
    from analytics.config import settings

    ctx.obj = {"home": home or settings().home, "engine": engine}


def _register(group: click.Group) -> None:
    from ui.cli_admin import ADMIN_COMMANDS
    from ui.cli_tools import add_tool_commands

    for command in ADMIN_COMMANDS:
        group.add_command(command)
    add_tool_commands(group)


class CtrlC:
    """The SIGINT handler of one run: counts the presses and says, once, what they left.

    The first press raises KeyboardInterrupt, as Python's own handler does, so that a load
    rolls back and every `finally` runs. It is also remembered, because what ends the command
    is not always a KeyboardInterrupt: DuckDB, stopped in the middle of a query, raises its own
    error instead ('Query interrupted', a RuntimeError in duckdb 2.0; InterruptException, which
    the store's reader reports as a time-out, in others). A second press while that clean-up
    runs ends the process at once (DuckDB never keeps a transaction that was not committed),
    and so does a press once the command has finished: there is nothing left to stop.
    """

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.presses = 0
        self.reported = False
        self.finished = False

    def __call__(self, signum: int, frame: object) -> None:
        self.presses += 1
        if self.presses == 1 and not self.finished:
            raise KeyboardInterrupt
        self.report()
        os._exit(130)

    def unraisable(self, unraisable: Any) -> None:
        """A press that landed inside a destructor (a subprocess object collected at that very
        moment): Python cannot raise it there and would print a traceback and go on. It still
        ends the command, with the one line."""
        if issubclass(unraisable.exc_type, KeyboardInterrupt):
            self.report()
            os._exit(130)
            return
        sys.__unraisablehook__(unraisable)

    def report(self) -> int:
        """One line on stderr (and with --json the same as a JSON error); exit code 130."""
        if not self.reported:
            self.reported = True
            from ui import cli_output

            note = cli_output.interrupt_note
            try:
                if self.as_json:
                    cli_output.error_json(note, "interrupted")
                    sys.stdout.flush()
                # The real stderr: a progress bar still drawn (a second press) has put its
                # own in its place. On a terminal the line goes over the ^C the terminal
                # echoed (or that bar), and the cursor the bar hid comes back.
                err = sys.__stderr__ or sys.stderr
                tty = err.isatty()
                err.write(("\r\x1b[2K" if tty else "") + note + "\n" + ("\x1b[?25h" if tty else ""))
                err.flush()
            except Exception:  # a closed pipe, say: the exit code still tells, never a traceback
                pass
        return 130


def run() -> None:
    """Console entry point: every ending is ours to say, in text or (with --json) in JSON.

    Our own errors (JourneyError, with a message written for the user) and a store that
    cannot be used exit 2 without a traceback; click's usage errors keep their message and
    exit code (2); a Ctrl-C exits 130 (`CtrlC`). A command that only read the store ends
    without the interpreter's teardown (freeing every module and DuckDB's buffers costs
    ~0.05 s a run, which scripts calling us in a loop pay); anything that wrote, or opened the
    feedback index, exits the ordinary way.
    """
    import atexit
    import signal

    args = sys.argv[1:]
    before_dashes = args[:args.index("--")] if "--" in args else args
    as_json = "--json" in before_dashes
    ctrl_c = CtrlC(as_json)
    # Not where Ctrl-C is ignored (`journey ... &` in a script), nor off the main thread.
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        try:
            signal.signal(signal.SIGINT, ctrl_c)
            sys.unraisablehook = ctrl_c.unraisable
            # Registered first, so run last: Python's very last steps restore the default
            # handler, under which a press would kill the process without a word.
            atexit.register(signal.signal, signal.SIGINT, signal.SIG_IGN)
        except ValueError:
            pass
    from ui import cli_tools

    # Both flags describe this run only: run() is also called inside a process that goes on
    # (a test run), where a flag left from an earlier command ended that process with
    # os._exit and readers left open held the store's lock.
    cli_tools.read_only_run = False
    cli_tools.one_shot_process = True
    try:
        code = _main(args, as_json, ctrl_c)
    finally:
        cli_tools.one_shot_process = False
    if ctrl_c.presses:  # a Ctrl-C that a command caught itself (a server stopping) ends so too
        code = ctrl_c.report()
    else:
        from ui.cli_output import when_interrupted

        when_interrupted("Interrupted after the command had finished.")
    if cli_tools.read_only_run and isinstance(code, int):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    connection = sys.modules.get("analytics.store.connection")  # not imported for --help
    if connection is not None:
        connection.close_readers_left_open()
    raise SystemExit(code)


def _main(args: list[str], as_json: bool, ctrl_c: CtrlC) -> int | str | None:
    """Run the command; the exit code, after saying what went wrong if something did."""
    try:
        try:
            done = app.main(args=args, prog_name="journey", standalone_mode=False)
            return done if isinstance(done, int) else 0  # an int is --help's or --version's 0
        finally:
            ctrl_c.finished = True  # from here on a press has nothing to stop: it ends at once
    except SystemExit as exc:
        return ctrl_c.report() if ctrl_c.presses else exc.code
    except BaseException as exc:
        # Checked first: after a Ctrl-C, whatever error it turned into is not the story.
        if ctrl_c.presses or isinstance(exc, (KeyboardInterrupt, _Interrupted)):
            return ctrl_c.report()
        code = _failure(exc, as_json)
        if code is None:
            raise
        return code


def _failure(exc: BaseException, as_json: bool) -> int | None:
    """Say what went wrong; the exit code, or None for a bug (its traceback is shown)."""
    from analytics.errors import JourneyError
    from ui.cli_output import error_json, print_error

    if isinstance(exc, JourneyError):
        print_error(exc, as_json)
        return 2
    if isinstance(exc, click.exceptions.Abort):  # no to a question, or no answer to read
        if as_json:
            error_json("Aborted.", "aborted")
        else:
            click.echo("Aborted!", err=True)
        return 1
    if isinstance(exc, click.ClickException):
        if as_json:
            print_error(exc, as_json)
        else:
            exc.show()
        return exc.exit_code
    if isinstance(exc, Exception):
        # A damaged store or a full disk met somewhere not already wrapped: still a message
        # and exit 2, never a traceback.
        from analytics.store.faults import store_fault

        fault = store_fault(exc)
        if fault is not None:
            print_error(fault, as_json)
            return 2
        if as_json:  # a bug: the script still reads an error; the traceback follows on stderr
            error_json(f"{type(exc).__name__}: {exc}", "internal")
    return None


if __name__ == "__main__":
    run()
