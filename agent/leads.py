"""The first sentence of an answer: the direct answer to what was asked, from the tool's result.

A tool's own summary says what it computed; a marketer asked something narrower ("how many go
on to sign up?", "what do people do after pricing?", "does a first report predict paying?").
Each function here reads the typed result (never a number of its own) and says that first.
"""

from __future__ import annotations

import re
from typing import Any

from agent.frame import OVER_TIME
from tools.base import ToolResult, pct


def lead(result: ToolResult, frame: Any) -> str:
    """The direct answer for this result and question, or "" when the summary already is."""
    writer = LEADS.get(result.tool)
    if writer is None or not result.ok:
        return ""
    return writer(result.result, frame)


def _friction(r: Any, frame: Any) -> str:
    if not r.did_step or not r.dropped:
        return ""  # no one left: the summary says so
    return (f"{r.passed:,} of the {r.did_step:,} people who did {r.step} went on to "
            f"{r.next_step} ({pct(r.went_on_rate)}); {r.dropped:,} did not.")


def _next_steps(r: Any, frame: Any) -> str:
    steps = [n for n in r.next_steps if n.event != "(end)"][:4]
    if not steps:
        return ""
    after = " > ".join(r.after)
    ended = next((n for n in r.next_steps if n.event == "(end)"), None)
    text = (f"Right after {after}, people most often do " + ", ".join(
        f"{n.event} ({pct(n.probability)})" for n in steps) + ".")
    if ended:
        text += f" {pct(ended.probability)} of the time nothing follows."
    return text


def _themes(r: Any, frame: Any) -> str:
    if not r.themes:
        return ""
    ranked = sorted(r.themes, key=lambda t: -t.size)[:5]
    return "The main themes: " + "; ".join(
        f"'{t.label}' ({t.size:,} snippets, {pct(t.negative_share, 0)} negative)"
        for t in ranked) + "."


def _attribution(r: Any, frame: Any) -> str:
    if not r.channels:
        return ""
    ranked = sorted(r.channels, key=lambda c: -c.credit)
    return (f"Credit for {r.conversion_event} by channel ({r.model}), highest first: " + ", ".join(
        f"{c.channel} {pct(c.share)}" for c in ranked) + ".")


def _paths(r: Any, frame: Any) -> str:
    if r.before_event or r.dropped_at or r.within_seconds or r.unit == "sessions":
        return ""  # paths around an anchor: the summary is the answer, the list itself
    converting = [p for p in r.paths if p.converted and p.path != "(other paths)"]
    if not converting:
        return ""
    best = sorted(converting, key=lambda p: -p.converted)[:3]
    return "The paths most conversions come through: " + "; ".join(
        f"{p.path} ({p.converted:,} converted, {pct(p.conversion_rate)} of {p.customers:,})"
        for p in best) + "."


def _moments(r: Any, frame: Any) -> str:
    named = [s for s in getattr(frame, "steps", []) if s != r.outcome]
    if not named:
        return ""
    found = []
    for step in named:
        for m in r.positive + r.negative:
            if m.kind == "event" and m.moment == step:
                found.append(
                    f"Of the people who did {step}, {pct(m.outcome_rate_did)} did {r.outcome}, "
                    f"against {pct(m.outcome_rate_did_not)} of those who did not"
                    + (f" ({m.lift:.1f}x)" if m.lift else "") + ".")
                if _is_leaving(r.outcome) and m.outcome_rate_did is not None and \
                        m.outcome_rate_did_not is not None:
                    # A cancel rate read the way the question means it: who stays.
                    more = "more" if m.outcome_rate_did < m.outcome_rate_did_not else "less"
                    found.append(f"So retention is {pct(1 - m.outcome_rate_did)} with {step} "
                                 f"against {pct(1 - m.outcome_rate_did_not)} without (they stay "
                                 f"{more}); correlation, not proof.")
                break
        else:
            found.append(f"{step} is not among the actions that go with a different "
                         f"{r.outcome} rate.")
    return " ".join(found)


def _is_leaving(event: str) -> bool:
    return bool(re.search(r"churn|cancel|unsubscri|quit|lapse|expire|ended|closed[ _]lost",
                          event.lower()))


