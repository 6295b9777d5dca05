"""The quarterly plan from the event store: one initiative per friction the data show (a step,
optionally for one segment), each with the evidence about that step and segment only, an
expected impact at the journey's last stage, and a test designed for the traffic it has.

Expected change within a quarter: closing 25% (low) to 60% (high) of a gap, the gap being the
segment's distance to the rest of the people (or, for cancelling, the rest's rate); for a step
with only behavioural evidence, a 5-15% relative lift; for a retention lever, 10% (low) to 25%
(high) of the people who do not take the action in the week starting to, each then cancelling
as those who do. Impact at the last stage multiplies a step's extra people by the share who go
on from the step to the conversion; revenue, by the average value of a conversion where the
conversion event carries one. Benchmarks are for pasted metrics (plan.py): loaded data have
their own groups to compare with.
"""

from __future__ import annotations

import re

from analytics.anomalies import key_steps
from analytics.catalog import Catalog, load_catalog
from analytics.diagnosis.experiment import design_experiment
from analytics.diagnosis.frictions import (
    Evidence,
    Friction,
    breakdown_dimensions,
    churn_gap,
    months_of_data,
    retention_lever,
    segment_gaps,
)
from analytics.diagnosis.plan import (
    EVIDENCE_LIFT,
    GAP_CLOSED,
    GENERIC_PLAYS,
    Initiative,
    PlanResult,
    finish_plan,
    next_quarter,
    playbook,
)
from analytics.errors import JourneyError
from analytics.funnel import funnel
from analytics.journey_names import REVENUE_KEYS
from analytics.results import pct
from analytics.store.connection import Connection

UPTAKE = (0.10, 0.25)  # of people not taking a retention action in the week, who start to
CHURN_DELAY_WEEKS = 4  # a cancellation is seen about a month after the change reaches someone
MAX_ITEMS = 7
MIN_MONTHLY_IMPACT = 1.0  # people a month at the last stage, at the high end


def store_plan(con: Connection, *, quarter: str | None = None, business_model: str = "b2b-saas",
               feedback_index=None, conversion: str | None = None, churn: str | None = None,
               attribute_values: dict[str, list[str]] | None = None,
               feedback: tuple | None = None) -> PlanResult:
    """`feedback`: the themes result and the snippets, when the caller holds them already."""
    quarter = quarter or next_quarter()
    steps = key_steps(con)
    if len(steps) < 2:
        raise JourneyError("The store has too few journey steps for a plan; load events first")
    months = months_of_data(con, steps[0])
    catalog = load_catalog(con)  # once: every analytic below checks its names against it
    overall = funnel(con, steps, catalog=catalog)
    values = attribute_values or {}
    frictions = segment_gaps(con, steps, overall, months, breakdown_dimensions(values), catalog)
    stepped = {(f.step_from, f.step_to) for f in frictions}
    frictions += _step_frictions(con, steps, overall, months, stepped, catalog)
    if conversion and churn:
        for found in (churn_gap(con, conversion, churn, months, values, catalog),
                      retention_lever(con, conversion, churn, months, catalog,
                                      anchors=[s for s in steps if s != conversion])):
            if found is not None:
                frictions.append(found)
    said = feedback or _feedback(feedback_index)
    value = _value_per_conversion(con, conversion or steps[-1])
    book = playbook()
    stage_of = dict(con.execute("SELECT event_name, stage FROM stage_map").fetchall())
    used: set[str] = set()
    candidates = []
    for f in frictions:
        _add_step_evidence(con, f, feedback_index, said, catalog)
        item = _initiative(f, steps, stage_of, book, used, value, conversion or steps[-1])
        if item is not None:
            candidates.append(item)
    candidates.sort(key=lambda i: (-i.score, i.title))
    # A change worth less than one person a month at the last stage, even at its best, is not
    # worth a quarter's slot: said, not planned.
    small = [i for i in candidates if i.expected_customers_per_month[1] < MIN_MONTHLY_IMPACT]
    candidates = [i for i in candidates if i not in small]
    chosen = candidates[:MAX_ITEMS]
    left_out = [f"{i.title} ({i.targets}): ranked {n} of {len(candidates)}, below the seven "
                f"the quarter can hold" for n, i in enumerate(candidates[MAX_ITEMS:],
                                                             start=MAX_ITEMS + 1)]
    left_out += [f"{i.title} ({i.targets}): at most {i.expected_customers_per_month[1]:.1f} "
                 f"{i.impact_unit}, too small for a quarter's slot" for i in small]
    left_out += _not_frictions(steps, overall, frictions)
    left_out += _incidents(con, steps, catalog)
    if not chosen:
        raise JourneyError("No friction in the data is large enough for a plan: no step is "
                           "below its range, no group converts far below the rest, and no "
                           "customers cancel far more than others.")
    first, last = con.execute("SELECT min(ts), max(ts) FROM events").fetchone() or (None, None)
    span = f"{first:%Y-%m-%d} to {last:%Y-%m-%d}" if first and last else "the loaded data"
    return finish_plan(chosen, quarter=quarter, left_out=left_out, basis=(
        f"the loaded events, {span} ({overall.steps[0].customers:,} people reaching "
        f"{steps[0]}, {months:.1f} months of arrivals; main journey {' > '.join(steps)})"))


