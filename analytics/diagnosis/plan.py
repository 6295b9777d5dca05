"""The quarterly quick-win plan: 3-7 initiatives, ranked by an explicit score, each with its
evidence, KPI, expected lift range, owner, 12-week timeline and a holdout sized by a power
calculation.

Expected lift: closing 25% (low) to 60% (high) of the gap to the benchmark median within a quarter,
a deliberately modest assumption; for a step already at its benchmark but with evidence of a
specific friction in the data, a 5-15% relative lift. Score = reach (people a month at the
step) x impact (relative lift at the midpoint) x confidence (0.5 benchmark only, 0.7 with
behavioural evidence, 0.8 with customers' words too) / effort (1-3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from importlib import resources

import yaml
from scipy import stats

from analytics.diagnosis.diagnose import DiagnosisResult, Transition
from analytics.errors import JourneyError
from analytics.results import AnalyticResult, markdown_literal, pct

GAP_CLOSED = (0.25, 0.60)
EVIDENCE_LIFT = (0.05, 0.15)  # relative, for steps at benchmark with behavioural evidence
ALPHA, POWER = 0.05, 0.8


def playbook() -> dict:
    text = resources.files("prompts").joinpath("playbook.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


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


@dataclass
class Experiment:
    design: str
    holdout_share: float
    per_arm: int
    weeks_needed: float
    detectable_lift: str
    note: str = ""


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
    expected_customers_per_month: list[float]
    owner: str
    effort: int
    reach: float
    confidence: float
    score: float
    timeline: list[str]
    experiment: Experiment


@dataclass
class PlanResult(AnalyticResult):
    quarter: str = ""
    initiatives: list[Initiative] = field(default_factory=list)
    risks: list[str] = field(default_factory=list)
    weekly_metrics: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)

    kind = "plan"

    def figure(self):
        import plotly.graph_objects as go

        fig = go.Figure(go.Bar(x=[i.score for i in self.initiatives],
                               y=[i.title for i in self.initiatives], orientation="h"))
        fig.update_layout(title=f"Quick wins for {self.quarter} (score)",
                          yaxis={"autorange": "reversed"})
        return fig

    def to_dict(self) -> dict:
        # The Markdown goes with the data, so a script or an MCP client can paste it as is.
        return {**super().to_dict(), "markdown": self.markdown()}

    def markdown(self) -> str:
        lines = [f"# Quick-win plan, {self.quarter}", "", markdown_literal(self.summary), ""]
        for i in self.initiatives:
            e = i.experiment
            lines += [
                f"## {i.rank}. {i.title}", "",
                # Targets and evidence carry the data's own names and the customers' words.
                f"- **Targets:** {markdown_literal(i.targets)}",
                f"- **Change:** {i.change}",
                "- **Evidence:** " + "; ".join(markdown_literal(e) for e in i.evidence),
                f"- **KPI:** {i.kpi}: {pct(i.baseline)} today, expected {pct(i.expected_low)} "
                f"to {pct(i.expected_high)} (+{i.expected_customers_per_month[0]:,.0f} to "
                f"+{i.expected_customers_per_month[1]:,.0f} people a month)",
                f"- **Owner:** {i.owner} · **Effort:** {i.effort}/3 · **Score:** {i.score:,.1f}",
                f"- **Experiment:** {e.design}; holdout {e.holdout_share:.0%}, {e.per_arm:,} "
                f"people per arm, about {e.weeks_needed:.1f} weeks at current traffic "
                f"(detects {e.detectable_lift}). {e.note}".rstrip(),
                "- **Timeline:**",
                *[f"  - {step}" for step in i.timeline], ""]
        lines += ["## Risks", *[f"- {r}" for r in self.risks], "",
                  "## Measure weekly", *[f"- {m}" for m in self.weekly_metrics], "",
                  "## Assumptions", *[f"- {a}" for a in self.assumptions], ""]
        return "\n".join(lines)


def next_quarter(today: date | None = None) -> str:
    today = today or date.today()
    q = (today.month - 1) // 3 + 1
    year, q = (today.year + 1, 1) if q == 4 else (today.year, q + 1)
    return f"{year}-Q{q}"


def _timeline(weeks_needed: float) -> list[str]:
    run_end = min(10, 4 + max(2, math.ceil(weeks_needed)))
    return ["Weeks 1-2: confirm the friction with the data and customers' words; design the change",
            "Weeks 3-4: build the change and the holdout split; check tracking",
            f"Weeks 5-{run_end}: run the experiment; watch the weekly metrics",
            f"Weeks {run_end + 1}-12: read the result against the holdout; roll out or stop"]


def build_plan(diagnosis: DiagnosisResult, *, quarter: str | None = None,
               evidence: dict[str, list[str]] | None = None, max_items: int = 7) -> PlanResult:
    """Initiatives for the transitions below their benchmark median, best score first."""
    quarter = quarter or next_quarter()
    if not _valid_quarter(quarter):
        raise JourneyError(f"Quarter '{quarter}' must look like 2027-Q1")
    book = playbook()
    evidence = evidence or {}
    candidates: list[Initiative] = []
    planned: list[Transition] = []
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
        candidates += _initiatives(t, low, high, confidence, book[t.benchmark_key], extra,
                                   diagnosis.business_model)
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
            candidates += _initiatives(t, low, high, confidence, _plays(t, book), extra,
                                       diagnosis.business_model, fallback=True)
    if not candidates:
        raise JourneyError(
            "No step in these numbers loses people (every stage is as large as the one before "
            "it), so there is nothing to plan from. Check that each count is the people who "
            "reached that stage in the same period, or load your event data.")
    candidates.sort(key=lambda i: (-i.score, i.title))
    chosen = candidates[:max_items]
    for rank, item in enumerate(chosen, start=1):
        item.rank = rank
    result = PlanResult(
        quarter=quarter, initiatives=chosen,
        risks=["Benchmarks are orientation ranges, not targets; your history beats them.",
               "Running several tests on the same step at once muddles the read-out: stagger "
               "them or use separate holdouts.",
               "Seasonality and campaign changes move the weekly numbers; compare with the "
               "holdout, not with last month."],
        weekly_metrics=[f"{t.from_stage} -> {t.to_stage} conversion (test vs holdout)"
                        for t in diagnosis.transitions] + ["people entering the funnel"],
        assumptions=[f"Expected lift closes {GAP_CLOSED[0]:.0%}-{GAP_CLOSED[1]:.0%} of the gap "
                     "to the benchmark median within the quarter; for a step at benchmark with "
                     f"evidence of friction, {EVIDENCE_LIFT[0]:.0%}-{EVIDENCE_LIFT[1]:.0%} "
                     "relative.",
                     "Score = reach x relative lift (midpoint) x confidence / effort.",
                     "Holdout sized to detect the low end of the expected lift "
                     f"(two-sided, alpha {ALPHA}, power {POWER:.0%})."],
        definitions={"score": "reach x impact x confidence / effort",
                     "expected lift": "conversion range after the change, low to high"},
        filters={})
    top = chosen[0]
    result.summary = (f"{len(chosen)} quick wins for {quarter}. First: {top.title} on "
                      f"{top.kpi} ({pct(top.baseline)} today, expected {pct(top.expected_low)}-"
                      f"{pct(top.expected_high)}).")
    if fallback:
        result.summary += " " + fallback_sentence(diagnosis, fallback)
        result.assumptions.append(
            "For steps within or above their range, the expected lift closes "
            f"{GAP_CLOSED[0]:.0%}-{GAP_CLOSED[1]:.0%} of the gap to the top of the range; above "
            f"it or without a range, {EVIDENCE_LIFT[0]:.0%}-{EVIDENCE_LIFT[1]:.0%} relative.")
    return result


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


def _initiatives(t: Transition, low: float, high: float, confidence: float, plays: list[dict],
                 extra: list[str], business_model: str, fallback: bool = False
                 ) -> list[Initiative]:
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
    items = []
    for play in plays:
        per_arm = sample_size_per_arm(t.conversion, low)
        weekly = t.from_count * 12 / 52
        holdout = 0.5
        weeks = (per_arm / (weekly * holdout)) if weekly else float("inf")
        note = ("" if weeks <= 6 else "Underpowered within the quarter at this traffic: "
                "accept a larger minimum lift or run it longer.")
        impact = ((low + high) / 2 - t.conversion) / t.conversion if t.conversion else 1.0
        score = t.from_count * impact * confidence / play["effort"]
        items.append(Initiative(
            rank=0, title=play["title"], targets=f"{t.from_stage} -> {t.to_stage} "
            f"({t.lost:,.0f} people lost a month, {pct(t.conversion)} vs {against})",
            evidence=why + extra,
            change=play["change"], kpi=f"{t.from_stage} -> {t.to_stage} conversion",
            baseline=t.conversion, expected_low=low, expected_high=high,
            expected_customers_per_month=[(low - t.conversion) * t.from_count,
                                          (high - t.conversion) * t.from_count],
            owner=play["owner"], effort=play["effort"], reach=t.from_count,
            confidence=confidence, score=score, timeline=_timeline(weeks),
            experiment=Experiment(
                design="randomised 50/50 split of new people reaching the step",
                holdout_share=holdout, per_arm=per_arm, weeks_needed=weeks,
                detectable_lift=f"{pct(t.conversion)} -> {pct(low)} at 5% significance, "
                                "80% power", note=note)))
    return items


def _valid_quarter(text: str) -> bool:
    import re

    return bool(re.fullmatch(r"\d{4}-Q[1-4]", text))
