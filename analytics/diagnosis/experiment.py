"""An experiment designed for the traffic it has: how many people per arm a lift needs, the
smallest lift a quarter of that traffic can detect, and the design that can be read.

A test is "readable in the quarter" when its run, after the build weeks, collects enough people
to detect the low end of the expected lift (two-sided two-proportion z-test, alpha 0.05, power
80%). When it cannot, the design says so plainly and offers what can be read: the same test
with the larger minimum effect the traffic supports (readable when that effect is still within
the expected range), else a staged rollout with a holdout and a pre-period comparison, or a
longer run called out as not a quick win.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from analytics.errors import JourneyError
from analytics.results import pct

ALPHA, POWER = 0.05, 0.8
QUARTER_WEEKS = 12


def sample_size_per_arm(p1: float, p2: float, alpha: float = ALPHA, power: float = POWER) -> int:
    """People per arm to detect p1 -> p2 (two-sided two-proportion z-test)."""
    if not 0 < p1 < 1 or not 0 < p2 < 1 or p1 == p2:
        raise JourneyError("The rates to compare must differ and lie strictly between 0 and 1")
    z_a, z_b = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    p_bar = (p1 + p2) / 2
    n = ((z_a * math.sqrt(2 * p_bar * (1 - p_bar)) + z_b * math.sqrt(p1 * (1 - p1)
                                                                      + p2 * (1 - p2))) ** 2
         / (p2 - p1) ** 2)
    return math.ceil(n)


def detectable_rate(p1: float, per_arm: float, increase: bool = True) -> float | None:
    """The rate closest to p1 (above it when `increase`, else below) that `per_arm` people in
    each arm detect; None when even the far end of the scale cannot be detected."""
    if per_arm < 2 or not 0 < p1 < 1:
        return None
    lo, hi = (p1, 0.999) if increase else (0.001, p1)
    far = hi if increase else lo
    if far == p1 or sample_size_per_arm(p1, far) > per_arm:
        return None
    for _ in range(60):  # bisection on the rate: sample size falls as the gap grows
        mid = (lo + hi) / 2
        if mid == p1:
            break
        needed = sample_size_per_arm(p1, mid)
        if (needed <= per_arm) == increase:
            hi = mid
        else:
            lo = mid
    return hi if increase else lo


@dataclass
class Experiment:
    design: str
    holdout_share: float
    per_arm: int  # people per arm to detect the low end of the expected lift
    weeks_needed: float  # of run, at the traffic reaching the step
    detectable_lift: str
    note: str = ""
    run_weeks: int = 0  # weeks of run the plan gives it inside the quarter
    readable_in_quarter: bool = False
    minimum_detectable: float | None = None  # the rate the run can tell from the baseline
    weekly_people: float = 0.0  # people reaching the step a week, in the targeted population


def design_experiment(baseline: float, expected_low: float, expected_high: float,
                      weekly_people: float, build_weeks: int, *, increase: bool = True,
                      outcome_delay_weeks: int = 0, population: str = "people reaching the "
                      "step") -> Experiment:
    """The test for a change expected to move `baseline` to between the two rates, with
    `weekly_people` reaching the step; the run fills the quarter after the build (and, for an
    outcome seen later such as a cancellation, leaves the weeks it takes to see it).

    Designs in order of strength, the first that can be read wins: a randomised 50/50 split
    that detects the low end of the expected change; the same split, stating the larger change
    it can detect (still inside the expected range); a staged rollout to 90% with a 10% holdout,
    read against the same weeks before (nearly all the traffic is treated, so it detects
    smaller changes, but a before/after read is weaker evidence); else a longer run, not a
    quick win."""
    run_weeks = max(QUARTER_WEEKS - build_weeks - 1 - outcome_delay_weeks, 1)
    people = weekly_people * run_weeks
    direction = "up" if increase else "down"
    needed = sample_size_per_arm(baseline, expected_low) if 0 < expected_low < 1 and \
        expected_low != baseline else 10 ** 9
    weeks = needed * 2 / weekly_people if weekly_people else math.inf

    def within(mde: float | None) -> bool:
        return mde is not None and ((mde <= expected_high) if increase
                                    else (mde >= expected_high))

    split = f"randomised 50/50 split of {population}"
    if weeks <= run_weeks:
        run = max(math.ceil(weeks), 2)
        return Experiment(
            design=split, holdout_share=0.5, run_weeks=run, readable_in_quarter=True,
            minimum_detectable=expected_low, per_arm=needed,
            weeks_needed=weeks, weekly_people=weekly_people,
            detectable_lift=f"{pct(baseline)} -> {pct(expected_low)} at 5% significance, 80% "
                            "power", note=f"Readable in {run} weeks of run at "
                                          f"{weekly_people:,.0f} people a week.")
    mde = detectable_rate(baseline, people / 2, increase=increase)
    if within(mde):
        return Experiment(
            design=f"{split}, powered for a larger change", holdout_share=0.5,
            run_weeks=run_weeks, readable_in_quarter=True, minimum_detectable=mde, per_arm=needed,
            weeks_needed=weeks, weekly_people=weekly_people,
            detectable_lift=f"{pct(baseline)} -> {pct(mde)} at 5% significance, 80% power",
            note=(f"At {weekly_people:,.0f} people a week, {run_weeks} weeks detect a move "
                  f"{direction} to {pct(mde)} or more: inside the expected range "
                  f"({pct(expected_low)}-{pct(expected_high)}) but not its low end, so a "
                  f"smaller real effect would read as no effect."))
    # Staged: 90% treated against the same number of weeks before the change.
    staged_mde = detectable_rate(baseline, 0.9 * people, increase=increase)
    staged = ("staged rollout to 90% with a 10% holdout, read against the same weeks before "
              f"the change, of {population}")
    if within(staged_mde):
        low_end = 0.9 * people >= needed
        shown = expected_low if low_end else staged_mde
        return Experiment(
            design=staged, holdout_share=0.1, run_weeks=run_weeks, readable_in_quarter=True,
            minimum_detectable=shown, per_arm=needed,
            weeks_needed=weeks, weekly_people=weekly_people,
            detectable_lift=f"{pct(baseline)} -> {pct(shown)} before/after at 5% "
                            "significance, 80% power",
            note=(f"Too few people a week ({weekly_people:,.0f}) for a 50/50 test in the "
                  f"quarter; treating 90% and comparing {run_weeks} weeks with the "
                  f"{run_weeks} before detects a move {direction} to {pct(shown)}. A before/"
                  f"after read is weaker evidence: " + (
                      "the 10% holdout checks that the weeks themselves did not move."
                      if 0.1 * people >= 200 else
                      f"the 10% holdout (about {0.1 * people:,.0f} people) is too small to "
                      f"show whether the weeks themselves moved, so read it as directional.")))
    detect = (f"the quarter detects only {pct(baseline)} -> {pct(mde)}" if mde is not None
              else "the quarter's traffic detects no plausible change")
    return Experiment(
        design=f"{split}, run beyond the quarter", holdout_share=0.5, run_weeks=run_weeks,
        readable_in_quarter=False, minimum_detectable=mde, per_arm=needed,
            weeks_needed=weeks, weekly_people=weekly_people,
        detectable_lift=f"{pct(baseline)} -> {pct(expected_low)} needs {needed:,} people per "
                        "arm",
        note=(f"Not a quick win to read: at {weekly_people:,.0f} people a week a randomised "
              f"test needs about {weeks:,.0f} weeks ({detect}). Start it this quarter and "
              f"read it when it has the people, or test a bolder change."))