def _step_frictions(con: Connection, steps: list[str], overall, months: float,
                    taken: set[tuple[str, str]], catalog: Catalog) -> list[Friction]:
    """Steps where those who leave do something those who go on rarely do (an error, a
    support contact), and no segment's gap already explains it."""
    from analytics.feedback.friction import friction

    found = []
    for k in range(1, len(steps)):
        a, b = steps[k - 1], steps[k]
        n, x = overall.steps[k - 1].customers, overall.steps[k].customers
        if (a, b) in taken or n < 30 or not 0 < x < n:
            continue
        try:
            f = friction(con, None, a, next_step=b, catalog=catalog)
        except JourneyError:
            continue
        setbacks = [i for i in (f.behaviour.instead if f.behaviour else [])
                    if i.kind in ("setback", "support") and i.lift and i.lift >= 2
                    and i.dropped_share >= 0.1 and i.dropped_people >= 10]
        if not setbacks:
            continue
        top = setbacks[0]
        rate = x / n
        item = Friction(kind="step", step_from=a, step_to=b, segment=[], rate=rate,
                        reference=None, reference_label="", monthly_people=n / months,
                        downstream=(overall.steps[-1].customers / x) if x else 0.0,
                        increase=True)
        item.evidence.append(Evidence(
            f"of the {f.dropped:,} who did {a} and never {b}, {pct(top.dropped_share, 0)} did "
            f"{top.event} (against {pct(top.passed_share, 0)} of those who went on)",
            f"journey friction {_q(a)} --next {_q(b)}"))
        found.append(item)
    return found


def _feedback(feedback_index) -> tuple | None:
    """The feedback themes and snippets, computed once for every step's evidence."""
    if feedback_index is None:
        return None
    from analytics.feedback.themes import themes

    try:
        return themes(feedback_index), feedback_index.all_snippets()[0]
    except JourneyError:
        return None  # too little feedback for themes: the behaviour speaks alone


def _add_step_evidence(con: Connection, f: Friction, feedback_index, said: tuple | None,
                       catalog: Catalog) -> None:
    """What those of the segment who left the step ran into, and said: this step and
    segment only."""
    if f.kind != "segment gap":
        return
    from analytics.diagnosis.frictions import _filters
    from analytics.feedback.friction import friction

    use_feedback = feedback_index is not None and said is not None
    try:
        result = friction(con, feedback_index if use_feedback else None, f.step_from,
                          next_step=f.step_to, filters=_filters(f.segment),
                          themes_result=said[0] if use_feedback and said else None,
                          snippets=said[1] if use_feedback and said else None, catalog=catalog)
    except JourneyError:
        return
    where = " ".join(f"--{a} {_q(v)}" if a in ("device", "channel") else
                     f"--where {_q(f'{a}={v}')}" for a, v in f.segment)
    command = f"journey friction {_q(f.step_from)} --next {_q(f.step_to)} {where}".strip()
    setbacks = [i for i in (result.behaviour.instead if result.behaviour else [])
                if i.kind in ("setback", "support") and i.lift and i.lift >= 2
                and i.dropped_share >= 0.2 and i.dropped_people >= 10]
    if setbacks:
        top_setback = setbacks[0]
        f.setback = top_setback.event
        f.evidence.append(Evidence(
            f"of the {result.dropped:,} {f.segment_words} people who left, "
            f"{pct(top_setback.dropped_share, 0)} then did {top_setback.event} (against "
            f"{pct(top_setback.passed_share, 0)} of those who went on)", command))
    if result.themes and result.dropped_with_feedback >= 5:
        top = result.themes[0]
        if top.lift is None or top.lift >= 1.5:
            quote = f" (\u201c{top.quotes[0]['text']}\u201d)" if top.quotes else ""
            f.evidence.append(Evidence(
                f"{pct(top.dropped_share, 0)} of the {result.dropped_with_feedback:,} who left "
                f"and wrote to us mention '{top.label}'{quote}", command))


