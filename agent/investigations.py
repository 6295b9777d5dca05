"""Investigations: the tools a question's frame needs, composed, and the answer they support.

Each investigation runs its tools through the conversation's session (so every figure has a
result id), then writes the direct answer first (the number, the period, the people), the
evidence, and one next step. "Why did X drop in P?" finds when (X's weekly rate in P against
its baseline), where (the breakdown by device and channel in that week), what the leavers did
(behavioural friction and feedback for that week); "who should we call?" lists people;
"what next for C?" gives that person's action or says they opted out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from agent.frame import Frame
from agent.leads import lead
from tools.base import ToolResult

Call = Callable[[str, dict], ToolResult]


class Investigation:
    """The calls made and the paragraphs written, in order."""

    def __init__(self, call: Call) -> None:
        self._call = call
        self.results: list[ToolResult] = []
        self.parts: list[str] = []
        # What the investigation settled on, for the follow-up to lean on: "steps" (the move
        # that fell) and "period" (the window it fell in).
        self.focus: dict[str, Any] = {}

    def call(self, tool: str, arguments: dict) -> ToolResult:
        result = self._call(tool, arguments)
        self.results.append(result)
        return result

    def say(self, text: str | None) -> None:
        if text and text not in self.parts:
            self.parts.append(text)

    def text(self) -> str:
        return "\n\n".join(self.parts)


def cite(result: ToolResult) -> str:
    return f" [{result.result_id}]" if result.result_id else ""


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def cannot(result: ToolResult) -> str:
    from agent.planner import said_problem

    return said_problem(result)


# -- the investigations --------------------------------------------------------------------------


def customer_next(inv: Investigation, frame: Frame, facts: dict) -> None:
    customer = frame.customer_ids[0]
    r = inv.call("next_best_action", {"customer_id": customer})
    if not r.ok:
        inv.say(cannot(r))
        return
    nba = r.result
    if nba.excluded_opted_out and not nba.recommendations:
        inv.say(f"{customer} opted out, so no action is suggested for them and they are "
                f"never put on a list{cite(r)}.")
        return
    if not nba.recommendations:
        inv.say(f"No action shows a clear link with reaching {nba.goal} for {customer}"
                f"{cite(r)}: {nba.summary}")
        return
    rec = nba.recommendations[0]
    inv.say(f"Next for {customer} ({rec.stage} stage, segment {rec.segment}): {rec.action}. "
            f"Customers like them who did it reached {nba.goal} at {pct(rec.goal_rate_if_done)} "
            f"against {pct(rec.goal_rate_if_not)} without{cite(r)}.")
    inv.say("This is observational: send it with a holdout group to measure its real effect.")


def people_to_call(inv: Investigation, frame: Frame, facts: dict) -> None:
    args: dict[str, Any] = {"top": 20, "filters": frame.filters(with_period=False)}
    r = inv.call("churn", args)
    if not r.ok:
        inv.say(cannot(r))
        return
    churn = r.result
    if not churn.at_risk:
        inv.say(f"No customer in scope is scored at risk{cite(r)}. {churn.summary}")
        return
    drivers = ", ".join(f"{d.feature.replace('_', ' ')} ({d.direction})"
                        for d in churn.drivers[:3])
    lines = [f"- {c.customer_id}: {pct(c.risk)} risk of churning in the next "
             f"{churn.horizon_days} days; last did {c.last_event}, {_days_ago(c.recency_days)}"
             for c in churn.at_risk[:10]]
    who = f" {frame.population_label}" if frame.population_label else ""
    if not facts.get("churn"):
        inv.say("Your data have no cancel event, so at risk here means likely to go quiet (no "
                "events for the churn horizon), not to cancel.")
    inv.say(f"Call these {min(10, len(churn.at_risk))} customers{who} first, most at risk first "
            f"(opted-out customers are never listed){cite(r)}:\n" + "\n".join(lines))
    auc = churn.holdout.roc_auc if churn.holdout else None
    if auc is not None and auc < WEAK_AUC:
        # A ranking no better than a coin must not be sold as one.
        inv.say(f"Caution: on held-out customers the churn model ranks no better than chance "
                f"(ROC AUC {auc:.2f}), so this order is weak evidence; use the list to reach "
                f"out, not to decide who not to contact.")
    # The summary names the drivers too: said once, here.
    summary = re.sub(r"\s*Main drivers: [^.]*\.", "", churn.summary)
    inv.say(f"Why they score high: {drivers}. {summary}")
    nba = inv.call("next_best_action", {"at_risk": True, "top": 10})
    if nba.ok and nba.result.recommendations:
        top = nba.result.recommendations[0]
        inv.say(f"What to offer: for at-risk customers the most helpful action is {top.action} "
                f"(`journey next-best-action --at-risk` lists one per customer){cite(nba)}.")


# Below this holdout ROC AUC a churn ranking is little better than chance.
WEAK_AUC = 0.6


def _days_ago(days: float) -> str:
    n = round(days)
    return "today" if n == 0 else f"{n} day ago" if n == 1 else f"{n} days ago"


def _week_of(value: Any) -> date:
    day = value.date() if isinstance(value, datetime) else value
    return day - timedelta(days=day.weekday())


def why_change(inv: Investigation, frame: Frame, facts: dict) -> None:
    """When the step fell (in the asked period), where (by device, channel), what leavers did."""
    steps = facts["key_steps"]
    # "why did MQL to SQL drop?": the move into the last step named; one step: into it.
    # Journey order, whatever the wording's ("signups from the pricing page" is pricing first).
    named = sorted((s for s in frame.steps if s in steps and steps.index(s) > 0), key=steps.index)
    target = named[-1] if len(frame.steps) >= 2 and named else next(iter(named), None)
    one = frame.steps[0] if len(frame.steps) == 1 else None
    if one in steps[:-1] and re.search(r"\b(cvr|conversion|rate|completion|complete\w*)\b",
                                       frame.question.lower()):
        target = steps[steps.index(one) + 1]  # "checkout CVR": the move out of checkout
    if target is None and frame.steps:
        target = frame.steps[-1]
    filters = frame.filters(with_period=False)
    watch = list(steps)
    if target and target not in watch:
        watch = [frame.steps[0], target] if len(frame.steps) > 1 and frame.steps[0] != target \
            else watch[:1] + [target]
    # The main journey is the scan's default: the same call as "what changed?" (and the warm-up).
    r = inv.call("anomalies", {"filters": filters} | ({"steps": watch} if watch != steps else {}))
    if not r.ok:
        inv.say(cannot(r))
        return
    result = r.result
    series = [s for s in result.series if s.kind == "step"]
    if target:
        series = [s for s in series if s.events and s.events[-1] == target] or series
    period = frame.period
    low = None
    for s in series:
        for w in s.weeks:
            day = w.week.date()
            if period and not (period["since"] <= day.isoformat() <= period["until"]):
                continue
            if w.rate is None or w.baseline is None or not w.complete or w.people < 5:
                continue
            gap = w.rate - w.baseline
            if low is None or gap < low[0]:
                low = (gap, s, w)
    dropped = _event_drop(result, target, period)
    said_drop = dropped is not None and not _step_fell(result, low)
    if said_drop:
        # The step's own event fell (a form that broke) where the step's rate, over the few
        # people of a week, is not conclusive: the flagged event change names the week.
        inv.say(f"{target} fell from {pct(dropped.rate_before)} to {pct(dropped.rate_during)} of "
                f"active people between {dropped.start.date()} and {dropped.last_day.date()} "
                f"({dropped.people:,} people; flagged after correcting for every test, p = "
                f"{dropped.p_adjusted:.2g}){cite(r)}.")
        monday = _week_of(dropped.start)
        low = next(((w.rate - w.baseline, st, w) for st in series for w in st.weeks
                    if w.week.date() == monday and w.rate is not None
                    and w.baseline is not None), None)
        if low is None and series:
            low = (0.0, series[0], None)  # no rate that week: the event's window is the answer
    when = f" in {period['label']}" if period else ""
    if low is None or (low[0] >= 0 and not said_drop):
        inv.say(f"I found no {result.grain}{when} where "
                f"{target or 'a journey step'} converted below its usual rate{cite(r)}. "
                + result.summary)
        return
    _, s, w = low
    start = w.week.date() if w is not None else _week_of(dropped.start)
    end = start + timedelta(days=(7 if result.grain == "week" else 1) - 1)
    change = next((c for c in result.changes if c.kind == "step" and c.metric == s.metric
                   and c.direction == "fell" and c.start.date() <= end
                   and start < c.end.date()), None)
    if change is not None:
        # A window the what-changed scan found (corrected for every test): say it whole.
        last = change.end.date() - timedelta(days=1)
        inv.say(f"{s.metric} fell from {pct(change.rate_before)} to {pct(change.rate_during)} "
                f"between {change.start.date()} and {last} ({change.people:,} people; flagged "
                f"after correcting for every test, p = {change.p_adjusted:.2g}); its lowest "
                f"{result.grain} was that of {start}: {pct(w.rate)} against a usual "
                f"{pct(w.baseline)}{cite(r)}." if w is not None else
                f"{s.metric} fell from {pct(change.rate_before)} to {pct(change.rate_during)} "
                f"between {change.start.date()} and {last}{cite(r)}.")
    elif w is not None:
        test = (f"p = {w.p_value:.2g} alone, {w.p_adjusted:.2g} after correcting for every "
                "test" + ("" if w.flagged else ": suggestive, not conclusive")
                if w.p_value is not None and w.p_adjusted is not None else
                "too few people to test")
        inv.say(f"{s.metric} was lowest in the {result.grain} of {start}: {pct(w.rate)} of "
                f"{w.people:,} people against a usual {pct(w.baseline)} ({test}){cite(r)}.")
    a, b = s.events[0], s.events[-1]
    window = {"since": start.isoformat(), "until": end.isoformat()}
    if change and change.concentrated_in:
        top = change.concentrated_in[0]
        inv.say(f"Where: it is concentrated in {top.dimension} {top.value} ({pct(top.rate_before)} "
                f"before, {pct(top.rate_during)} during){cite(r)}.")
    found = change.concentrated_in[0].dimension if change and change.concentrated_in else None
    if found is None or (frame.by and frame.by != found):
        # The breakdown the question asked for ("which app version?") first; not one the
        # population already fixes ("on android" leaves nothing to split by device).
        splits = [b for b in dict.fromkeys([frame.by] + (["device", "channel"] if found is None
                                                           else []))
                  if b and b not in filters]
        for by in splits:
            split = inv.call("funnel", {"steps": [a, b], "by": by,
                                        "filters": {**filters, **window}})
            if split.ok and split.result.groups:
                cells = [(g.group, g.steps[1].conversion_from_previous, g.steps[0].customers)
                         for g in split.result.groups if g.steps[0].customers >= 5]
                cells = [c for c in cells if c[1] is not None]
                if len(cells) >= 2:
                    worst = min(cells, key=lambda c: c[1])
                    inv.say(f"Where, by {by} that {result.grain}: " + ", ".join(
                        f"{g} {pct(rate)} ({n:,} people)" for g, rate, n in cells)
                        + f"; lowest: {worst[0]}{cite(split)}.")
                    break
    friction = inv.call("friction", {"step": a, "next_step": b,
                                     "filters": {**filters, **window}})
    if friction.ok:
        inv.say(f"What those who left did: {friction.result.summary}{cite(friction)}")
        quotes = [q for t in friction.result.themes[:2] for q in t.quotes[:1]]
        if quotes:
            inv.say("What they said: " + " ".join(
                f"\u201c{q['text']}\u201d ({q['source']}, {q['date']})" for q in quotes))
    began = change.start.date() if change is not None else start
    if change is not None:
        last = change.end.date() - timedelta(days=1)
        one_week = began.weekday() == 0 and (last - began).days == 6
        inv.focus = {"steps": [a, b], "period": {
            "since": began.isoformat(), "until": last.isoformat(),
            "label": f"the week of {began}" if one_week else f"{began} to {last}"}}
    else:
        inv.focus = {"steps": [a, b], "period": {**window, "label": (
            f"the {result.grain} of {start}" if result.grain == "week" else str(start))}}
    inv.say(f"Next: check what shipped or broke around {began} at {b}, fix it, and watch "
            f"{s.metric} weekly (`journey anomalies`).")


def _event_drop(result: Any, event: str | None, period: dict | None) -> Any:
    """The flagged fall of an event's share of active people, in the period asked about."""
    if not event:
        return None
    for c in result.changes:
        if c.kind != "event" or c.direction != "fell" or c.metric != f"event: {event}":
            continue
        if period and not (c.start.date().isoformat() <= period["until"]
                           and c.last_day.date().isoformat() >= period["since"]):
            continue
        return c
    return None


