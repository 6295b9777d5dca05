"""The journey map: the key-step funnel, where people drop, and what those who dropped said.

One result that joins three analytics already defined elsewhere: the funnel over the journey's
key steps (or the steps asked for), the two steps that lose the most people, and at each of
them the friction themes of those who left (feedback of people who did the step and not the
next one). Every number is the funnel's or the friction analysis's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analytics.catalog import Catalog, load_catalog
from analytics.errors import JourneyError
from analytics.event_filters import parse_step_event
from analytics.feedback.friction import FrictionResult, friction
from analytics.feedback.index import FeedbackIndex
from analytics.feedback.themes import ThemesResult
from analytics.filters import Filters
from analytics.funnel import FunnelResult, funnel
from analytics.results import AnalyticResult, pct
from analytics.store.connection import Connection


@dataclass
class DropOff:
    step: str  # where people were
    next_step: str  # what they did not reach
    dropped: int
    friction: FrictionResult | None = None  # None when too little feedback to say why
    note: str = ""


@dataclass
class JourneyMapResult(AnalyticResult):
    steps: list[str] = field(default_factory=list)
    funnel: FunnelResult | None = None
    drop_offs: list[DropOff] = field(default_factory=list)

    kind = "journey_map"

    def figure(self):
        fig = self.funnel.figure() if self.funnel else None
        biggest = self.funnel.biggest_dropoff_step if self.funnel else None
        if fig is not None and biggest:
            # Mark the biggest drop-off on the funnel itself.
            step = self.funnel.steps[biggest - 1]
            fig.add_annotation(x=step.customers, y=" | ".join(step.events),
                               text=f"biggest drop-off: {step.dropped:,} lost",
                               showarrow=True, arrowhead=2, ax=120, ay=0)
        return fig


def journey_map(con: Connection, index: FeedbackIndex, steps: list[str], *,
                drop_offs: int = 2, filters: Filters = Filters(),
                themes_result: ThemesResult | None = None, snippets: list | None = None,
                catalog: Catalog | None = None) -> JourneyMapResult:
    catalog = catalog or load_catalog(con)
    result_funnel = funnel(con, steps, filters=filters, catalog=catalog)
    pairs = [(result_funnel.steps[i].dropped, i) for i in range(1, len(result_funnel.steps))]
    found: list[DropOff] = []
    for dropped, i in sorted(pairs, key=lambda p: (-p[0], p[1]))[:drop_offs]:
        if dropped <= 0:
            continue
        at, to = result_funnel.steps[i - 1].events[0], result_funnel.steps[i].events[0]
        drop = DropOff(step=at, next_step=to, dropped=dropped)
        # Friction reads feedback by event; a step narrowed by a property uses its event, and
        # says so (its people are everyone who did the event, not only the step's).
        at_step = parse_step_event(at, catalog.events)
        to_step = parse_step_event(to, catalog.events)
        at, to = at_step.event, to_step.event
        try:
            drop.friction = friction(con, index, at, next_step=to, themes_result=themes_result,
                                     snippets=snippets, filters=filters, catalog=catalog)
            if at_step.conditions or to_step.conditions:
                drop.note = (f"The feedback is that of everyone who did {at} but not {to}, "
                             "not only of the steps' narrower events.")
        except JourneyError as exc:  # no feedback loaded, too few snippets for themes
            drop.note = str(exc)
        found.append(drop)
    lines = [result_funnel.summary]
    for d in found:
        top = d.friction.themes[0] if d.friction and d.friction.themes else None
        if top is not None:
            lines.append(f"At {d.step} ({d.dropped:,} lost before {d.next_step}): "
                         f"{pct(top.dropped_share, 0)} of those who left and wrote to us mention "
                         f"'{top.label}'." + (f" {d.note}" if d.note else ""))
        elif d.friction is not None and d.friction.behaviour is not None:
            lines.append(f"At {d.step} ({d.dropped:,} lost before {d.next_step}): "
                         + _behaviour_clause(d.friction.behaviour))
        else:
            lines.append(f"At {d.step} ({d.dropped:,} lost before {d.next_step}): too little "
                         "feedback from those who left to say why.")
    return JourneyMapResult(
        summary=" ".join(lines), steps=list(steps), funnel=result_funnel, drop_offs=found,
        filters=filters.describe(),
        definitions={"drop_offs": f"the {drop_offs} funnel steps that lose the most people, "
                                  "each with the friction themes of those who left",
                     **result_funnel.definitions})


def _behaviour_clause(behaviour) -> str:
    """What those who left did instead, when no feedback says why."""
    notable = [i for i in behaviour.instead if i.dropped_share > i.passed_share][:2]
    from analytics.friction_behaviour import did

    said = [f"{pct(i.dropped_share, 0)} of them {did(i)} (against "
            f"{pct(i.passed_share, 0)} of those who went on)" for i in notable]
    if behaviour.exits is not None:
        said.append(f"{pct(behaviour.exits, 0)} did nothing else")
    where = (f"; most in {behaviour.segments[0].dimension} = {behaviour.segments[0].value}"
             if behaviour.segments else "")
    return (", ".join(said) or "no behaviour sets them apart") + where + "."