def _initiative(f: Friction, steps: list[str], stage_of: dict[str, str], book: dict,
                used: set[str], value: float | None, conversion: str) -> Initiative | None:
    stage = _stage_key(f, stage_of)
    play = _play(f, book.get(stage, []), used)
    used.add(play["title"])
    weekly = f.monthly_people * 12 / 52
    if f.kind == "retention lever":
        return _lever_initiative(f, play, weekly)
    low, high = _expected(f)
    if f.increase and not f.rate < low < high < 1 or not f.increase and not 0 < high < low < \
            f.rate:
        return None
    monthly_at_last = (f.monthly_people * f.downstream) if f.increase else f.monthly_people
    gain_low = abs(low - f.rate) * monthly_at_last
    gain_high = abs(high - f.rate) * monthly_at_last
    unit = f"more {conversion} a month" if f.increase else "fewer cancellations a month"
    population = (f"{f.segment_words} people reaching {f.step_from}" if f.segment and f.increase
                  else f"{f.segment_words} customers" if f.segment else
                  "new customers" if not f.increase else f"people reaching {f.step_from}")
    experiment = design_experiment(f.rate, low, high, weekly,
                                   build_weeks=_build(play["effort"]), increase=f.increase,
                                   outcome_delay_weeks=0 if f.increase else CHURN_DELAY_WEEKS,
                                   population=population)
    confidence = 0.5 + 0.2 * (len(f.evidence) > 1) + 0.1 * (f.p_value is not None
                                                              and f.p_value < 1e-6)
    score = (gain_low + gain_high) / 2 * confidence / play["effort"]
    kpi = (f"{f.step_from} -> {f.step_to} conversion" if f.increase
           else f"{f.step_to} rate among customers")
    if f.segment:
        kpi += f" ({f.segment_words})"
    revenue = ((gain_low * value, gain_high * value) if value and f.increase else (None, None))
    return Initiative(
        rank=0, title=_title(f, play), targets=_targets(f),
        evidence=[e.text for e in f.evidence], sources=[e.source for e in f.evidence],
        change=_change(f, play), kpi=kpi, baseline=f.rate, expected_low=low,
        expected_high=high, expected_customers_per_month=[gain_low, gain_high],
        owner=play["owner"], effort=play["effort"], reach=f.monthly_people,
        confidence=confidence, score=score, timeline=[], experiment=experiment,
        why=_why(f, conversion), kind=f.kind, segment=f.segment_words,
        step=f"{f.step_from} -> {f.step_to}",
        impact_unit=unit, revenue_low=revenue[0], revenue_high=revenue[1],
        audience=_audience(f))


def _lever_initiative(f: Friction, play: dict, weekly: float) -> Initiative | None:
    """A prompt toward the action: its test reads the action's uptake (what the prompt moves
    first, and soon); fewer cancellations follow only if the correlation is causal, so they
    are the impact's estimate and the test's later, second read."""
    if f.lever_with is None or f.lever_without is None or not 0 < f.doers_share < 1:
        return None
    base = f.doers_share
    low, high = (base + u * (1 - base) for u in UPTAKE)
    fewer = f.lever_without - f.lever_with
    # More people acting in their first week, of whom this share go on to buy, each then
    # cancelling as those who acted do.
    gain_low, gain_high = ((x - base) * f.monthly_people * f.downstream * fewer
                           for x in (low, high))
    experiment = design_experiment(base, low, high, weekly, build_weeks=_build(play["effort"]),
                                   outcome_delay_weeks=1,
                                   population=f"people who did {f.step_from}")
    experiment.note += (f" Cancellation ({pct(f.lever_without)} among customers who did not "
                        f"act, {pct(f.lever_with)} among those who did) is read later, as the "
                        f"second outcome.")
    return Initiative(
        rank=0, title=play["title"], targets=_targets(f),
        evidence=[e.text for e in f.evidence], sources=[e.source for e in f.evidence],
        change=play["change"], kpi=f"{f.action} within 7 days of {f.step_from}", baseline=base,
        expected_low=low, expected_high=high, expected_customers_per_month=[gain_low,
                                                                           gain_high],
        owner=play["owner"], effort=play["effort"], reach=f.monthly_people,
        confidence=0.6, score=(gain_low + gain_high) / 2 * 0.6 / play["effort"], timeline=[],
        experiment=experiment, why=_why(f, f.step_from), kind=f.kind,
        step=f"{f.step_from} -> {f.step_to}", impact_unit="fewer cancellations a month",
        audience=_audience(f))


