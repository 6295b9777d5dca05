"""The journey model as tools: what was inferred (read), and the user's own choice (a write)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from tools.base import MAX_STEPS, Name, TableView, ToolArgs, ToolContext, pct


class JourneyModelArgs(ToolArgs):
    pass


def journey_model_tool(ctx: ToolContext, args: JourneyModelArgs) -> Any:
    from analytics.journey_model import journey_model

    with ctx.store.reader() as con:
        return journey_model(con)


def _position(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def journey_model_view(args: JourneyModelArgs, result: Any) -> TableView:
    rows, left_out = [], []
    for s in result.steps:
        if s.event_name == result.conversion_event:
            rows.append(["conversion", s.event_name, s.stage, f"{s.people:,}", "", ""])
        elif s.event_name in result.funnel:
            rows.append([f"step {result.funnel.index(s.event_name) + 1}", s.event_name, s.stage,
                         f"{s.people:,}", pct(s.share_of_converters, 0),
                         _position(s.median_position)])
        elif s.why_not:
            left_out.append(f"{s.event_name} ({pct(s.share_of_converters, 0)} of converters): "
                            f"{s.why_not}")
    notes = []
    if result.origin.get("funnel") == "yours":
        notes.append("Main journey (yours): " + " > ".join(result.funnel))
    if left_out:
        notes.append("Not steps: " + "; ".join(left_out))
    if result.candidates:
        notes.append("Conversion candidates: " + "; ".join(
            f"{c.event_name} ({c.people:,} people"
            + (", carries revenue" if c.revenue_share >= 0.5 else "")
            + (", named like a purchase" if c.name_hint == 2 else "") + ")"
            for c in result.candidates))
    notes.append(f"Churn event: {result.churn_event or 'none'}"
                 + (" (yours)" if result.origin.get("churn") == "yours" else ""))
    notes.append("Change it: journey model set conversion EVENT | journey model set funnel A B "
                 "C ... | journey model set churn EVENT (or none); --reset goes back to what "
                 "the data say. Stages by event: journey stages show.")
    return TableView("Journey model", ["role", "event", "stage", "people",
                                       "converters before", "position"],
                     rows, notes=notes, model_rows=20)


class SetJourneyModelArgs(ToolArgs):
    part: Literal["conversion", "funnel", "churn"] = Field(
        ..., description="What to set: the conversion event, the main journey's steps (the "
                         "default funnel), or the churn event.")
    events: list[Name] = Field(default_factory=list, max_length=MAX_STEPS,
                               description="The event (conversion, churn; 'none' for no churn "
                                           "event) or the steps in order (funnel).")
    reset: bool = Field(False, description="Forget your choice for this part: use what the "
                                           "data say.")


def set_journey_model_tool(ctx: ToolContext, args: SetJourneyModelArgs) -> Any:
    from analytics.journey_choices import set_journey_model

    return set_journey_model(ctx.store, args.part, list(args.events), reset=args.reset)


def set_journey_model_audit(args: SetJourneyModelArgs, result: Any) -> dict:
    return {"part": args.part, "events": list(args.events), "reset": args.reset}