def _step_fell(result: Any, low: Any) -> bool:
    """Whether the scan flagged the step's own fall in the lowest week found."""
    if low is None:
        return False
    _, series, week = low
    start = week.week.date()
    return any(c.kind == "step" and c.metric == series.metric and c.direction == "fell"
               and c.start.date() <= start < c.end.date() for c in result.changes)


def budget(inv: Investigation, frame: Frame, facts: dict) -> None:
    filters = frame.filters()
    # "should we keep spending on display?": display against the other channels, so the
    # channel named is what is judged, not a filter that leaves it alone in the comparison.
    named = filters.pop("channel", None)
    named = [named] if isinstance(named, str) else list(named or [])
    r = inv.call("attribution", {"model": "markov", "filters": filters})
    if not r.ok:
        inv.say(cannot(r))
        return
    ranked = sorted(r.result.channels, key=lambda c: -c.credit)
    for channel in named:
        at = next((i for i, c in enumerate(ranked) if c.channel == channel), None)
        if at is not None:
            c = ranked[at]
            inv.say(f"{channel}: {pct(c.share)} of the credit for {r.result.conversion_event} "
                    f"({c.credit:,.1f} conversions; number {at + 1} of {len(ranked)} channels), "
                    f"{c.conversions_per_1000_reached:,.1f} conversions per 1,000 people it "
                    f"reached{cite(r)}.")
    inv.say(f"{r.result.summary}{cite(r)}")
    conversion = facts.get("conversion")
    steps = facts["key_steps"]
    if conversion and steps and steps[0] != conversion:
        split = inv.call("funnel", {"steps": [steps[0], conversion], "by": "channel",
                                    "filters": filters})
        if split.ok and split.result.groups:
            cells = sorted(((g.group, g.steps[-1].conversion_from_first, g.steps[0].customers)
                            for g in split.result.groups), key=lambda c: -(c[1] or 0))
            inv.say("Conversion by first channel (from " + steps[0] + " to " + conversion
                    + "): " + ", ".join(f"{g} {pct(rate)} of {n:,}" for g, rate, n in cells)
                    + cite(split) + ".")
    inv.say("Markov credit is observational: shift budget step by step and confirm with a geo "
            "or holdout test.")