def _expected(f: Friction) -> tuple[float, float]:
    if f.reference is not None:
        gap = f.reference - f.rate
        return f.rate + GAP_CLOSED[0] * gap, f.rate + GAP_CLOSED[1] * gap
    low, high = (min(f.rate * (1 + r), 0.99) for r in EVIDENCE_LIFT)
    return low, high


def _stage_key(f: Friction, stage_of: dict[str, str]) -> str:
    a, b = stage_of.get(f.step_from, ""), stage_of.get(f.step_to, "")
    if not f.increase:
        return "purchase->retention"
    return f"{a}->{b}" if a != b else f"{a}->{a}"


def _play(f: Friction, plays: list[dict], used: set[str]) -> dict:
    """The playbook's play for this part of the journey whose words best match the evidence
    (billing tickets -> the billing play), not one already in the plan."""
    if f.kind == "retention lever":
        return {"title": f"Prompt {f.action} in the first week after {f.step_from}", "owner":
                "Lifecycle marketer", "effort": 1, "change": f"Email and in-app prompts "
                f"toward {f.action} in the 7 days after {f.step_from}, for those who have not "
                f"done it."}
    words = set(re.findall(r"[a-z]{4,}", " ".join(e.text for e in f.evidence).lower()))
    free = [p for p in plays if p["title"] not in used] or []
    if f.setback and not free:
        # What those who leave run into names the fix: an error is an engineering job.
        return {"title": f"Fix {f.setback}", "owner": "Product manager", "effort": 2,
                "change": f"Find and fix what makes people hit {f.setback} at {f.step_from}, "
                          f"then test the fix against a holdout."}
    dims = {a for a, _ in f.segment}
    if not free and "channel" in dims:
        # Visitors from an ad cannot be asked why: their promise and landing page can change.
        return {"title": "", "owner": "Performance marketer", "effort": 1,
                "change": f"Align the channel's targeting, creative and landing page with what "
                          f"{f.step_from} offers; test the new version against the current "
                          f"one."}
    if not free and "device" in dims:
        return {"title": "", "owner": "Product manager", "effort": 2,
                "change": f"Review {f.step_from} on that device (speed, layout, what does not "
                          f"work), fix what stops people, and test the fix against a holdout."}
    if not free:
        return dict(GENERIC_PLAYS[0])
    return max(free, key=lambda p: len(words & set(re.findall(r"[a-z]{4,}", (
        p["title"] + " " + p["change"]).lower()))))


def _title(f: Friction, play: dict) -> str:
    if f.kind == "segment gap":
        return f"Close the {f.segment_words} gap at {f.step_from} -> {f.step_to}"
    if f.kind == "churn gap":
        return f"Keep {f.segment_words} customers from cancelling"
    return play["title"]


def _change(f: Friction, play: dict) -> str:
    if f.kind == "segment gap":
        return f"For {f.segment_words} only: {play['change']}"
    if f.kind == "churn gap":
        return f"For {f.segment_words} customers: {play['change']}"
    return play["change"]


def _targets(f: Friction) -> str:
    if f.kind == "segment gap":
        return (f"{f.target}: {pct(f.rate)} against {pct(f.reference)} for {f.reference_label} "
                f"({f.monthly_people:,.0f} people a month)")
    if f.kind == "churn gap":
        return (f"{f.segment_words} customers: {pct(f.rate)} cancel against {pct(f.reference)} "
                f"of {f.reference_label} ({f.monthly_people:,.0f} new customers a month)")
    if f.kind == "retention lever":
        return (f"people who did {f.step_from}: {pct(f.doers_share)} do {f.action} within 7 "
                f"days ({f.monthly_people:,.0f} a month; {pct(f.downstream)} of them become "
                f"customers)")
    return (f"{f.target}: {pct(f.rate)} go on ({f.monthly_people:,.0f} people a month)")


