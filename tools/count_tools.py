"""Event counts as a tool: how many people did an event in a period, by week or month or group,
and who did it most recently (the direct answer to "how many ..." and "who ...")."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field

from tools.base import FilterArgs, Name, TableView, ToolArgs, ToolContext, pct


class EventCountsArgs(ToolArgs):
    event: Name = Field(..., description="The event counted, e.g. subscription_cancelled.")
    interval: Literal["week", "month"] = Field("month", description="Count by calendar week or "
                                               "month.")
    by: Optional[str] = Field(None, description="Break down by device, channel, plan, country or "
                                                "another customer attribute (share of each "
                                                "group who did it).")
    people_listed: int = Field(10, ge=0, le=100, description="How many of the people who did "
                               "it most recently to list (opted-out customers never listed).")
    filters: FilterArgs = Field(default_factory=FilterArgs)


def event_counts_tool(ctx: ToolContext, args: EventCountsArgs) -> Any:
    from analytics.event_counts import event_counts

    with ctx.store.reader() as con:
        return event_counts(con, args.event, interval=args.interval, by=args.by,
                            people_listed=args.people_listed,
                            filters=ctx.scoped_filters(con, args.filters), catalog=ctx.catalog())


def event_counts_view(args: EventCountsArgs, result: Any) -> TableView:
    if result.groups:
        rows = [[g.group, g.people, g.of_group, pct(g.share)] for g in result.groups]
        return TableView(f"{result.event} by {result.by}", [result.by, "did it", "people",
                                                            "share"], rows)
    valued = result.value_key is not None
    rows = [[f"{p.period:%Y-%m-%d}", p.people, p.times] + ([p.value] if valued else [])
            for p in result.periods]
    rows += [[f"{p.customer_id} (last {p.last:%Y-%m-%d})", 1, p.times] + ([""] if valued else [])
             for p in result.recent]
    columns = [result.interval, "people", "times"] + ([result.value_key] if valued else [])
    return TableView(f"{result.event} by {result.interval}, then the most recent people",
                     columns, rows, model_rows=40)
