"""Errors a user can cause. Each message says what to fix."""

from __future__ import annotations


class JourneyError(Exception):
    """Base class: anything the user can fix (bad file, wrong name, busy store)."""


class InputFileError(JourneyError):
    """A file to ingest cannot be used as it is.

    Carries the file and, where it applies, the row (1-based data row, header excluded),
    the column and the offending value, so the message can point at the exact cell.
    `suggest` is an argument and value that would get past the problem (("on_error", "skip")):
    the message says it in plain words and each face adds its own spelling of the option.
    """

    def __init__(
        self,
        file: str,
        problem: str,
        *,
        row: int | None = None,
        line: int | None = None,
        column: str | None = None,
        value: object = None,
        hint: str | None = None,
        suggest: tuple[str, str] | None = None,
    ) -> None:
        self.suggest = suggest
        self.file = file
        self.problem = problem
        self.row = row
        self.line = line
        self.column = column
        self.value = value
        self.hint = hint
        where = [f"{file}"]
        if row is not None:
            where.append(f"row {row}" + (f" (line {line})" if line is not None else ""))
        elif line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column '{column}'")
        message = f"{', '.join(where)}: {problem}"
        if value is not None:
            shown = str(value)
            if len(shown) > 80:
                shown = shown[:77] + "..."
            message += f" (value: {shown!r})"
        if hint:
            message += f". {hint}"
        super().__init__(message)


class StoreBusyError(JourneyError):
    """Another process holds the store for writing."""


class StoreError(JourneyError):
    """The store cannot be opened or is not what we expect."""


class UnknownNameError(JourneyError):
    """A stage, event or attribute name that the store does not know."""

    def __init__(self, kind: str, name: str, suggestions: list[str]) -> None:
        self.kind = kind
        self.name = name
        self.suggestions = suggestions
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"Unknown {kind} '{name}'.{hint}")


class ArgumentError(JourneyError):
    """A value the user gave for a named argument cannot be used.

    `field` is the argument's name in the tool's argument model (`order`, `window_days`,
    `filters.since`); each face spells it its own way (`--order` on the command line, `order`
    over MCP, "the order" in chat), so the message itself never names a flag.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class StoreDamagedError(StoreError):
    """The store's file fails DuckDB's block checksums: `tables` names what is damaged
    ("header" when the file cannot even be opened)."""

    def __init__(self, message: str, tables: list[str] | None = None) -> None:
        self.tables = list(tables or [])
        super().__init__(message)


class DiskFullError(StoreError):
    """A write ran out of disk space; the write was rolled back and the store is as before."""

    def __init__(self, message: str, needed_bytes: int = 0, free_bytes: int = 0) -> None:
        self.needed_bytes = needed_bytes
        self.free_bytes = free_bytes
        super().__init__(message)