def _why(f: Friction, conversion: str) -> str:
    if f.kind == "segment gap":
        full = f.gap_people()
        return (f"If {f.segment_words} converted like {f.reference_label} at {f.step_from} -> "
                f"{f.step_to}: about +{full:,.0f} {conversion} a month (the whole gap, at the "
                f"journey's last stage); the plan aims at 25%-60% of it this quarter.")
    if f.kind == "churn gap":
        return (f"These customers cancel {f.rate / (f.reference or 1):.1f}x as often as the rest: "
                f"about {f.gap_people():,.0f} cancellations a month beyond the rest's rate.")
    if f.kind == "retention lever":
        return (f"Customers who did {f.action} in the week after {f.step_from} cancel far less "
                f"({pct(f.lever_with)} against {pct(f.lever_without)}); only "
                f"{pct(f.doers_share)} do it. A correlation: the test is what shows whether "
                f"prompting it keeps customers.")
    return ("Those who leave here run into something those who go on rarely do: a fix for it "
            "is specific, not a general redesign.")


def _audience(f: Friction) -> dict:
    """Who the initiative reaches, as a filter an audience can be saved from."""
    people: dict = {"reached": f.step_from}
    for attribute, value in f.segment:
        if attribute in ("device", "channel"):
            people[attribute] = value
        else:
            people.setdefault("where", {})[attribute] = value
    if f.kind == "retention lever":
        people["not_did"] = f.action  # within 7 days of the step: the ones to prompt
    elif not f.increase:
        people["did"] = f.step_from
    return people


def _not_frictions(steps: list[str], overall, frictions: list[Friction]) -> list[str]:
    """The steps considered and left out, in one sentence each."""
    targeted = {(f.step_from, f.step_to) for f in frictions}
    out = []
    for k in range(1, len(steps)):
        rate = overall.steps[k].conversion_from_previous
        if (steps[k - 1], steps[k]) in targeted or rate is None or rate >= 0.99:
            continue  # planned, or no one leaves there
        lost = overall.steps[k].dropped
        out.append(f"{steps[k - 1]} -> {steps[k]} ({pct(rate)}, {lost:,} people lost in all): "
                   f"no group converts far below the rest and those who leave show no "
                   f"specific setback, so there is no specific fix to test")
    return out


def _incidents(con: Connection, steps: list[str], catalog: Catalog) -> list[str]:
    """Drops that came and went (an outage, a broken release): not a quarter's initiative, but
    worth an alert so the next one is seen in days."""
    from analytics.anomalies import anomalies

    try:
        result = anomalies(con, steps=steps, watch_events=False, catalog=catalog)
    except JourneyError:
        return []
    row = con.execute("SELECT max(ts) FROM events").fetchone()
    end = row[0].date() if row and row[0] else None
    out = []
    for c in result.changes:
        if c.kind != "step" or c.direction != "fell" or end is None:
            continue
        if (end - c.last_day.date()).days < 28:
            continue  # still going on at the data's end (or the data simply stop): not over
        where = (f", concentrated in {c.concentrated_in[0].dimension} "
                 f"{c.concentrated_in[0].value}" if c.concentrated_in else "")
        out.append(f"{c.metric} fell from {pct(c.rate_before)} to {pct(c.rate_during)} between "
                   f"{c.start.date()} and {c.last_day.date()}{where}, then recovered: a "
                   f"one-off incident, not a quarter's initiative (the weekly what-changed "
                   f"scan, journey anomalies, catches the next one)")
    return out


def _value_per_conversion(con: Connection, event: str) -> float | None:
    keys = {r[0] for r in con.execute(
        "SELECT DISTINCT unnest(json_keys(properties)) FROM events WHERE event_name = ? AND "
        "json_type(properties) = 'OBJECT'", [event]).fetchall()}
    for key in REVENUE_KEYS:
        if key in keys and '"' not in key and "'" not in key:
            row = con.execute(
                f"SELECT avg(TRY_CAST(json_extract_string(properties, '$.\"{key}\"') AS DOUBLE)) "
                "FROM events WHERE event_name = ?", [event]).fetchone()
            if row and row[0]:
                return float(row[0])
    return None


def _build(effort: int) -> int:
    from analytics.diagnosis.schedule import build_weeks

    return build_weeks(effort)


def _q(name: str) -> str:
    return f"'{name}'" if " " in name else name

