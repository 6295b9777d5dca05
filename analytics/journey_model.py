"""The journey model, read from behaviour: the conversion, the churn event, the main journey.

* The conversion is the event people reach at the end of the way to value. Candidates are the
  events that behave like a payment (carry revenue) or are named like one; an event named like an
  error, a refund or a renewal never is. Of equal candidates the one reached first wins, so a
  first subscription beats the invoices and renewals that follow it.
* The main journey is the ordered steps most converters pass before their first conversion:
  each done before it by at least `STEP_SHARE` of converters, ordered by how often it comes
  before the others (first occurrences, a tie counting half), which holds for steps minutes
  apart in journeys of weeks; the median share of the way to converting is shown beside it. Setbacks
  (errors, cancellations) are never steps, and of the events nearly everyone does (a first
  visit, a page view) only the earliest stays, as the entry: they say nothing about progress.
* The churn event is one named like a cancellation that mostly happens after converting.
* Stages follow from position: mostly after the conversion is retention, the conversion is the
  purchase, and before it the name's stage (consideration for "pricing") or else the share of
  the way to conversion where it typically happens.

The model is inferred at every load of events (in the load's transaction) and kept in `meta`;
the user's choices (`journey model set ...`) are kept beside it and win. Every default (the
funnel, journey map, anomalies, friction, plan and the planner's steps) reads `journey_model`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from analytics.journey_evidence import (
    FIRSTS,
    SAMPLE_PEOPLE,
    ConversionCandidate,
    StepEvidence,
    build_firsts,
    conversion_candidates,
    exact_counts,
    precedence,
    sample_sql,
    step_evidence,
)
from analytics.journey_names import churn_hint, is_setback
from analytics.results import AnalyticResult, pct
from analytics.store.connection import Connection

INFERRED_KEY = "journey_model.inferred"
CHOICES_KEY = "journey_model.choices"
# Of converters, done before converting: a step of the main journey. Three in four: the
# path nearly every converter walks, not the browsing many do on the way (a catalog, a search).
STEP_SHARE = 0.75
NEAR_SHARE = 0.4  # shown as "not a step" (with its share) so the user can add it
UBIQUITOUS_SHARE = 0.9  # of all people: an event that says nothing about progress
MAX_STEPS = 8  # conversion included
AFTER_SHARE = 0.6  # of the converters doing an event, first doing it after: retention
PARTS = ("conversion", "funnel", "churn")


@dataclass(kw_only=True)
class JourneyModel(AnalyticResult):
    conversion_event: str | None = None
    churn_event: str | None = None
    funnel: list[str] = field(default_factory=list)
    origin: dict[str, str] = field(default_factory=dict)  # part -> inferred | yours
    people: int = 0
    converters: int = 0
    steps: list[StepEvidence] = field(default_factory=list)
    candidates: list[ConversionCandidate] = field(default_factory=list)
    stages: dict[str, str] = field(default_factory=dict)  # event -> stage, as inferred
    # Above SAMPLE_PEOPLE people, shares and positions come from a fixed sample of this many.
    sample_people: int | None = None

    kind = "journey_model"

    def figure(self):
        import plotly.graph_objects as go

        shown = [s for s in self.steps if s.share_of_converters is not None][:15]
        fig = go.Figure(go.Bar(
            x=[s.share_of_converters for s in shown], y=[s.event_name for s in shown],
            orientation="h", marker={"color": ["#2a6" if s.in_journey else "#aaa"
                                               for s in shown]}))
        fig.update_layout(title=f"Share of converters who did each event before "
                                f"{self.conversion_event} (green: the main journey)",
                          xaxis={"tickformat": ".0%"}, yaxis={"autorange": "reversed"})
        return fig

    def to_stored(self) -> str:
        data = {k: v for k, v in asdict(self).items() if k not in ("filters", "origin")}
        return json.dumps(data)

    @classmethod
    def from_stored(cls, text: str) -> JourneyModel:
        data = json.loads(text)
        data["steps"] = [StepEvidence(**s) for s in data.get("steps", [])]
        data["candidates"] = [ConversionCandidate(**c) for c in data.get("candidates", [])]
        return cls(**data)


def choose_funnel(evidence: list[StepEvidence], conversion: str | None, people: int,
                  converters: int, ahead: dict[str, float] | None = None) -> list[str]:
    """The main journey: the ordered steps most converters pass (see the module's doc);
    `ahead`: precedence scores, the order (else the median position)."""
    ahead = ahead or {}
    def share(s: StepEvidence) -> float:
        if conversion:
            return s.share_of_converters or 0.0
        return s.share_of_people or 0.0

    eligible: list[StepEvidence] = []
    for s in evidence:
        if s.event_name == conversion:
            continue
        if share(s) < NEAR_SHARE:
            continue
        if is_setback(s.event_name):
            s.why_not = "a setback (error, failure or loss)"
        elif share(s) < STEP_SHARE:
            s.why_not = f"fewer than {STEP_SHARE:.0%} of converters pass it"
        elif conversion and (s.after_share or 0) >= AFTER_SHARE and converters:
            s.why_not = "mostly after converting"
        else:
            eligible.append(s)
    eligible.sort(key=lambda s: (-ahead.get(s.event_name, 0.0),
                                 s.median_position if s.median_position is not None else 1,
                                 -share(s), s.event_name))
    kept: list[StepEvidence] = []
    entry_taken = False
    for s in eligible:
        if (s.share_of_people or 0) >= UBIQUITOUS_SHARE and people >= 20:
            if entry_taken:
                s.why_not = "nearly everyone does it"
                continue
            entry_taken = True
        kept.append(s)
    room = MAX_STEPS - (1 if conversion else 0)
    if len(kept) > room:
        # The steps more converters pass stay, in their journey order.
        best = sorted(kept, key=lambda s: -share(s))[:room]
        for s in kept:
            if s not in best:
                s.why_not = f"beyond {room} steps, fewer pass it"
        kept = [s for s in kept if s in best]
    for s in kept:
        s.in_journey = True
    return [s.event_name for s in kept] + ([conversion] if conversion else [])


def choose_churn(evidence: list[StepEvidence], conversion: str | None) -> str | None:
    """A cancellation-like event that mostly happens after converting (when there is one)."""
    named = [s for s in evidence if churn_hint(s.event_name) and s.event_name != conversion]
    if conversion:
        named = [s for s in named if (s.after_share or 0) >= AFTER_SHARE]
    named.sort(key=lambda s: (-s.people, s.event_name))
    return named[0].event_name if named else None


def infer_stages(evidence: list[StepEvidence], conversion: str | None,
                 converters: int) -> dict[str, str]:
    from analytics.store.schema import guess_stage

    stages: dict[str, str] = {}
    for s in evidence:
        by_name = guess_stage(s.event_name)
        if s.event_name == conversion:
            stages[s.event_name] = "purchase"
        elif conversion and converters and s.after_share is not None \
                and s.after_share >= AFTER_SHARE:
            stages[s.event_name] = "retention"
        elif by_name != "retention" or not conversion:
            stages[s.event_name] = by_name
        else:
            # Named like product use, but done on the way to converting: placed by where.
            position = s.median_position if s.median_position is not None else 1.0
            stages[s.event_name] = ("awareness" if position < 1 / 3 else
                                    "consideration" if position < 2 / 3 else "evaluation")
    return stages


def infer_journey_model(con: Connection, conversion: str | None = None) -> JourneyModel:
    """The model as the data say (`conversion` given: the rest read around that one)."""
    sample = sample_sql(con)
    build_firsts(con, sample)
    try:
        people, candidates = conversion_candidates(con)
        if conversion is None and candidates:
            conversion = candidates[0].event_name
        converters, evidence = step_evidence(con, conversion)
        often = [e.event_name for e in evidence if e.event_name != conversion and (
            (e.share_of_converters if conversion else e.share_of_people) or 0) >= STEP_SHARE]
        ahead = precedence(con, often, conversion)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {FIRSTS}")
    sample_people = None
    if sample:
        sample_people = people
        people, converters = exact_counts(con, conversion, evidence, candidates)
    funnel = choose_funnel(evidence, conversion, people, converters, ahead)
    model = JourneyModel(conversion_event=conversion, churn_event=choose_churn(evidence,
                                                                               conversion),
                         funnel=funnel, people=people, converters=converters,
                         sample_people=sample_people,
                         candidates=candidates[:5], stages=infer_stages(evidence, conversion,
                                                                        converters))
    for s in evidence:
        s.stage = model.stages.get(s.event_name, "")
    order = {name: i for i, name in enumerate(funnel)}
    evidence.sort(key=lambda s: (s.event_name not in order, order.get(s.event_name, 0),
                                 -(s.share_of_converters or s.share_of_people or 0)))
    model.steps = evidence
    return model


def _meta(con: Connection, key: str) -> str | None:
    row = con.execute("SELECT max(value) FROM meta WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def read_choices(con: Connection) -> dict[str, Any]:
    text = _meta(con, CHOICES_KEY)
    return json.loads(text) if text else {}


def journey_model(con: Connection) -> JourneyModel:
    """The model every default uses: the stored inference with the user's choices applied."""
    choices = read_choices(con)
    stored = _meta(con, INFERRED_KEY)
    model = JourneyModel.from_stored(stored) if stored else infer_journey_model(
        con, choices.get("conversion"))
    model.origin = {part: "inferred" for part in PARTS}
    for part, value in choices.items():
        setattr(model, {"conversion": "conversion_event", "churn": "churn_event",
                        "funnel": "funnel"}[part], value)
        model.origin[part] = "yours"
    model.summary = describe_model(model)
    model.definitions = {
        "conversion_event": "what people reach at the end of the way to value: an event that "
                            "carries revenue or is named like a purchase, the first of equals",
        "funnel": f"the steps at least {STEP_SHARE:.0%} of converters do before converting, "
                  "in the order they typically first occur",
        "share_of_converters": "of the people who converted, the share who did the event "
                               "before their first conversion",
        "median_position": "median share of the way, in time, from the person's first event "
                           "to their conversion at which they first did it (0 = the start, "
                           "1 = converting)",
        "churn_event": "an event named like a cancellation that mostly happens after "
                       "converting",
        "sample_people": f"above {SAMPLE_PEOPLE:,} people, the shares, positions and "
                         "converters_before are read from a fixed sample of people (the same "
                         "ones each time); people counts are of everyone",
    }
    return model


def describe_model(model: JourneyModel) -> str:
    if not model.people:
        return "No events loaded yet."
    yours = [p for p, o in model.origin.items() if o == "yours"]
    parts = [f"Conversion: {model.conversion_event or 'none found'}"
             + (f" ({model.converters:,} of {model.people:,} people, "
                f"{pct(model.converters / model.people)})" if model.conversion_event else "")
             + "."]
    if model.funnel:
        parts.append(f"Main journey: {' > '.join(model.funnel)}.")
    parts.append(f"Churn event: {model.churn_event or 'none'}.")
    if yours:
        parts.append(f"Set by you: {', '.join(yours)}.")
    if not model.conversion_event:
        parts.append("Name the conversion with `journey model set conversion EVENT`.")
    return " ".join(parts)


def refresh_inferred(con: Any) -> JourneyModel:
    """Infer again inside a writer's transaction (after a load or a choice): store it and place
    every event the user has not placed by hand in its inferred stage."""
    choices = read_choices(con)
    model = infer_journey_model(con, choices.get("conversion"))
    con.execute("DELETE FROM meta WHERE key = ?", [INFERRED_KEY])
    con.execute("INSERT INTO meta VALUES (?, ?)", [INFERRED_KEY, model.to_stored()])
    user = {r[0] for r in con.execute(
        "SELECT event_name FROM stage_map WHERE origin = 'user'").fetchall()}
    placed = [(event, stage) for event, stage in model.stages.items() if event not in user]
    con.execute("DELETE FROM stage_map WHERE origin <> 'user'")
    if placed:
        con.executemany("INSERT INTO stage_map VALUES (?, ?, 'rule')", placed)
    return model
