"""Sessions and time to value as tools: how people use the product visit by visit, and how long
they take to reach a key action."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import Field

from tools.base import Days, FilterArgs, Name, TableView, ToolArgs, ToolContext, duration, pct


def session_property(ctx: ToolContext) -> str | None:
    """The export's own session id property, if the events carry one (for a funnel held to
    one session)."""
    from analytics.sessions import SESSION_PROPERTIES

    properties = ctx.catalog().event_properties
    return next((p for p in SESSION_PROPERTIES if p in properties), None)

BY_DESCRIPTION = ("Break down by device, channel, plan, country, another customer attribute or "
                  "an event property (first touch).")


class SessionsArgs(ToolArgs):
    gap_minutes: float = Field(30, gt=0, le=1440, description="Minutes without an event after "
                               "which a new session starts, for events without a session id "
                               "(exactly this long does not split).")
    by: Optional[str] = Field(None, description=BY_DESCRIPTION)
    path_steps: int = Field(4, ge=2, le=10, description="Steps shown per session path "
                                                        "(repeats counted once).")
    top: int = Field(10, ge=1, le=25, description="Entry events, exit events and paths listed.")
    filters: FilterArgs = Field(default_factory=FilterArgs)


def sessions_tool(ctx: ToolContext, args: SessionsArgs) -> Any:
    from analytics.sessions import sessions

    with ctx.store.reader() as con:
        return sessions(con, gap_minutes=args.gap_minutes, by=args.by,
                        path_steps=args.path_steps, top=args.top,
                        filters=ctx.scoped_filters(con, args.filters), catalog=ctx.catalog())


def _minutes(value: float | None) -> str:
    return duration(None if value is None else value * 60)


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f}"


def sessions_view(args: SessionsArgs, result: Any) -> TableView:
    title = f"Sessions ({result.session_definition})"
    if result.groups:
        rows = [[s.group, s.sessions, s.people, _number(s.sessions_per_person_mean),
                 _number(s.events_per_session_mean),
                 f"{_minutes(s.minutes_per_session_median)} / "
                 f"{_minutes(s.minutes_per_session_p75)}",
                 f"{s.paths[0].path} ({pct(s.paths[0].share)})" if s.paths else ""]
                for s in [result.overall, *result.groups]]
        return TableView(f"{title} by {result.by}",
                         ["group", "sessions", "people", "per person", "events each",
                          "length median / p75", "most common path"], rows, model_rows=20)
    o = result.overall
    rows = ([["entry", e.event, e.sessions, pct(e.share)] for e in o.entry_events]
            + [["exit", e.event, e.sessions, pct(e.share)] for e in o.exit_events]
            + [["path", p.path, p.sessions, pct(p.share)] for p in o.paths])
    notes = []
    if o.paths and o.other_paths_sessions:
        notes.append(f"Other paths: {o.other_paths_sessions:,} sessions "
                     f"({pct(o.other_paths_sessions / o.sessions)}).")
    return TableView(title, ["", "event or path", "sessions", "share of sessions"], rows,
                     notes=notes, model_rows=30)


class TimeToValueArgs(ToolArgs):
    to_event: Optional[Name] = Field(None, description="The key action, e.g. "
                                     "first_report_created or subscription_started (default: "
                                     "the journey's conversion event).")
    from_event: Optional[str] = Field(None, description="Start the clock at each person's first "
                                      "occurrence of this event (default: the signup date from "
                                      "the customers table, else each person's first event).")
    within_days: Days = Field(7, gt=0, le=365, description="Report the share reaching the "
                              "action within this many days (1, 7 and 30 are always shown).")
    by: Optional[str] = Field(None, description=BY_DESCRIPTION)
    filters: FilterArgs = Field(default_factory=FilterArgs)


def time_to_value_tool(ctx: ToolContext, args: TimeToValueArgs) -> Any:
    from analytics.time_to_value import time_to_value

    with ctx.store.reader() as con:
        return time_to_value(con, args.to_event, from_event=args.from_event,
                             within_days=args.within_days, by=args.by,
                             filters=ctx.scoped_filters(con, args.filters),
                             catalog=ctx.catalog())


def _days(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f}"


def time_to_value_view(args: TimeToValueArgs, result: Any) -> TableView:
    shown = [w.days for w in result.overall.within]
    rows = []
    for s in [result.overall, *result.groups]:
        shares = {w.days: pct(w.share) for w in s.within}
        rows.append([s.group, s.started, f"{s.reached:,} ({pct(s.reached_share)})",
                     f"{_days(s.median_days)} / {_days(s.p75_days)} / {_days(s.p90_days)}",
                     *[shares.get(d, "") for d in shown]])
    notes = [f"Within N days counts only people who started at least N days before the end of "
             f"observation ({result.observation_end:%Y-%m-%d}): "
             + ", ".join(f"{w.eligible:,} of {result.overall.started:,} for {_day_count(w.days)}"
                         for w in result.overall.within) + "."] if result.overall.started else []
    if result.already_before_start:
        n = result.already_before_start
        notes.append(f"{n:,} {'person' if n == 1 else 'people'} did {result.to_event} before "
                     f"their start and {'is' if n == 1 else 'are'} left out.")
    return TableView(f"Time to {result.to_event} since {result.start_definition}",
                     ["group", "started", "reached (share)", "days median / p75 / p90",
                      *[f"within {_day_count(d)}" for d in shown]], rows,
                     notes=notes, model_rows=20)


def _day_count(days: float) -> str:
    return f"{days:g} day" + ("" if days == 1 else "s")
