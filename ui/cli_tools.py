"""The command line's analytic commands, built from the tool specifications.

Names, help, defaults and validation come from each tool's argument model; this module only
says how the command line spells a tool (its command words, which fields are positional, flag
names that differ from the field's, which fields name a file to read) and adds what only a
terminal has: `--json`, `--chart FILE.html`, and a few export options. A command calls the
tool and nothing else, so `journey X --json` prints the tool's own result, byte for byte.
"""

from __future__ import annotations

import datetime as dt
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from analytics.errors import JourneyError
from tools.registry import BY_NAME, ToolSpec

# Set when the command that ran was a tool that read the store and touched nothing else (no
# write, no feedback index): the entry point may then skip the interpreter's teardown.
read_only_run = False
# Set by the console entry point (ui.cli.run) only: the process ends after this one command.
# The same commands run in a long-lived process too (CliRunner, a test run, an embedding app),
# where a reader left open would hold the store's lock against every other process.
one_shot_process = False


@dataclass(frozen=True)
class CliFace:
    words: tuple[str, ...]  # the command, e.g. ("feedback", "search")
    arguments: tuple[str, ...] = ()  # fields given positionally, in order
    flags: dict[str, str] = field(default_factory=dict)  # field -> flag, where not --field-name
    files: tuple[str, ...] = ()  # fields whose text is read from a file (or - for stdin)
    extras: tuple[str, ...] = ()  # terminal-only options: csv, md, html, pdf, png, yes


CLI: dict[str, CliFace] = {
    "describe_data": CliFace(("status",)),
    "journey_model": CliFace(("model",)),
    "set_journey_model": CliFace(("model", "set"), ("part", "events")),
    "funnel": CliFace(("funnel",), ("steps",), {"window_days": "--window"}, extras=("csv",)),
    "event_counts": CliFace(("count",), ("event",)),
    "journey_map": CliFace(("map",), ("steps",), {"compare_by": "--compare"},
                           extras=("html", "png", "pdf")),
    "paths": CliFace(("paths",), flags={"from_event": "--from", "to_event": "--to",
                                        "conversion_event": "--conversion",
                                        "before_event": "--before", "funnel_steps": "--funnel",
                                        "by_session": "--sessions"}),
    "transitions": CliFace(("transitions",)),
    "match": CliFace(("match",), ("pattern",), {"conversion_event": "--conversion"}),
    "next_steps": CliFace(("next",), ("after",)),
    "moments": CliFace(("moments",), flags={"within_days": "--within"}),
    "segments": CliFace(("segments",), flags={"conversion_event": "--conversion"}),
    "churn": CliFace(("churn",)),
    "p_alive": CliFace(("p-alive",), ("purchase_event",)),
    "next_best_action": CliFace(("next-best-action",), ("customer_id",), extras=("csv",)),
    "retention": CliFace(("retention",)),
    "sessions": CliFace(("sessions",)),
    "time_to_value": CliFace(("time-to-value",), ("to_event",),
                             {"from_event": "--from", "within_days": "--within"}),
    "attribution": CliFace(("attribution",), flags={"conversion_event": "--conversion"}),
    "anomalies": CliFace(("anomalies",), ("steps",)),
    "feedback_search": CliFace(("feedback", "search"), ("query",), {"k": "-k"}),
    "themes": CliFace(("feedback", "themes")),
    "friction": CliFace(("friction",), ("step",), {"next_step": "--next"}),
    "diagnose": CliFace(("diagnose",), ("metrics_text",), {"business_model": "--model"},
                        files=("metrics_text",)),
    "plan": CliFace(("plan",), flags={"metrics_text": "--metrics", "business_model": "--model"},
                    files=("metrics_text",), extras=("md", "html", "pdf")),
    "ingest": CliFace(("ingest",), ("kind", "paths"), {"mapping": "--map"}),
    "forget": CliFace(("forget",), ("customer_id",), extras=("yes",)),
}