REVENUE_WORDS = r"\b(revenue|money|income|sales|made|earn\w*|billed|brought in|value)\b"


def _event_counts(r: Any, frame: Any) -> str:
    question = getattr(frame, "question", "").lower()
    if r.value_total is not None and re.search(REVENUE_WORDS, question):
        unit = f" {r.currency}" if r.currency else ""
        if re.search(OVER_TIME, question) and r.periods:
            return f"{r.value_key} on {r.event} by {r.interval}: " + ", ".join(
                f"{p.period:%Y-%m}" + (f"-{p.period:%d}" if r.interval == "week" else "")
                + f" {p.value:,.2f}" for p in r.periods[-12:] if p.value is not None) + "."
        return (f"{r.value_total:,.2f}{unit} in {r.value_key} from {r.times:,} {r.event} "
                f"events.")
    compare = {c.casefold() for c in getattr(frame, "compare", []) or []}
    groups = [g for g in r.groups if g.of_group >= 10]
    if groups and compare:
        mine = [g for g in groups if g.group.casefold() in compare]
        rest = [g for g in groups if g.group.casefold() not in compare]
        # Every group compared: the summary's own list by group already answers, in order.
        if mine and rest:
            said = ", ".join(f"{g.group} {pct(g.share)} ({g.people:,} of {g.of_group:,})"
                             for g in mine)
            if len(mine) == 1 and rest:
                said += " against " + ", ".join(f"{g.group} {pct(g.share)}" for g in rest[:4])
            return f"Share who did {r.event} by {r.by}: {said}."
    ranked = re.search(r"\b(best|top|highest|strongest|worst|lowest|weakest)\b", question)
    if groups and len(groups) >= 2 and ranked and not compare:
        # "best utm_source?", "worst lead source": that group first, then the others in order.
        worst = ranked.group(1) in ("worst", "lowest", "weakest")
        order = sorted(groups, key=lambda g: (g.share if worst else -g.share, g.group))
        first = order[0]
        return (f"The {ranked.group(1)} {r.by} for {r.event} is {first.group}: "
                f"{pct(first.share)} of its {first.of_group:,} people did it, against "
                + ", ".join(f"{g.group} {pct(g.share)}" for g in order[1:5]) + ".")
    if re.search(r"\bwhen\b", question) and r.periods and r.people:
        # "how many hit a signup error, and when?": the weeks (or months) it happened in.
        busy = [p for p in r.periods if p.people]
        def named(p: Any) -> str:
            return (f"the week of {p.period:%Y-%m-%d}" if r.interval == "week"
                    else f"{p.period:%Y-%m}")
        if len(busy) == 1:
            when = f"all in {named(busy[0])}"
        elif len(busy) <= 4:
            when = "in " + ", ".join(f"{named(p)} ({p.people:,})" for p in busy)
        else:
            top = max(busy, key=lambda p: (p.people, p.period))
            when = (f"from {named(busy[0])} to {named(busy[-1])}, most in {named(top)} "
                    f"({top.people:,})")
        share = (f", {pct(r.people / r.people_in_scope)} of the {r.people_in_scope:,} people in "
                 "scope" if r.people_in_scope else "")
        return f"{r.people:,} people did {r.event} ({r.times:,} times{share}), {when}."
    if re.search(OVER_TIME, getattr(frame, "question", "").lower()) and r.periods:
        recent = r.periods[-12:]
        return f"{r.event} by {r.interval}: " + ", ".join(
            f"{p.period:%Y-%m}" + (f"-{p.period:%d}" if r.interval == "week" else "")
            + f" {p.people:,}" for p in recent) + "."
    return ""


def _funnel(r: Any, frame: Any) -> str:
    if r.groups or not 2 <= len(r.steps) <= 4:
        return ""
    moves = []
    for before, step in zip(r.steps, r.steps[1:]):
        if before.customers:
            moves.append(f"{before.events[0]} -> {step.events[0]} "
                         f"{pct(step.conversion_from_previous)} ({step.customers:,} of "
                         f"{before.customers:,})")
    return ("Conversion: " + "; ".join(moves) + ".") if len(r.steps) > 2 and moves else ""


