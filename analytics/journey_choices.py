"""The user's own choices for the journey model (`journey model set ...`): the conversion, the
main journey's steps, the churn event. Each is checked against the data, kept in the store's
`meta` beside the inferred model, and wins over the inference until reset."""

from __future__ import annotations

import json

from analytics.catalog import load_catalog
from analytics.errors import ArgumentError
from analytics.event_filters import parse_step_event, split_alternatives
from analytics.journey_model import (
    CHOICES_KEY,
    PARTS,
    JourneyModel,
    journey_model,
    read_choices,
    refresh_inferred,
)
from analytics.store.connection import EventStore

NONE_WORDS = ("none", "-")


def set_journey_model(store: EventStore, part: str, events: list[str],
                      reset: bool = False) -> JourneyModel:
    """Set one part of the model (conversion, funnel or churn) or, with `reset`, go back to
    what the data say. Setting the conversion reads the main journey again around it."""
    if part not in PARTS:
        raise ArgumentError("part", f"'{part}' is not one of {', '.join(PARTS)}")
    events = [e.strip() for e in events if e.strip()]
    with store.writer() as con:
        catalog = load_catalog(con)
        choices = read_choices(con)
        if reset:
            if events:
                raise ArgumentError("events", "name no event with --reset")
            choices.pop(part, None)
        elif part == "funnel":
            if len(events) < 2:
                raise ArgumentError("events", "a journey needs at least two steps, in order")
            for step in events:
                for alternative in split_alternatives(step):
                    catalog.check_event(parse_step_event(alternative, catalog.events).event)
            choices[part] = events
        else:
            if len(events) != 1:
                raise ArgumentError("events", f"name one event for the {part}"
                                    + (" (or 'none')" if part == "churn" else ""))
            name = events[0]
            if part == "churn" and name.lower() in NONE_WORDS:
                choices[part] = None
            else:
                choices[part] = catalog.check_event(name)
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("DELETE FROM meta WHERE key = ?", [CHOICES_KEY])
            if choices:
                con.execute("INSERT INTO meta VALUES (?, ?)", [CHOICES_KEY, json.dumps(choices)])
            # The inference around the chosen conversion (steps, churn, stages) follows it.
            refresh_inferred(con)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return journey_model(con)
