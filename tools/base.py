"""What every tool shares: the context it runs in, its result, and the filter arguments.

A tool is a plain typed function `(context, args) -> ToolResult`. The result carries a short
text for the model (a result id, the filters used, a small table, the definitions, and what was
cut) and the full analytic result as an artifact for the interfaces. Tools never write and never
take SQL or code: only names, which are checked against the store's catalog first; a wrong name
comes back as the closest valid names, not as an error.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Literal, Optional

from pydantic import BaseModel, Field

from analytics.catalog import Catalog, load_catalog
from analytics.errors import JourneyError, UnknownNameError
from analytics.filters import Filters
from analytics.store import EventStore


class FilterArgs(BaseModel):
    """Who and when an analytic looks at. Leave empty for everyone, all time."""

    since: Optional[date] = Field(None, description="First day (YYYY-MM-DD), inclusive.")
    until: Optional[date] = Field(None, description="Last day (YYYY-MM-DD), inclusive.")
    channel: Optional[str] = Field(None, description="First-touch channel, e.g. paid_social.")
    device: Optional[str] = Field(None, description="Device of the first event, e.g. mobile.")
    where: dict[str, str] = Field(default_factory=dict,
                                  description="Customer attributes that must match, e.g. "
                                              "{'plan': 'starter'}.")
    segment: Optional[str] = Field(None, description="A segment number or name from the "
                                                     "segments tool.")

    def to_filters(self) -> Filters:
        return Filters(start=self.since, end=self.until,
                       channel=(self.channel,) if self.channel else (),
                       device=(self.device,) if self.device else (),
                       attributes=tuple(sorted(self.where.items())))


@dataclass
class ToolResult:
    tool: str
    arguments: dict[str, Any]
    content: str  # what the model reads
    artifact: dict[str, Any] = field(default_factory=dict)  # the full result, for the UI
    result_id: str | None = None
    ok: bool = True
    figure: Callable[[], Any] | None = field(default=None, repr=False)  # builds the chart


_ids = itertools.count(1)


class ToolContext:
    """The store a conversation works on, with its catalog and feedback index loaded once."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._catalog: Catalog | None = None
        self._index = None
        # Results worth reusing while the data stay the same (themes, trained models, facts).
        self.cache: dict = {}
        self.results: dict[str, ToolResult] = {}

    def catalog(self) -> Catalog:
        if self._catalog is None:
            with self.store.reader() as con:
                self._catalog = load_catalog(con)
        return self._catalog

    def feedback_index(self):
        if self._index is None:
            from analytics.feedback.index import FeedbackIndex

            self._index = FeedbackIndex(self.store)
        return self._index

    def forget_cache(self) -> None:
        """After new data: drop the catalog and every cached result."""
        self._catalog = None
        self._index = None
        self.cache.clear()

    def themes(self, k: int | None = None):
        """Feedback themes, computed once per conversation (and per k)."""
        from analytics.feedback.themes import themes

        key = ("themes", k)
        if key not in self.cache:
            self.cache[key] = themes(self.feedback_index(), k=k)
        return self.cache[key]

    def snippets(self):
        """All indexed snippets with their embeddings, read once per conversation."""
        if "snippets" not in self.cache:
            self.cache["snippets"] = self.feedback_index().all_snippets()
        return self.cache["snippets"]

    def scoped_filters(self, con, args: FilterArgs) -> Filters:
        filters = args.to_filters()
        if args.segment:
            from analytics.segments import segment_filter

            filters = segment_filter(con, args.segment, filters)
        return filters

    def remember(self, result: ToolResult) -> ToolResult:
        result.result_id = f"R{next(_ids)}"
        result.content = f"[{result.result_id}] " + result.content
        self.results[result.result_id] = result
        return result


def table(rows: list[dict], columns: list[str], limit: int = 10) -> str:
    """A compact pipe table for the model; says how many rows were cut."""
    lines = [" | ".join(columns)]
    for row in rows[:limit]:
        lines.append(" | ".join(_fmt(row.get(c)) for c in columns))
    if len(rows) > limit:
        lines.append(f"({len(rows) - limit} more rows not shown)")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if value is None:
        return "-"
    return str(value)


def analytic_result(tool: str, args: BaseModel, result, rows_text: str, *extra: str,
                    artifact_extra: dict[str, Any] | None = None) -> ToolResult:
    """An analytic's answer as a tool result: for the model, its summary, filters, the rows
    (already a table), definitions and any extra text; for the UI, the whole result and its
    chart. The result is serialised once, here."""
    data = result.to_dict()
    parts = [data.get("summary", "")]
    if data.get("filters"):
        parts.append("Filters: " + json.dumps(data["filters"], default=str))
    parts.append(rows_text)
    if data.get("definitions"):
        parts.append("Definitions: " + "; ".join(f"{k}: {v}" for k, v in
                                                   data["definitions"].items()))
    parts.extend(extra)
    return ToolResult(tool, args.model_dump(mode="json"), "\n".join(p for p in parts if p),
                      {**data, **(artifact_extra or {})}, figure=result.figure)


def name_problem(tool: str, arguments: dict, error: UnknownNameError) -> ToolResult:
    """A wrong name is an answer, not a failure: the model can retry with a valid one."""
    suggestions = ", ".join(error.suggestions) if error.suggestions else "none close"
    return ToolResult(tool=tool, arguments=arguments, ok=False,
                      content=f"Unknown {error.kind} '{error.name}'. Closest valid names: "
                              f"{suggestions}. Call the tool again with one of them.")


def user_problem(tool: str, arguments: dict, error: JourneyError) -> ToolResult:
    return ToolResult(tool=tool, arguments=arguments, ok=False, content=f"Cannot run: {error}")


Order = Literal["strict", "any"]