@dataclass(frozen=True)
class Param:
    """One field of an argument model (nested filters flattened) as the command line has it."""

    path: tuple[str, ...]  # ("filters", "since")
    info: FieldInfo
    spelling: str  # --since, -k, or STEPS for a positional argument
    positional: bool

    @property
    def dest(self) -> str:
        return "__".join(self.path)

    def shown(self, face: CliFace) -> str:
        """As --help and the README show it: a positional that names a file reads FILE."""
        return "FILE" if self.positional and self.path[-1] in face.files else self.spelling


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(inner type, optional?) of Optional[X] / Annotated[X, ...]."""
    optional = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            optional = optional or len(args) < len(typing.get_args(annotation))
            annotation = args[0]
        else:
            return annotation, optional


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def params_of(spec: ToolSpec) -> list[Param]:
    face = CLI[spec.name]
    out: list[Param] = []

    def walk(model: type[BaseModel], prefix: tuple[str, ...]) -> None:
        for name, info in model.model_fields.items():
            inner, _ = _unwrap(info.annotation)
            if _is_model(inner):
                walk(inner, prefix + (name,))
                continue
            positional = not prefix and name in face.arguments
            spelling = (name.upper() if positional
                        else face.flags.get(name, "--" + name.replace("_", "-")))
            out.append(Param(prefix + (name,), info, spelling, positional))

    walk(spec.args, ())
    order = {name: i for i, name in enumerate(face.arguments)}
    return sorted(out, key=lambda p: (not p.positional, order.get(p.path[-1], 0)))


def flag_of(spec: ToolSpec, field_path: str) -> str:
    """How the command line spells a field named in an error (`filters.since` -> --since)."""
    parts = tuple(field_path.split("."))
    for p in params_of(spec):
        if p.path == parts or p.path[-1] == parts[-1]:
            return p.spelling
    return field_path


def _is_duration(annotation: Any) -> bool:
    """A `Days` field (tools.base): typed as days or as 14d, 12h, 2w."""
    from tools.base import Days

    if annotation == Days:
        return True
    return any(_is_duration(a) for a in typing.get_args(annotation))


def _metavar(annotation: Any, info: FieldInfo) -> str:
    if _is_duration(annotation):
        return "DURATION"
    inner, _ = _unwrap(annotation)
    if typing.get_origin(inner) in (list, tuple):
        inner = typing.get_args(inner)[0]
    return {int: "INTEGER", float: "NUMBER", dt.date: "YYYY-MM-DD"}.get(inner, "TEXT")


def _default_text(info: FieldInfo) -> str:
    if info.is_required():
        return ""
    default = info.get_default(call_default_factory=True)
    if default in (None, [], {}, ()):
        return ""
    return f" [default: {str(default).lower() if isinstance(default, bool) else default}]"


def click_param(param: Param, face: CliFace) -> click.Parameter:
    info = param.info
    inner, optional = _unwrap(info.annotation)
    many = typing.get_origin(inner) in (list, tuple, dict) or inner is dict
    help_text = (info.description or "") + _default_text(info)
    if param.path[-1] in face.files:
        help_text = help_text.replace("exactly as the user pasted them", "from a file, or - "
                                      "for standard input") + " (a file, or - to read stdin)"
    if param.positional:
        required = info.is_required()
        metavar = param.shown(face) + ("..." if many else "")
        return click.Argument([param.dest], nargs=-1 if many else 1, required=required,
                              metavar=metavar if required else f"[{metavar}]")
    if inner is bool:
        name = param.spelling.removeprefix("--")
        return click.Option([f"--{name}/--no-{name}", param.dest], default=None,
                            help=help_text)
    literal = typing.get_args(inner) if typing.get_origin(inner) is typing.Literal else None
    kind = click.Choice(literal) if literal else click.STRING
    if dict in (inner, typing.get_origin(inner)):
        metavar = "COLUMN=FIELD,..." if param.path[-1] == "mapping" else "ATTRIBUTE=VALUE"
    else:
        metavar = None if literal else _metavar(info.annotation, info)
    return click.Option([param.spelling, param.dest], type=kind, multiple=many,
                        required=info.is_required(), metavar=metavar, help=help_text)


def _read_text(source: str) -> str:
    from analytics.diagnosis.parser import MAX_CHARS

    if source == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise JourneyError("Paste the metrics into standard input, or name a file")
        return sys.stdin.read(MAX_CHARS + 1)
    path = Path(source)
    if not path.is_file():
        raise JourneyError(f"{source}: file not found")
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        text = handle.read(MAX_CHARS + 1)
    if not text.strip():
        raise JourneyError(f"Nothing to read in {source}: write one stage per line, e.g. "
                           "'Awareness: 12,000 visitors/month'")
    return text


def arguments_from(spec: ToolSpec, values: dict[str, Any], ctx: click.Context) -> dict:
    """The tool's arguments from what was typed: only what the user gave, so every default
    stays the argument model's own."""
    face = CLI[spec.name]
    arguments: dict[str, Any] = {}
    for p in params_of(spec):
        value = values.get(p.dest)
        source = ctx.get_parameter_source(p.dest)
        if value is None or value == () or source == click.core.ParameterSource.DEFAULT:
            continue
        if isinstance(value, tuple):
            value = list(value)
        if p.path[-1] in face.files:
            value = _read_text(value)
        target = arguments
        for part in p.path[:-1]:
            target = target.setdefault(part, {})
        target[p.path[-1]] = value
    return arguments