def population_feedback(inv: Investigation, frame: Frame, facts: dict) -> None:
    r = inv.call("themes", {"filters": frame.filters()})
    if not r.ok:
        inv.say(cannot(r))
        return
    inv.say(f"{r.result.summary}{cite(r)}")
    lines = [f"- '{t.label}': {t.size:,} items ({pct(t.share)} of theirs, {pct(t.share_overall)} "
             f"of everyone's)" for t in r.result.themes[:4]]
    inv.say("Their themes:\n" + "\n".join(lines))
    top = max(r.result.themes, key=lambda t: (t.size * t.negative_share, t.size))
    if top.quotes:
        inv.say("In their words: " + " ".join(
            f"\u201c{q['text']}\u201d ({q['source']}, {q['date']})" for q in top.quotes[:2]))
    inv.say(f"Next: ask where '{top.label}' hurts most, and test a fix with a holdout group.")


def time_to_value(inv: Investigation, frame: Frame, facts: dict) -> None:
    args: dict[str, Any] = {"filters": frame.filters()}
    steps = frame.steps
    if len(steps) >= 2:
        args["from_event"], args["to_event"] = steps[0], steps[-1]
    elif steps:
        args["to_event"] = steps[0]
    if frame.by:
        args["by"] = frame.by
    r = inv.call("time_to_value", args)
    inv.say(f"{r.result.summary}{cite(r)}" if r.ok else cannot(r))


