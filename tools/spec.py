"""A tool's specification, and the one function that runs a tool for every face.

The command line, the web app, the offline planner, the LLM agent and the MCP server all call
`call_tool` (or a `Session`, which adds result ids): arguments are validated by the tool's
argument model, user-fixable problems come back as a result that is not ok and carries the
error, and the typed result is kept as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from analytics.errors import ArgumentError, JourneyError, UnknownNameError
from analytics.store.accounts import LOCAL, Actor
from tools.base import TableView, ToolContext, ToolResult, model_text


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str  # written for a model: when to use the tool
    args: type[BaseModel]
    run: Callable[[ToolContext, Any], Any]  # -> the analytic's typed result
    view: Callable[[Any, Any], TableView]  # (args, result) -> how it reads as a table
    writes: bool = False  # changes the store: offered by MCP only with --allow-writes
    cached: bool = False  # a trained model: reused while the data stay the same
    chart: bool = True  # whether its result draws a chart
    # The least role that may run it (analytics/store/accounts.py): writes need more than
    # looking does. What a write's audit line says of it (never personal data): (args, result
    # or None when it failed) -> details.
    role: str = "viewer"
    audit: Callable[[Any, Any], dict] | None = None
    doing: str = ""  # the write as a refusal names it: "Loading data", "Erasing a customer"

    @property
    def summary(self) -> str:
        """The first sentence of the description, for command lists."""
        return self.description.split(". ")[0].rstrip(".") + "."


def validation_error(exc: ValidationError, model: type[BaseModel] | None = None
                     ) -> ArgumentError:
    """Pydantic's first complaint as an ArgumentError naming the field (`filters.since`)."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"] if not isinstance(p, int)) or "arguments"
    message = first["msg"].removeprefix("Value error, ")
    kind, ctx, given = first["type"], first.get("ctx", {}), first.get("input")
    # Pydantic's wording, said the way a person would.
    plain = {
        "missing": "is required",
        "too_short": f"give at least {ctx.get('min_length')}",
        "too_long": f"give at most {ctx.get('max_length')}",
        "string_too_long": f"is longer than {ctx.get('max_length')} characters",
        "string_too_short": "is empty",
        "literal_error": f"'{given}' is not one of {ctx.get('expected')}",
        "date_from_datetime_parsing": f"'{given}' is not a date "
                                      f"({ctx.get('error', 'not YYYY-MM-DD')}); "
                                      "write YYYY-MM-DD",
        "date_parsing": f"'{given}' is not a date; write YYYY-MM-DD",
        "extra_forbidden": "is not an argument of this tool",
        "date_type": f"'{given}' is not a date; write YYYY-MM-DD",
        "int_parsing": f"'{given}' is not a whole number",
        "float_parsing": f"'{given}' is not a number",
        "greater_than_equal": f"must be at least {ctx.get('ge')}",
        "greater_than": f"must be more than {ctx.get('gt')}",
        "less_than_equal": f"must be at most {ctx.get('le')}",
        "string_pattern_mismatch": f"'{given}' is not in the expected form",
    }
    message = plain.get(kind, message)
    if kind == "extra_forbidden" and model is not None:
        from analytics.catalog import closest

        known = closest(where.split(".")[-1], list(model.model_fields))
        message += f" (its arguments include {', '.join(known)})" if known else ""
    return ArgumentError(where, message[:1].lower() + message[1:])


def invalid(spec_name: str, arguments: dict, error: JourneyError) -> ToolResult:
    if isinstance(error, UnknownNameError):
        suggestions = ", ".join(error.suggestions) if error.suggestions else "none close"
        text = (f"Unknown {error.kind} '{error.name}'. Closest valid names: {suggestions}. "
                "Call the tool again with one of them.")
    elif isinstance(error, ArgumentError):
        text = f"Invalid arguments for {spec_name}: {error}"
    else:
        text = f"Cannot run: {error}"
        suggest = getattr(error, "suggest", None)
        if suggest:
            text += f" (to do that, call again with {suggest[0]}={suggest[1]!r})"
    return ToolResult(spec_name, arguments, content=text, ok=False, error=error)


def run_spec(spec: ToolSpec, ctx: ToolContext, arguments: dict, actor: Actor = LOCAL
             ) -> ToolResult:
    """Run a tool for `actor` (the person at the machine unless a face says who signed in).
    A role too low for the tool is refused before anything is read; every write is audited,
    refused or not."""
    if not actor.may(spec.role):
        error = actor.refusal(spec.role, spec.doing or f"The {spec.name} tool")
        if spec.writes:
            _audit(spec, ctx, actor, None, None, failed="role too low")
        return invalid(spec.name, arguments, error)
    try:
        args = spec.args.model_validate(arguments)
    except ValidationError as exc:
        return invalid(spec.name, arguments, validation_error(exc, spec.args))
    if spec.writes:
        return _run_write(spec, ctx, args, actor)
    return _run(spec, ctx, args)


def _run_write(spec: ToolSpec, ctx: ToolContext, args: Any, actor: Actor) -> ToolResult:
    try:
        result = _run(spec, ctx, args)
    except BaseException as exc:
        _audit(spec, ctx, actor, args, None, failed=type(exc).__name__)
        raise
    if result.ok:
        _audit(spec, ctx, actor, args, result.result)
        ctx.forget_cache()  # what was loaded or cached described the data before the write
    else:
        _audit(spec, ctx, actor, args, None, failed=type(result.error).__name__)
    return result


def _audit(spec: ToolSpec, ctx: ToolContext, actor: Actor, args: Any, result: Any,
           failed: str | None = None) -> None:
    """One line in the audit log; a refused or failed write says why by kind only (a message
    could quote the id it was asked to erase)."""
    from analytics.store.audit import record

    detail = spec.audit(args, result) if spec.audit and args is not None else {}
    if failed:
        detail["failed"] = failed
    record(ctx.store.home, actor.name, actor.role, spec.name, ok=failed is None,
           detail=detail)


def _run(spec: ToolSpec, ctx: ToolContext, args: Any) -> ToolResult:
    dumped = args.model_dump(mode="json")
    key = (spec.name, args.model_dump_json()) if spec.cached else None
    try:
        if key is not None and key in ctx.cache:
            result = ctx.cache[key]
        else:
            result = spec.run(ctx, args)
            if key is not None:
                ctx.cache[key] = result
        text = model_text(result, spec.view(args, result))
    except JourneyError as exc:
        return invalid(spec.name, dumped, exc)
    return ToolResult(spec.name, dumped, result=result, content=text)