def build_command(spec: ToolSpec) -> click.Command:
    from ui.cli_output import emit_tool_result

    face = CLI[spec.name]
    params = [click_param(p, face) for p in params_of(spec)]
    params.append(click.Option(["--json", "as_json"], is_flag=True,
                               help="Print the full result as JSON."))
    if spec.chart:
        params.append(click.Option(["--chart"], metavar="FILE.html", default=None,
                                   help="Also save the chart as a standalone HTML file."))
    if "csv" in face.extras:
        params.append(click.Option(["--csv"], metavar="FILE", default=None,
                                   help="Write the whole list for a CRM or email tool import."))
    if "md" in face.extras:
        params.append(click.Option(["--md"], is_flag=True,
                                   help="Print Markdown to paste into a document."))
    if "html" in face.extras:
        params.append(click.Option(["--html"], metavar="FILE.html", default=None,
                                   help="Also save the document as a standalone HTML file."))
    if "png" in face.extras:
        params.append(click.Option(["--png"], metavar="FILE.png", default=None,
                                   help="Also save the map as a PNG (drawn by the system's "
                                        "Chromium)."))
    if "pdf" in face.extras:
        params.append(click.Option(["--pdf"], metavar="FILE.pdf", default=None,
                                   help="Also save the document as a PDF."))
    if "yes" in face.extras:
        params.append(click.Option(["--yes"], is_flag=True, help="Do not ask for confirmation."))

    @click.pass_context
    def callback(ctx: click.Context, **values: Any) -> None:
        from tools.base import ToolContext
        from ui.cli_output import RowProgress, error_json, store_of, when_interrupted

        extras = {k: values.pop(k, None) for k in ("as_json", "chart", "csv", "md", "html", "pdf",
                                                   "png", "yes")}
        arguments = arguments_from(spec, values, ctx)
        if spec.name == "funnel" and extras.get("csv") and arguments.get("people") is None:
            # A funnel's list is the people behind one step: which step, before any work.
            raise click.UsageError("--csv writes the people behind a step: add --people N "
                                   "(and --people-who dropped for those who left there)")
        if "yes" in face.extras and not extras["yes"]:
            shown = " ".join(str(v) for v in arguments.values())
            when_interrupted("Interrupted: nothing was changed.")
            # With --json the question goes to stderr: stdout holds only the JSON.
            if not click.confirm(f"{spec.name.capitalize()} {shown}: this cannot be undone. "
                                 "Go ahead?", default=False, err=bool(extras["as_json"])):
                if extras["as_json"]:
                    error_json("Not confirmed: nothing was changed.", "not_confirmed",
                               hint="add --yes to go ahead without the question")
                raise SystemExit(1)
        during, after = INTERRUPTED_WRITE.get(spec.name, ("Interrupted.", "Interrupted."))
        when_interrupted(during)
        tools = ToolContext(store_of(ctx))
        from analytics.store.accounts import machine_user
        from tools.registry import call_tool

        if one_shot_process and not spec.writes:
            from analytics.store.connection import leave_readers_open

            leave_readers_open()  # this process ends after the command (see ui.cli.run)

        # Loads and the long analytics report how far they are (on a terminal, never into JSON).
        with RowProgress(enabled=not extras["as_json"],
                         waiting=f"journey {' '.join(face.words)}: working") as progress:
            tools.progress = progress
            result = call_tool(tools, spec.name, arguments, machine_user("command line"))
        if not result.ok:
            raise CommandError(spell_error(spec, result),
                               command_error_details(spec, result, arguments))
        when_interrupted(after)
        emit_tool_result(result, CLI[spec.name], **extras)
        if spec.name == "ingest" and nothing_loaded(result.result):
            # Not a success for a script either: every row was bad (the report says why).
            from ui.cli_output import say

            say("[bold red]Error:[/] every row was rejected, nothing was loaded; see the "
                "reasons above and the rejects file.", stderr=True)
            raise SystemExit(2)
        global read_only_run
        read_only_run = not spec.writes and tools.index_opened is False

    help_text = spec.description
    return click.Command(face.words[-1], params=params, callback=callback, help=help_text,
                         short_help=spec.summary, no_args_is_help=bool(face.arguments) and any(
                             p.info.is_required() for p in params_of(spec) if p.positional))