def sessions(inv: Investigation, frame: Frame, facts: dict) -> None:
    args: dict[str, Any] = {"filters": frame.filters()}
    if frame.by:
        args["by"] = frame.by
    r = inv.call("sessions", args)
    direct = lead(r, frame) if r.ok else ""
    inv.say(f"{direct} {r.result.summary}{cite(r)}".strip() if r.ok else cannot(r))


def model(inv: Investigation, frame: Frame, facts: dict) -> None:
    r = inv.call("journey_model", {})
    direct = lead(r, frame) if r.ok else ""
    inv.say(f"{direct} {r.result.summary}{cite(r)}".strip() if r.ok else cannot(r))
    inv.say("To change any part: `journey model set conversion|funnel|churn EVENTS`.")


def p_alive(inv: Investigation, frame: Frame, facts: dict) -> None:
    conversion = facts.get("conversion")
    if not conversion:
        inv.say("The data have no purchase event to count repeat buying by.")
        return
    r = inv.call("p_alive", {"purchase_event": conversion, "filters": frame.filters()})
    inv.say(f"{r.result.summary}{cite(r)}" if r.ok else cannot(r))


INVESTIGATIONS = {"customer": customer_next, "people": people_to_call,
                  "reason_change": why_change, "budget": budget, "duration": time_to_value,
                  "sessions": sessions, "model": model, "p_alive": p_alive,
                  "population_feedback": population_feedback}


