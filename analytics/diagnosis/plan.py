"""The quarterly quick-win plan: 3-7 distinct initiatives (one per friction), ranked by an
explicit score, each with its evidence, KPI, expected range, owner, a test designed for the
traffic it has (experiment.py) and a slot in a quarter where tests on one step do not overlap
(schedule.py). This module holds the plan's types, the plan from pasted stage metrics and the
finishing every plan shares; store_plan.py makes one from the event store.

Expected lift: closing 25% (low) to 60% (high) of the gap to the benchmark median within a quarter,
a deliberately modest assumption; for a step already at its benchmark but with evidence of a
specific friction in the data, a 5-15% relative lift. Score = reach (people a month at the
step) x impact (relative lift at the midpoint) x confidence (0.5 benchmark only, 0.7 with
behavioural evidence, 0.8 with customers' words too) / effort (1-3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from importlib import resources

import yaml

from analytics.diagnosis.diagnose import DiagnosisResult, Transition
from analytics.diagnosis.experiment import ALPHA, POWER, Experiment, design_experiment
from analytics.diagnosis.experiment import sample_size_per_arm as sample_size_per_arm
from analytics.diagnosis.schedule import Slot, build_weeks, schedule
from analytics.errors import JourneyError
from analytics.results import AnalyticResult, pct

GAP_CLOSED = (0.25, 0.60)
EVIDENCE_LIFT = (0.05, 0.15)  # relative, for steps at benchmark with behavioural evidence


def playbook() -> dict:
    text = resources.files("prompts").joinpath("playbook.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


@dataclass
class Initiative:
    rank: int
    title: str
    targets: str
    evidence: list[str]
    change: str
    kpi: str
    baseline: float
    expected_low: float
    expected_high: float
    expected_customers_per_month: list[float]  # at the last stage: low, high
    owner: str
    effort: int
    reach: float
    confidence: float
    score: float
    timeline: list[str]
    experiment: Experiment
    why: str = ""  # why it made the list
    kind: str = "step"  # step, segment gap, churn gap, retention lever
    segment: str = ""  # the people it is for, when not everyone at the step
    step: str = ""  # the step it targets, "a -> b"
    impact_unit: str = "more people at the last stage a month"
    revenue_low: float | None = None  # a month, where the conversion carries a value
    revenue_high: float | None = None
    audience: dict = field(default_factory=dict)  # who it reaches, as filters
    slot: Slot | None = None
    sources: list[str] = field(default_factory=list)  # per evidence item: the command showing it


@dataclass
class PlanResult(AnalyticResult):
    quarter: str = ""
    basis: str = ""  # what the plan was made from
    initiatives: list[Initiative] = field(default_factory=list)
    first_three: list[str] = field(default_factory=list)
    impact_low: dict[str, float] = field(default_factory=dict)  # unit -> total a month
    impact_high: dict[str, float] = field(default_factory=dict)
    needs: dict[str, list[str]] = field(default_factory=dict)  # owner -> what they do
    left_out: list[str] = field(default_factory=list)
    risks: list[str] = field(default_factory=list)
    weekly_metrics: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)

    kind = "plan"

    def figure(self):
        from analytics.diagnosis.plan_export import gantt_figure

        return gantt_figure(self)

    def to_dict(self) -> dict:
        # The Markdown goes with the data, so a script or an MCP client can paste it as is.
        return {**super().to_dict(), "markdown": self.markdown()}

    def markdown(self) -> str:
        from analytics.diagnosis.plan_export import plan_markdown

        return plan_markdown(self)

    def html(self) -> str:
        from analytics.diagnosis.plan_export import plan_html

        return plan_html(self)

    def write_html(self, path: str) -> None:
        from analytics.export_files import write_text_whole

        write_text_whole(path, self.html())

    def write_pdf(self, path: str) -> None:
        from analytics.diagnosis.plan_export import plan_pdf
        from analytics.export_files import write_whole

        write_whole(path, lambda partial: plan_pdf(self, partial))


def next_quarter(today: date | None = None) -> str:
    today = today or date.today()
    q = (today.month - 1) // 3 + 1
    year, q = (today.year + 1, 1) if q == 4 else (today.year, q + 1)
    return f"{year}-Q{q}"


def build_plan(diagnosis: DiagnosisResult, *, quarter: str | None = None,
               evidence: dict[str, list[str]] | None = None, max_items: int = 7) -> PlanResult:
    """From pasted stage metrics: one initiative per transition below its benchmark median (the
    play that fits it best), then, when fewer than three, the largest losses."""
    quarter = quarter or next_quarter()
    if not _valid_quarter(quarter):
        raise JourneyError(f"Quarter '{quarter}' must look like 2027-Q1")
    book = playbook()
    evidence = evidence or {}
    candidates: list[Initiative] = []
    planned: list[Transition] = []
    used: set[str] = set()
    for t in diagnosis.transitions:
        extra = evidence.get(t.benchmark_key, []) if t.benchmark_key else []
        if not t.benchmark or t.benchmark_key not in book or not 0 < t.conversion < 1:
            continue
        if t.conversion < t.benchmark[1]:
            gap = t.benchmark[1] - t.conversion
            low, high = t.conversion + gap * GAP_CLOSED[0], t.conversion + gap * GAP_CLOSED[1]
        elif extra:
            # At or above benchmark but the data shows a specific friction (a weaker device,
            # what leavers wrote): a modest relative lift.
            low, high = (min(t.conversion * (1 + r), 0.99) for r in EVIDENCE_LIFT)
        else:
            continue
        confidence = 0.5 + (0.2 if extra else 0.0) + (0.1 if any("said" in e for e in extra)
                                                       else 0.0)
        if low <= t.conversion:
            continue
        planned.append(t)
        candidates.append(_initiative(t, low, high, confidence, book[t.benchmark_key], extra,
                                      diagnosis.business_model, used,
                                      onward=_onward(diagnosis.transitions, t)))
    fallback: list[Transition] = []
    if len(candidates) < 3:
        # Few steps are below their ranges: a plan still goes where the most people are lost and
        # where a step sits furthest below the top of its range.
        for t in _fallback_steps(diagnosis.transitions, planned, book):
            if len(candidates) >= 3:
                break
            extra = evidence.get(t.benchmark_key, []) if t.benchmark_key else []
            low, high = _fallback_lift(t)
            if low <= t.conversion:
                continue
            confidence = (0.5 if t.benchmark else 0.4) + (0.2 if extra else 0.0)
            fallback.append(t)
            candidates.append(_initiative(t, low, high, confidence, _plays(t, book), extra,
                                          diagnosis.business_model, used, fallback=True,
                                          onward=_onward(diagnosis.transitions, t)))
    if not candidates:
        raise JourneyError(
            "No step in these numbers loses people (every stage is as large as the one before "
            "it), so there is nothing to plan from. Check that each count is the people who "
            "reached that stage in the same period, or load your event data.")
    candidates.sort(key=lambda i: (-i.score, i.title))
    left_out = [f"{t.from_stage} -> {t.to_stage} ({pct(t.conversion)}): {t.verdict}"
                for t in diagnosis.transitions
                if all(t is not p for p in planned + fallback)]
    result = finish_plan(candidates[:max_items], quarter=quarter, left_out=left_out,
                         basis="the pasted stage metrics")
    if fallback:
        result.summary += " " + fallback_sentence(diagnosis, fallback)
        result.assumptions.append(
            "For steps within or above their range, the expected lift closes "
            f"{GAP_CLOSED[0]:.0%}-{GAP_CLOSED[1]:.0%} of the gap to the top of the range; above "
            f"it or without a range, {EVIDENCE_LIFT[0]:.0%}-{EVIDENCE_LIFT[1]:.0%} relative.")
    return result


def finish_plan(chosen: list[Initiative], *, quarter: str, left_out: list[str],
                basis: str) -> PlanResult:
    """Ranks, the quarter's timeline, the totals and the one-page summary."""
    if not _valid_quarter(quarter):
        raise JourneyError(f"Quarter '{quarter}' must look like 2027-Q1")
    for rank, item in enumerate(chosen, start=1):
        item.rank = rank
    # Tests that can be read go first on their step; one that cannot runs on past the quarter.
    slots = schedule([(i.owner, i.step or i.kpi, i.effort,
                       i.experiment.run_weeks if i.experiment.readable_in_quarter else 0)
                      for i in chosen])
    for item, slot in zip(chosen, slots):
        item.slot = slot
        item.timeline = _timeline(slot, item.experiment)
    low: dict[str, float] = {}
    high: dict[str, float] = {}
    for i in chosen:
        low[i.impact_unit] = low.get(i.impact_unit, 0.0) + i.expected_customers_per_month[0]
        high[i.impact_unit] = high.get(i.impact_unit, 0.0) + i.expected_customers_per_month[1]
    for unit in ("revenue",):
        lows = [i.revenue_low for i in chosen if i.revenue_low is not None]
        if lows:
            low[unit] = sum(lows)
            high[unit] = sum(i.revenue_high or 0.0 for i in chosen)
    needs: dict[str, list[str]] = {}
    for i in chosen:
        needs.setdefault(i.owner, []).append(f"{i.rank}. {i.title}")
    # The three to start first: readable tests first, then by score.
    first = sorted(chosen, key=lambda i: (not i.experiment.readable_in_quarter, i.rank))[:3]
    readable = sum(i.experiment.readable_in_quarter for i in chosen)
    result = PlanResult(
        quarter=quarter, basis=basis, initiatives=chosen,
        first_three=[f"{i.rank}. {i.title}" for i in first], impact_low=low, impact_high=high,
        needs=needs, left_out=left_out,
        risks=["Benchmarks and gaps are orientation, not promises; your own test results "
               "replace them.",
               "Tests on the same step run one after the other (see the timeline): two at "
               "once would muddle each other's read-out.",
               "The totals add the initiatives' ranges as if independent; overlapping people "
               "make the real total smaller.",
               "Seasonality and campaign changes move the weekly numbers: a randomised "
               "holdout is the comparison to trust; a staged rollout read against the weeks "
               "before is weaker, and says so."],
        weekly_metrics=list(dict.fromkeys(f"{i.kpi} (test vs holdout)" for i in chosen)),
        assumptions=[f"Expected change: closing {GAP_CLOSED[0]:.0%}-{GAP_CLOSED[1]:.0%} of a "
                     "gap within the quarter (a segment's gap to the rest, a step's to its "
                     f"benchmark median); with only behavioural evidence, {EVIDENCE_LIFT[0]:.0%}"
                     f"-{EVIDENCE_LIFT[1]:.0%} relative.",
                     "Score = expected impact at the last stage (midpoint) x confidence / "
                     "effort.",
                     f"A test is readable in the quarter when its run, after the build, can "
                     f"detect the low end of its expected change (two-sided, alpha {ALPHA}, "
                     f"power {POWER:.0%}), or a lift inside the expected range."],
        definitions={"score": "expected impact at the last stage x confidence / effort",
                     "expected change": "the KPI's range after the change, low to high",
                     "readable": "the test can be read before the quarter ends"},
        filters={})
    top = chosen[0]
    from analytics.diagnosis.plan_export import people

    totals = "; ".join(f"{people(low[u])}-{people(high[u])} {u}" for u in low if u != "revenue")
    result.summary = (f"{len(chosen)} initiative{'s' if len(chosen) != 1 else ''} for {quarter}, "
                      f"{readable} with a test "
                      f"readable within the quarter. First: {top.title} ({top.kpi}: "
                      f"{pct(top.baseline)} today, expected {pct(top.expected_low)}-"
                      f"{pct(top.expected_high)}). Expected impact of the whole plan: {totals}.")
    return result