# What a Ctrl-C leaves of a write, while the tool runs and once it has returned: a load is one
# transaction (analytics/store/ingest.py rolls it back); an erasure commits the store first,
# then clears the feedback index, so only running it again is sure to finish it.
INTERRUPTED_WRITE = {
    "ingest": ("Interrupted: nothing was changed.",
               "Interrupted after the load had finished: the data were loaded."),
    "forget": ("Interrupted: run the same `journey forget` again to be sure the customer is "
               "erased everywhere.", "Interrupted after the erasure had finished."),
}


class CommandError(JourneyError):
    """A tool's complaint as the command line says it (fields spelled as flags), with what
    `--json` reports of it: the original error's kind, its field, a hint."""

    def __init__(self, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.details = details


def command_error_details(spec: ToolSpec, result: Any, arguments: dict) -> dict[str, Any]:
    """The `--json` error of a tool that refused: the field as the argument model names it
    (`window_days`, `filters.since`) and as the command line spells it (`--window`)."""
    from analytics.errors import UnknownNameError
    from ui.cli_output import error_details

    error = result.error
    details: dict[str, Any] = (error_details(error) if error is not None
                               else {"kind": "JourneyError"})
    if isinstance(error, UnknownNameError):
        details["field"] = field_holding(arguments, error.name)
    flag = flag_of(spec, details["field"]) if details.get("field") else ""
    if flag.startswith("-"):  # not for a positional argument: it has no flag to name
        details["option"] = flag
    suggest = getattr(error, "suggest", None)
    if suggest:
        details["hint"] = "; ".join(filter(None, [
            details.get("hint"), f"use {flag_of(spec, suggest[0])} {suggest[1]}"]))
    return details


def field_holding(arguments: dict, name: str, prefix: str = "") -> str | None:
    """Which of the typed arguments holds `name` (`steps` for an unknown step): an unknown name
    does not know which argument it came from."""
    for key, value in arguments.items():
        if isinstance(value, dict):
            found = field_holding(value, name, f"{prefix}{key}.")
            if found:
                return found
        elif value == name or (isinstance(value, list) and name in value):
            return prefix + key
    return None


def nothing_loaded(report: Any) -> bool:
    """A load that read rows and rejected every one it could have loaded (identify calls, read
    only to link people, do not count as loaded)."""
    files = getattr(report, "files", [])
    return bool(files) and all(f.rows_rejected > 0 and f.rows_loaded == 0
                               and f.rows_already_loaded == 0 for f in files)


def spell_error(spec: ToolSpec, result: Any) -> str:
    """A tool's complaint as the command line says it: fields become flags."""
    from analytics.errors import ArgumentError

    error = result.error
    if isinstance(error, ArgumentError):
        return f"{flag_of(spec, error.field)}: {error.problem}"
    suggest = getattr(error, "suggest", None)
    if suggest:
        return f"{error} (use {flag_of(spec, suggest[0])} {suggest[1]})"
    return str(error) if error is not None else result.content


def _command_group(command: click.Command) -> click.Group:
    """A command that also has subcommands: run alone, it is the command."""
    def callback(**values: Any) -> None:
        if click.get_current_context().invoked_subcommand is None:
            command.callback(**values)  # type: ignore[misc]

    return click.Group(command.name, params=command.params, callback=callback,
                       invoke_without_command=True, help=command.help,
                       short_help=command.short_help)


def add_tool_commands(group: click.Group) -> None:
    subgroups: dict[str, click.Group] = {}
    for name, spec in BY_NAME.items():
        words = CLI[name].words
        command = build_command(spec)
        if len(words) == 1:
            group.add_command(command)
            continue
        parent = subgroups.get(words[0]) or group.commands.get(words[0])
        if parent is not None and not isinstance(parent, click.Group):
            parent = _command_group(parent)  # `journey model` shows; `journey model set` sets
            group.add_command(parent)
        if parent is None:
            parent = click.Group(words[0], help=f"{words[0].capitalize()} commands.")
            group.add_command(parent)
        subgroups[words[0]] = parent  # type: ignore[assignment]
        parent.add_command(command)  # type: ignore[union-attr]