def _diagnose(r: Any, frame: Any) -> str:
    moves = [f"{t.from_stage} -> {t.to_stage} {pct(t.conversion)} ({t.lost:,.0f} lost a month"
             + (f", {t.lost_in_period:,.0f} a {t.period}" if t.lost_in_period else "") + ")"
             for t in r.transitions]
    text = ("Step by step: " + "; ".join(moves) + ".") if moves else ""
    if r.issues:
        # "Does this add up?": which numbers do not, in the deck's own words.
        text += " What does not add up: " + " ".join(
            i.message.rstrip(".") + "." for i in r.issues[:4])
    return text.strip()


def _plan(r: Any, frame: Any) -> str:
    if not r.initiatives:
        return ""
    lines = [f"{i.rank}. {i.title}: KPI {i.kpi} ({_expected(i)}); {_impact(i)}; owner "
             f"{i.owner}; test: {_holdout(i.experiment)}" for i in r.initiatives]
    return f"Quick wins for {r.quarter}:\n" + "\n".join(lines) + "\n"


def _expected(i: Any) -> str:
    if i.expected_high < i.expected_low:  # a cancel rate: lower is better
        return (f"today {pct(i.baseline)}, expected down to {pct(i.expected_high)}-"
                f"{pct(i.expected_low)}")
    return f"today {pct(i.baseline)}, expected {pct(i.expected_low)}-{pct(i.expected_high)}"


def _impact(i: Any) -> str:
    low, high = i.expected_customers_per_month
    sign = "" if i.impact_unit.startswith("fewer") else "+"
    shown = [f"{x:,.1f}" if abs(x) < 10 else f"{x:,.0f}" for x in (low, high)]
    return f"{sign}{shown[0]} to {sign}{shown[1]} {i.impact_unit}"


def _holdout(experiment: Any) -> str:
    read = ("readable in the quarter" if experiment.readable_in_quarter
            else "not readable within the quarter")
    return f"{experiment.design}, holdout {pct(experiment.holdout_share, 0)}, {read}"


def _journey_model(r: Any, frame: Any) -> str:
    """"is Proposal Sent part of the main funnel?": that step, in or out, and why."""
    said = []
    for step in getattr(frame, "steps", []) or []:
        if step in (r.conversion_event, r.churn_event):
            continue
        evidence = next((s for s in r.steps if s.event_name == step), None)
        if step in r.funnel:
            said.append(f"Yes: {step} is step {r.funnel.index(step) + 1} of {len(r.funnel)} of "
                        f"the main journey.")
        elif evidence is not None:
            share = (f" {pct(evidence.share_of_converters)} of those who reached "
                     f"{r.conversion_event} did it first." if evidence.share_of_converters
                     is not None else "")
            why = f" ({evidence.why_not})" if evidence.why_not else ""
            said.append(f"No: {step} is not on the main journey{why}; {evidence.people:,} "
                        f"people did it.{share}")
        else:
            said.append(f"No: {step} is not on the main journey.")
    return " ".join(said)


def _retention(r: Any, frame: Any) -> str:
    """"which cohort retains worst?": the cohorts compared at period 1 (every cohort but the
    youngest can show it), and at period 3 where several can."""
    fmt = "%Y-%m" if r.period == "month" else "%Y-%m-%d"
    said = []
    for offset in (1, 3):
        rated = [(c.rates[offset], c) for c in r.cohorts
                 if len(c.rates) > offset and c.rates[offset] is not None and c.size >= 10]
        if len(rated) < 2:
            continue
        worst, best = min(rated, key=lambda x: x[0]), max(rated, key=lambda x: x[0])
        said.append(f"in {r.period} {offset}, the worst cohort is {worst[1].cohort:{fmt}} "
                    f"({pct(worst[0])} of {worst[1].size:,}) and the best "
                    f"{best[1].cohort:{fmt}} ({pct(best[0])} of {best[1].size:,})"
                    + (" [" + ", ".join(f"{c.cohort:{fmt}} {pct(x)}" for x, c in rated) + "]"
                       if offset == 1 else ""))
    return ("By cohort: " + "; ".join(said) + ".") if said else ""