def investigation_for(frame: Frame) -> str | None:
    """The investigation a frame needs, or None for the single-tool answers."""
    if frame.asks == "feedback" and frame.population:
        return "population_feedback"
    return frame.asks if frame.asks in INVESTIGATIONS else None


def suggested_calls(topic: str, frame: Frame, facts: dict) -> list[tuple[str, dict]]:
    """The tools an investigation would call, with the arguments known before it runs: the
    hint a language model gets (it may override them)."""
    filters = frame.filters()
    people = frame.filters(with_period=False)
    steps = frame.steps
    conversion = facts.get("conversion")
    first = (facts.get("key_steps") or [None])[0]
    if topic == "customer":
        return [("next_best_action", {"customer_id": frame.customer_ids[0]})]
    if topic == "people":
        return [("churn", {"top": 20, "filters": people}),
                ("next_best_action", {"at_risk": True, "top": 10})]
    if topic == "reason_change":
        step = steps[-1] if steps else None
        return [("anomalies", {"filters": people} | ({"steps": [first, step]}
                                                     if step and first and step != first
                                                     else {})),
                ("funnel", {"by": "device", "filters": filters}),
                ("friction", {"step": steps[0] if steps else first, "filters": filters})]
    if topic == "budget":
        return [("attribution", {"model": "markov", "filters": filters}),
                ("funnel", {"steps": [first, conversion], "by": "channel", "filters": filters})]
    if topic == "population_feedback":
        return [("themes", {"filters": filters})]
    if topic == "duration":
        args: dict[str, Any] = {"filters": filters}
        if len(steps) >= 2:
            args["from_event"], args["to_event"] = steps[0], steps[-1]
        return [("time_to_value", args)]
    if topic == "sessions":
        return [("sessions", {"filters": filters})]
    if topic == "model":
        return [("journey_model", {})]
    if topic == "p_alive":
        return [("p_alive", {"purchase_event": conversion, "filters": filters})]
    return []
