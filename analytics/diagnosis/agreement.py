"""Stated rates against the counts: each rate is checked on the transition it describes, and where
the two disagree both readings are given, naming the line.

A rate into a stage ("1,200 signups (30% of visitors)") is checked against this stage's count over
the previous one; a rate out of a stage ("Trials: 900, 30% go on to book a call", "35% leave after
the pricing page") against the next stage's count over this one. States ("80% weekly active") and
losses over time ("10% churn per year") are not steps of the funnel and are only listed.
"""

from __future__ import annotations

from dataclasses import dataclass

from analytics.diagnosis.parser import StageMetrics
from analytics.diagnosis.reading import RateReading, names_stage
from analytics.results import pct


@dataclass
class Issue:
    kind: str  # "larger than previous", "rate does not match counts", "impossible rate", ...
    message: str


def disagrees(stated: float, from_counts: float) -> bool:
    # A stated rate is rounded (30% for 29.6%), rarely off by a tenth of itself or more.
    return abs(stated - from_counts) > max(0.015, 0.1 * from_counts)


def _count(stage: StageMetrics) -> float:
    assert stage.count is not None  # callers pass counted stages only
    return stage.count


def rate_issues(counted: list[StageMetrics]) -> list[Issue]:
    """The stated rates on counted stages that the counts contradict, each with both readings."""
    issues: list[Issue] = []
    for i, stage in enumerate(counted):
        here = _count(stage)
        for reading in stage.readings:
            into = reading.into()
            if into is not None and i > 0:
                # "30% of visitors" is a share of the visitors line, wherever it is above.
                named = [s for s in counted[:i] if reading.base
                         and names_stage(reading.base, s.name, s.unit)]
                previous = named[-1] if named else counted[i - 1]
                before = _count(previous)
                from_counts = here / before if before else 0.0
                if disagrees(into, from_counts):
                    issues.append(Issue("rate does not match counts", (
                        f"Line '{stage.source_line}': {stage.name} states a {pct(into)} "
                        "conversion"
                        + ("" if previous is counted[i - 1] else f" from {previous.name}")
                        + f", but the counts give {pct(from_counts)} ({here:,.0f} / "
                        f"{before:,.0f}). Read by the rate, {stage.name} would be about "
                        f"{into * before:,.0f} a month; read by the counts, it is {here:,.0f}. "
                        "The diagnosis uses the counts.")))
            onward = reading.onward()
            if onward is not None and i + 1 < len(counted):
                following = counted[i + 1]
                after = _count(following)
                from_counts = after / here if here else 0.0
                if disagrees(onward, from_counts):
                    issues.append(Issue("rate does not match counts", (
                        f"Line '{stage.source_line}': '{reading.phrase}' means {pct(onward)} of "
                        f"{stage.name} move on, but the counts give {pct(from_counts)} to "
                        f"{following.name} ({after:,.0f} / {here:,.0f}). Read by the rate, "
                        f"{following.name} would be about {onward * here:,.0f} a month; read "
                        f"by the counts, it is {after:,.0f}. The diagnosis uses the counts.")))
    return issues


def onward_reading(stage: StageMetrics) -> RateReading | None:
    """The first rate on a stage that says how many move on from it, if any."""
    return next((r for r in stage.readings if r.onward() is not None), None)


def reading_notes(stages: list[StageMetrics]) -> list[str]:
    """Say which rates were read as states and as losses over time, so no one wonders why they
    are not in the conversion arithmetic."""
    states = [f"{s.name} '{r.phrase}'" for s in stages for r in s.readings
              if r.meaning == "state"]
    over_time = [f"{s.name} '{r.phrase}'" for s in stages for r in s.readings
                 if r.meaning == "loss" and r.period is not None]
    notes = []
    if states:
        notes.append("Read as states of the stage, not conversions: " + "; ".join(states) + ".")
    if over_time:
        notes.append("Read as losses over time, not a step of the funnel (the counts keep their "
                     "own period): " + "; ".join(over_time) + ".")
    return notes