def _timeline(slot: Slot, experiment: Experiment) -> list[str]:
    build = (f"Week {slot.build_start}" if slot.build_start == slot.build_end else
             f"Weeks {slot.build_start}-{slot.build_end}")
    lines = [f"{build}: confirm the friction with the data and customers' words; build the "
             f"change and the holdout split"]
    if slot.open_ended:
        lines += [f"From week {slot.run_start}: run the test on past the quarter",
                  f"Read it when each arm has {experiment.per_arm:,} people (about "
                  f"{experiment.weeks_needed:,.0f} weeks at today's traffic), or test a bolder "
                  f"change that needs fewer"]
        return lines
    run = (f"Week {slot.run_start}" if slot.run_start == slot.run_end else
           f"Weeks {slot.run_start}-{slot.run_end}")
    lines += [f"{run}: run the test; watch the weekly metrics",
              f"Week {slot.readout}: read the result against the holdout; roll out or stop"]
    if slot.past_quarter:
        lines.append("Its read-out falls after the quarter's 12 weeks: an earlier test on the "
                     "same step runs first.")
    return lines


# For a step with no playbook entry of its own (a stage the benchmarks do not name).
GENERIC_PLAYS = [
    {"title": "Find and remove the main reason people stop at this step", "owner": "Growth "
     "marketer", "effort": 2, "change": "Ask the people who stopped (a one-question survey or "
     "five calls), fix the top reason, and test the fix against a holdout."}]


