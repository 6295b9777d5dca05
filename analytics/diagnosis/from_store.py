"""The plan from the event store's own analytics instead of pasted numbers.

The key-step funnel (one step per stage) gives the monthly counts per stage; the evidence for
each step comes from the analytics: how devices differ (funnel by device), what customers who
dropped there said (friction), and the actions most linked with converting or staying (moments).
"""

from __future__ import annotations

from analytics.anomalies import key_steps
from analytics.diagnosis.diagnose import DiagnosisResult, diagnose
from analytics.diagnosis.parser import ParsedMetrics, StageMetrics
from analytics.errors import JourneyError
from analytics.funnel import funnel
from analytics.moments import moments
from analytics.paths import default_conversion_event
from analytics.results import pct
from analytics.store.connection import Connection, one


def store_diagnosis(con: Connection, business_model: str = "b2b-saas",
                    feedback_index=None) -> tuple[DiagnosisResult, dict[str, list[str]]]:
    steps = key_steps(con)
    if len(steps) < 2:
        raise JourneyError("The store has too few journey stages for a plan; load events first")
    months = one(con, "SELECT greatest(date_diff('day', CAST(min(ts) AS DATE), "
                      "CAST(max(ts) AS DATE)) / 30.4, 1) FROM events")[0]
    stage_of = dict(con.execute("SELECT event_name, stage FROM stage_map").fetchall())
    result = funnel(con, steps)
    parsed = ParsedMetrics(stages=[
        StageMetrics(name=stage_of.get(s.events[0], s.events[0]), count=s.customers / months,
                     count_as_written=f"{s.customers:,} people did {s.events[0]}",
                     unit=s.events[0], period="month")
        for s in result.steps], unread=[])
    diagnosis = diagnose(parsed, business_model)
    evidence: dict[str, list[str]] = {}
    by_device = funnel(con, steps, by="device")
    for t, i in zip(diagnosis.transitions, range(1, len(steps))):
        key = t.benchmark_key
        if not key:
            continue
        notes = evidence.setdefault(key, [])
        rates = {g.group: rate for g in by_device.groups
                 if (rate := g.steps[i].conversion_from_previous) is not None}
        if len(rates) >= 2:
            low = min(rates, key=lambda group: rates[group])
            high = max(rates, key=lambda group: rates[group])
            if rates[high] - rates[low] >= 0.05:
                notes.append(f"{steps[i - 1]} -> {steps[i]}: {low} {pct(rates[low])} vs {high} "
                             f"{pct(rates[high])} (funnel by device)")
        if feedback_index is not None:
            from analytics.feedback.friction import friction

            try:
                f = friction(con, feedback_index, steps[i - 1], next_step=steps[i])
            except JourneyError:
                f = None
            if f and f.themes and f.dropped_with_feedback >= 10:
                top = f.themes[0]
                notes.append(f"customers said: {pct(top.dropped_share, 0)} of those who left at "
                             f"{steps[i - 1]} mention '{top.label}'")
    conversion = default_conversion_event(con)
    if conversion:
        m = moments(con, conversion, pairs=False)
        if m.positive:
            best = m.positive[0]
            evidence.setdefault("evaluation->purchase", []).append(
                f"{best.moment} goes with {pct(best.outcome_rate_did)} conversion vs "
                f"{pct(best.outcome_rate_did_not)} without (moments; correlation)")
        churn = next((e for e in [r[0] for r in con.execute(
            "SELECT DISTINCT event_name FROM events").fetchall()]
            if "cancel" in e or "churn" in e), None)
        if churn:
            c = moments(con, churn, among=conversion, pairs=False, min_support=20)
            if c.negative:
                best = c.negative[0]
                evidence.setdefault("purchase->retention", []).append(
                    f"{best.moment}: {pct(best.outcome_rate_did)} cancel vs "
                    f"{pct(best.outcome_rate_did_not)} without (moments; correlation)")
    return diagnosis, evidence