def _segments(r: Any, frame: Any) -> str:
    if not r.segments:
        return ""
    return "Segments: " + "; ".join(
        f"{s.segment} '{s.name}' {s.size:,} people ({pct(s.share)})"
        + (f", {pct(s.conversion_rate)} convert" if s.conversion_rate is not None else "")
        for s in r.segments) + "."


def _sessions(r: Any, frame: Any) -> str:
    if not r.by or len(r.groups) < 2:
        return ""
    return f"By {r.by}: " + "; ".join(
        f"{g.group} {g.sessions:,} sessions by {g.people:,} people"
        + (f" ({g.sessions_per_person_mean:.1f} per person)" if g.sessions_per_person_mean
           is not None else "") for g in r.groups) + "."


def _journey_map(r: Any, frame: Any) -> str:
    """Side by side: where the groups' journeys differ most, first."""
    if len(r.compared) < 2:
        return ""
    said = []
    for row, step in r.differs:
        cells = [(value, next(c for c in cols if c.step == step).cells[row])
                 for value, cols in r.compared]
        if row == "people":
            said.append(f"The journeys differ most at {step}: " + ", ".join(
                f"{value} {pct(cell.value)}" for value, cell in cells if cell.value is not None)
                + " go on to the next step.")
        elif row == "feeling":
            stage = next(c for c in r.compared[0][1] if c.step == step).stage
            said.append(f"Feeling at the {stage} stage: " + "; ".join(
                f"{value} {cell.text}" for value, cell in cells) + ".")
    if not any(row == "people" for row, _ in r.differs):
        said.append("At every step the share going on differs by less than 5 points.")
    title = (f"The journey map {' and '.join(v for v, _ in r.compared)}, side by side."
             if r.compare_by == "period" else
             f"The journey map by {r.compare_by} ({', '.join(v for v, _ in r.compared)}).")
    return (title + " " + " ".join(said)).strip()


LEADS = {"funnel": _funnel, "journey_map": _journey_map, "journey_model": _journey_model,
         "retention": _retention, "segments": _segments, "sessions": _sessions,
         "diagnose": _diagnose, "plan": _plan, "friction": _friction,
         "next_steps": _next_steps, "themes": _themes, "attribution": _attribution,
         "paths": _paths, "moments": _moments, "event_counts": _event_counts}


def changes_in_period(r: Any, period: dict) -> str:
    """"What changed in August?": the changes the scan flagged that overlap the period asked
    about (the scan itself runs over all the data, so August has a baseline before it)."""
    since, until = period["since"], period["until"]
    # Changes that began in the period; else any that overlap it.
    inside = [c for c in r.changes if since <= c.start.date().isoformat() <= until] or [
        c for c in r.changes
        if c.start.date().isoformat() <= until and c.last_day.date().isoformat() >= since]
    # The sharpest swings first: a step that fell 90% matters more than a broad 10% drift.
    inside.sort(key=lambda c: (c.kind != "step", -_relative(c)))
    label = period.get("label") or f"{since} to {until}"
    if not inside:
        return (f"No change was flagged in {label} after correcting for every test "
                f"({r.tests:,} tests over all the data).")
    said = []
    for c in inside[:4]:
        metric = c.metric.removeprefix("event: ")
        share = " of active people" if c.kind == "event" else ""
        where = (f", concentrated in {c.concentrated_in[0].dimension} "
                 f"{c.concentrated_in[0].value}" if c.concentrated_in else "")
        said.append(f"{metric} {c.direction} from {pct(c.rate_before)} to {pct(c.rate_during)}"
                    f"{share} between {c.start.date()} and {c.last_day.date()} "
                    f"({c.people:,} people{where})")
    more = len(inside) - len(said)
    # The answer's lead already names the period.
    return ("Flagged changes: " + "; ".join(said) + "."
            + (f" {more} other change(s) in that period." if more > 0 else ""))


def _relative(change: Any) -> float:
    before, during = change.rate_before, change.rate_during
    if during is None or before is None:
        return 0.0
    if not before:
        return float("inf") if during else 0.0  # from nothing: an error that appeared
    return abs(during - before) / before