def fallback_sentence(diagnosis: DiagnosisResult, steps: list[Transition]) -> str:
    below = sum(t.verdict == "below benchmark" for t in diagnosis.transitions)
    lead = ("No step is below its benchmark range" if below == 0 else
            f"Only {below} step is below its benchmark range" if below == 1 else
            f"Only {below} steps are below their benchmark ranges")
    names = ", ".join(f"{t.from_stage} -> {t.to_stage}" for t in steps)
    return (f"{lead}, so this plan also targets the steps that lose the most people and sit "
            f"furthest below the top of their ranges: {names}.")


def _fallback_steps(transitions: list[Transition], planned: list[Transition],
                    book: dict) -> list[Transition]:
    """Largest losses first, with the step furthest below the top of its range brought in
    second, each step once."""
    pool = [t for t in transitions
            if all(t is not p for p in planned) and 0 < t.conversion < 1]
    by_loss = sorted(pool, key=lambda t: (-t.lost, t.rank))
    by_room = sorted((t for t in pool if t.benchmark and t.conversion < t.benchmark[2]),
                     key=lambda t: (-(t.benchmark[2] - t.conversion) if t.benchmark else 0.0,
                                    t.rank))
    order = by_loss[:1] + by_room[:1] + by_loss[1:] + by_room[1:]
    seen: list[Transition] = []
    for t in order:
        if all(t is not s for s in seen):
            seen.append(t)
    return seen


