"""Friction: what customers who dropped at a step said, against those who got through it.

Dropped = did the step and never did the next step after it; passed = did both. Among the
people of each group who left any feedback, the share who said something in each theme. The
themes whose share is highest among those who dropped, and clearly higher than among those who
passed, are the reasons to test first ("of customers who left at pricing, 38% mention price for
team size"). Correlation again: people who complain may differ from those who stay silent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analytics.anomalies import key_steps
from analytics.catalog import Catalog, load_catalog
from analytics.errors import ArgumentError, JourneyError
from analytics.feedback.index import FeedbackIndex
from analytics.feedback.themes import ThemesResult, themes
from analytics.filters import Filters, check_filters, scope_sql
from analytics.friction_behaviour import BehaviourFriction, behaviour_friction
from analytics.paths import next_steps
from analytics.results import AnalyticResult, pct
from analytics.store.connection import Connection


@dataclass
class ThemeFriction:
    theme: int
    label: str
    dropped_share: float  # of dropped people with feedback, share mentioning the theme
    passed_share: float
    dropped_people: int
    lift: float | None
    quotes: list[dict] = field(default_factory=list)


@dataclass
class FrictionResult(AnalyticResult):
    step: str = ""
    next_step: str = ""
    dropped: int = 0
    passed: int = 0
    dropped_with_feedback: int = 0
    passed_with_feedback: int = 0
    themes: list[ThemeFriction] = field(default_factory=list)
    behaviour: BehaviourFriction | None = None  # what the leavers did instead (no feedback needed)
    feedback_note: str = ""  # why there is nothing from feedback, when there is not
    did_step: int = 0  # passed + dropped: everyone who did the step
    went_on_rate: float | None = None  # passed / did_step

    kind = "friction"

    def __post_init__(self) -> None:
        self.did_step = self.passed + self.dropped
        self.went_on_rate = self.passed / self.did_step if self.did_step else None

    def figure(self):
        if not self.themes and self.behaviour is not None:
            instead = self.behaviour.instead[:8]
            return _paired_bars([i.event for i in instead], f"left at {self.step}",
                                [i.dropped_share for i in instead], f"went on to {self.next_step}",
                                [i.passed_share for i in instead],
                                f"What people did after {self.step}")
        rows = self.themes[:8]
        return _paired_bars([t.label for t in rows], f"dropped at {self.step}",
                            [t.dropped_share for t in rows], f"went on to {self.next_step}",
                            [t.passed_share for t in rows], f"What customers say at {self.step}")


def _paired_bars(labels: list[str], left: str, left_shares: list[float], right: str,
                 right_shares: list[float], title: str):
    """Those who left against those who went on, share by share (said or did)."""
    import plotly.graph_objects as go

    fig = go.Figure([go.Bar(name=left, y=labels, x=left_shares, orientation="h"),
                     go.Bar(name=right, y=labels, x=right_shares, orientation="h")])
    fig.update_layout(barmode="group", title=title, xaxis={"tickformat": ".0%"},
                      yaxis={"autorange": "reversed"})
    return fig


def event_of(step: str, catalog: Catalog) -> str:
    """The event a journey step is about ('page[path=/pricing]' -> page, 'a|b' -> a):
    friction compares people by event."""
    from analytics.event_filters import parse_step_event, split_alternatives

    if step in catalog.events:
        return step
    return parse_step_event(split_alternatives(step)[0], catalog.events).event


def _default_next(con, catalog: Catalog, step: str, filters: Filters) -> str:
    steps = [event_of(s, catalog) for s in key_steps(con)]
    if step in steps and steps.index(step) + 1 < len(steps):
        return steps[steps.index(step) + 1]
    following = [n.event for n in next_steps(con, [step], filters=filters,
                                             catalog=catalog).next_steps
                 if n.event != "(end)" and n.event != step]
    if not following:
        raise ArgumentError("next_step", f"nothing usually follows {step}; name the step "
                                         "customers should reach")
    return following[0]


def friction(con: Connection, index: FeedbackIndex | None, step: str, *,
             next_step: str | None = None, min_people: int = 5,
             themes_result: ThemesResult | None = None, snippets: list | None = None,
             filters: Filters = Filters(),
             catalog: Catalog | None = None) -> FrictionResult:
    catalog = catalog or load_catalog(con)
    catalog.check_event(step)
    check_filters(filters, catalog)
    next_step = next_step or _default_next(con, catalog, step, filters)
    catalog.check_event(next_step)
    scope = scope_sql(filters)
    behaviour = behaviour_friction(con, scope, step, next_step, key_steps(con))
    feedback_note = ""
    if themes_result is None:
        try:
            if index is None:
                raise JourneyError("No feedback index")
            themes_result = themes(index)
        except JourneyError as exc:  # no feedback, or too little: behaviour still answers
            feedback_note = str(exc)
    groups = con.execute(f"""
{scope.ctes},
at_step AS (SELECT person_id, min(ts) AS t FROM ev WHERE event_name = ? GROUP BY person_id),
went_on AS (
    SELECT DISTINCT a.person_id FROM at_step AS a
    JOIN ev AS e ON e.person_id = a.person_id AND e.event_name = ? AND e.ts >= a.t
)
SELECT a.person_id, w.person_id IS NOT NULL AS passed
FROM at_step AS a LEFT JOIN went_on AS w ON w.person_id = a.person_id
""", scope.params + [step, next_step]).fetchall()
    passed_people = {p for p, ok in groups if ok}
    dropped_people = {p for p, ok in groups if not ok}
    if themes_result is None or index is None:
        return _result(step, next_step, dropped_people, passed_people, [], [], [], behaviour,
                       feedback_note, filters)
    if snippets is None:
        snippets, _ = index.all_snippets()
    person_of = {r[0]: r[1] for r in con.execute(
        "SELECT feedback_id, person_id FROM journey_feedback").fetchall()}
    said: dict[str, set[int]] = {}
    quotes: dict[int, list] = {}
    for s in snippets:
        person = person_of.get(s.feedback_id)
        theme = themes_result.assignments.get(s.feedback_id)
        if person is None or theme is None:
            continue
        said.setdefault(person, set()).add(theme)
        if person in dropped_people:
            quotes.setdefault(theme, []).append(s)
    dropped_fb = [p for p in dropped_people if p in said]
    passed_fb = [p for p in passed_people if p in said]
    rows = []
    for t in themes_result.themes:
        d = sum(1 for p in dropped_fb if t.theme in said[p])
        ps = sum(1 for p in passed_fb if t.theme in said[p])
        d_share = d / len(dropped_fb) if dropped_fb else 0.0
        p_share = ps / len(passed_fb) if passed_fb else 0.0
        if d < min_people:
            continue
        seen, picked = set(), []
        # The most typical of the theme first, so quotes say what the theme is about.
        typical = themes_result.typicality
        for s in sorted(quotes.get(t.theme, []),
                        key=lambda s: (-typical.get(s.feedback_id, 0.0), s.feedback_id)):
            if s.text.lower() not in seen:
                seen.add(s.text.lower())
                picked.append({"feedback_id": s.feedback_id, "text": s.text, "source": s.source,
                               "date": s.date})
            if len(picked) == 3:
                break
        rows.append(ThemeFriction(t.theme, t.label, d_share, p_share, d,
                                  d_share / p_share if p_share else None, picked))
    rows.sort(key=lambda r: (-r.dropped_share, r.theme))
    return _result(step, next_step, dropped_people, passed_people, dropped_fb, passed_fb, rows,
                   behaviour, feedback_note, filters)


def _result(step: str, next_step: str, dropped_people: set, passed_people: set,
            dropped_fb: list, passed_fb: list, rows: list[ThemeFriction],
            behaviour: BehaviourFriction, feedback_note: str,
            filters: Filters) -> FrictionResult:
    result = FrictionResult(behaviour=behaviour, feedback_note=feedback_note,
        step=step, next_step=next_step, dropped=len(dropped_people), passed=len(passed_people),
        dropped_with_feedback=len(dropped_fb), passed_with_feedback=len(passed_fb), themes=rows,
        filters=filters.describe(), definitions={
            "dropped": f"did {step} and never did {next_step} after it",
            "passed": f"did {step} and then {next_step}",
            "dropped_share": "people who dropped and left feedback that falls in the theme / "
                             "people who dropped and left any feedback",
            "lift": "dropped_share / passed_share",
            "themes": "as in `journey feedback themes`",
            "quotes": "up to three distinct snippets of people who dropped, the most typical "
                      "of the theme (closest to its centre) first",
            "behaviour": f"events the people who dropped did within "
                         f"{behaviour.horizon_days} days after {step}, against those who went "
                         f"on did between {step} and {next_step}; exits: did nothing else",
        })
    lead = behaviour.sentence()
    if rows:
        top = rows[0]
        result.summary = (
            f"{lead} {len(dropped_fb):,} of those who left wrote to us: "
            f"{pct(top.dropped_share, 0)} mention '{top.label}'"
            + (f" (against {pct(top.passed_share, 0)} of those who went on)" if passed_fb else "")
            + ".")
    elif feedback_note.startswith("Only 0 ") or feedback_note == "No feedback index":
        result.summary = f"{lead} No feedback is loaded yet to say why in customers' words."
    elif feedback_note:
        result.summary = f"{lead} Nothing from feedback: {feedback_note.rstrip('.')}."
    elif not behaviour.dropped:
        result.summary = lead  # no one left: there is no one whose words to look for
    else:
        result.summary = f"{lead} Too few of those who left wrote to us to say why in words."
    return result