def _fallback_lift(t: Transition) -> tuple[float, float]:
    if t.benchmark and t.conversion < t.benchmark[2]:
        gap = t.benchmark[2] - t.conversion
        return t.conversion + gap * GAP_CLOSED[0], t.conversion + gap * GAP_CLOSED[1]
    low, high = (min(t.conversion * (1 + r), 0.99) for r in EVIDENCE_LIFT)
    return low, high


def _plays(t: Transition, book: dict) -> list[dict]:
    if t.benchmark_key in book:
        return book[t.benchmark_key]
    # A step that skips stages (visitors -> trials) takes the plays for the stage it ends at.
    to_stage = (t.stage_key or "").partition("->")[2]
    key = next((k for k in book if to_stage and k.endswith(f"->{to_stage}")), None)
    return book[key] if key else GENERIC_PLAYS


def _onward(transitions: list[Transition], t: Transition) -> tuple[float, str]:
    """From the step's next stage to the deck's last: the share who go on, and that stage."""
    share, last = 1.0, t.to_stage
    for later in transitions[transitions.index(t) + 1:]:
        if later.from_stage != last:
            break  # a gap in the chain: stop where the counts still connect
        share *= later.conversion
        last = later.to_stage
    return share, last


def _initiative(t: Transition, low: float, high: float, confidence: float, plays: list[dict],
                extra: list[str], business_model: str, used: set[str], fallback: bool = False,
                onward: tuple[float, str] = (1.0, "")) -> Initiative:
    """One initiative for the step: the play that fits it, not every play of its stage; its
    impact carried to the deck's last stage at the deck's own onward rates."""
    if t.benchmark:
        against = f"benchmark {pct(t.benchmark[0], 0)}-{pct(t.benchmark[2], 0)}"
        why = [f"{pct(t.conversion)} convert against a {business_model} median of "
               f"{pct(t.benchmark[1], 0)}"]
    else:
        against = "no benchmark for this step"
        why = [f"{pct(t.conversion)} convert; {t.lost:,.0f} people a month stop here"]
    if fallback and t.benchmark:
        why.append(f"{pct(t.benchmark[2] - t.conversion)} below the top of its range, "
                   f"{t.lost:,.0f} people lost a month")
    play = next((p for p in plays if p["title"] not in used), plays[0])
    used.add(play["title"])
    weekly = t.from_count * 12 / 52
    experiment = design_experiment(t.conversion, low, high, weekly,
                                   build_weeks=build_weeks(play["effort"]),
                                   population=f"new people reaching {t.from_stage}")
    impact = ((low + high) / 2 - t.conversion) / t.conversion if t.conversion else 1.0
    score = t.from_count * impact * confidence / play["effort"]
    reason = (f"{t.from_stage} -> {t.to_stage} is below its {business_model} range."
              if t.benchmark and t.conversion < t.benchmark[0] else
              f"{t.from_stage} -> {t.to_stage} is below its {business_model} median."
              if t.benchmark and t.conversion < t.benchmark[1] else
              f"{t.from_stage} -> {t.to_stage} loses {t.lost:,.0f} people a month.")
    return Initiative(
        rank=0, title=play["title"], targets=f"{t.from_stage} -> {t.to_stage} "
        f"({t.lost:,.0f} people lost a month, {pct(t.conversion)} vs {against})",
        evidence=why + extra, change=play["change"],
        kpi=f"{t.from_stage} -> {t.to_stage} conversion", baseline=t.conversion,
        expected_low=low, expected_high=high,
        expected_customers_per_month=[(low - t.conversion) * t.from_count * onward[0],
                                      (high - t.conversion) * t.from_count * onward[0]],
        owner=play["owner"], effort=play["effort"], reach=t.from_count,
        confidence=confidence, score=score, timeline=[], experiment=experiment, why=reason,
        step=f"{t.from_stage} -> {t.to_stage}",
        impact_unit=f"more {onward[1] or t.to_stage} a month")


def _valid_quarter(text: str) -> bool:
    import re

    return bool(re.fullmatch(r"\d{4}-Q[1-4]", text))
