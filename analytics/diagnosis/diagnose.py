"""A diagnosis of pasted stage metrics: conversion between stages, friction ranked by customers
lost, each step against a benchmark range for the business model, what fixing it is worth, and
the numbers that contradict each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

import yaml

from analytics.constants import BusinessModel  # noqa: F401  (defined once)
from analytics.diagnosis.agreement import Issue, onward_reading, rate_issues, reading_notes
from analytics.diagnosis.parser import MetricsParseError, ParsedMetrics, parse_stage_metrics
from analytics.diagnosis.reading import PERIOD_TO_MONTH
from analytics.errors import JourneyError
from analytics.results import AnalyticResult, pct

CANONICAL = ["awareness", "consideration", "evaluation", "purchase", "retention"]


def load_benchmarks() -> dict:
    text = resources.files("analytics.diagnosis").joinpath("benchmarks.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def benchmark_notes() -> str:
    text = resources.files("analytics.diagnosis").joinpath("benchmarks.yaml").read_text("utf-8")
    return " ".join(line.lstrip("# ").strip() for line in text.splitlines()
                    if line.startswith("#")).strip()


@dataclass
class Transition:
    from_stage: str
    to_stage: str
    from_count: float
    to_count: float
    conversion: float
    lost: float
    benchmark_key: str | None = None
    benchmark: list[float] | None = None  # low, median, high
    verdict: str = "no benchmark"
    gain_at_median: float | None = None  # more customers a month at to_stage
    gain_at_end: float | None = None  # more customers a month at the last stage
    rank: int = 0
    stage_key: str | None = None  # canonical from->to, even where no benchmark exists for it
    from_rate: str | None = None  # the line whose onward rate gave this step (no next count)
    period: str | None = None  # the period the deck gave the counts in (quarter, year...)
    lost_in_period: float | None = None  # `lost` in that period, where it is not a month


@dataclass
class DiagnosisResult(AnalyticResult):
    business_model: str = "b2b-saas"
    stages: list[dict] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    friction_ranking: list[str] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sharpen: list[str] = field(default_factory=list)
    benchmark_assumptions: str = ""

    kind = "diagnosis"

    def figure(self):
        import plotly.graph_objects as go

        names = [f"{t.from_stage} -> {t.to_stage}" for t in self.transitions]
        fig = go.Figure(go.Bar(x=names, y=[t.conversion for t in self.transitions],
                               name="yours"))
        fig.add_trace(go.Scatter(
            x=names, y=[t.benchmark[1] if t.benchmark else None for t in self.transitions],
            mode="markers", name="benchmark median",
            error_y={"type": "data", "symmetric": False,
                     "array": [(t.benchmark[2] - t.benchmark[1]) if t.benchmark else 0
                               for t in self.transitions],
                     "arrayminus": [(t.benchmark[1] - t.benchmark[0]) if t.benchmark else 0
                                    for t in self.transitions]}))
        fig.update_layout(title=f"Stage conversion vs {self.business_model} benchmarks",
                          yaxis={"tickformat": ".0%"})
        return fig


def canonical_stage(name: str, position: int, synonyms: dict[str, list[str]]) -> str | None:
    lowered = name.lower()
    for stage in CANONICAL:
        if any(word in lowered for word in synonyms.get(stage, [])):
            return stage
    return CANONICAL[position] if position < len(CANONICAL) else None


def _set_benchmark(t: Transition, from_canon: str | None, to_canon: str | None,
                   model: dict) -> None:
    key = f"{from_canon}->{to_canon}" if from_canon and to_canon else None
    t.stage_key = key
    if key in model:
        low, median, high = model[key]
        t.benchmark_key, t.benchmark = key, [low, median, high]
        t.verdict = ("below benchmark" if t.conversion < low else "above benchmark"
                     if t.conversion > high else "within benchmark")
        if t.conversion < median:
            t.gain_at_median = (median - t.conversion) * t.from_count


def diagnose(text_or_parsed: str | ParsedMetrics, business_model: str = "b2b-saas"
             ) -> DiagnosisResult:
    bench = load_benchmarks()
    if business_model not in bench["models"]:
        raise JourneyError(f"Unknown business model '{business_model}'; use one of "
                           f"{', '.join(bench['models'])}")
    parsed = (parse_stage_metrics(text_or_parsed) if isinstance(text_or_parsed, str)
              else text_or_parsed)
    counted = [s for s in parsed.stages if s.count is not None]
    last_onward = onward_reading(counted[-1]) if counted else None
    if len(counted) < 2 and last_onward is None:
        found = ", ".join(s.name for s in parsed.stages) or "no stage"
        raise MetricsParseError(
            f"A diagnosis needs at least two stages with a count of people (found: {found}). "
            "Paste one line per stage, e.g. 'Awareness: 12,000 visitors/month' and "
            "'Evaluation: 900 trials/month'."
            + (f" Lines not read: {'; '.join(parsed.unread[:3])}" if parsed.unread else ""))
    model = bench["models"][business_model]
    synonyms = bench["synonyms"]
    canon = [canonical_stage(s.name, i, synonyms) for i, s in enumerate(counted)]
    issues: list[Issue] = []
    transitions: list[Transition] = []
    for i in range(1, len(counted)):
        a, b = counted[i - 1], counted[i]
        assert a.count is not None and b.count is not None  # `counted` keeps only those
        conversion = b.count / a.count if a.count else 0.0
        t = Transition(a.name, b.name, a.count, b.count, conversion, max(a.count - b.count, 0.0))
        if b.count > a.count:
            issues.append(Issue("larger than previous", f"{b.name} ({b.count:,.0f}/month) is "
                                f"larger than {a.name} ({a.count:,.0f}/month): check that both "
                                "count the same people over the same period"))
        _set_benchmark(t, canon[i - 1], canon[i], model)
        transitions.append(t)
    if last_onward is not None:
        # The last stage says how many go on ("Trials: 900, 20% convert to paid"): that step
        # is in the funnel even though no count follows it.
        last = counted[-1]
        assert last.count is not None
        onward = min(max(last_onward.onward() or 0.0, 0.0), 1.0)
        target = last_onward.target or f"the step after {last.name}"
        t = Transition(last.name, target, last.count, last.count * onward, onward,
                       last.count * (1 - onward), from_rate=last.source_line)
        _set_benchmark(t, canon[-1], canonical_stage(target, len(counted), synonyms), model)
        transitions.append(t)
    issues += rate_issues(counted)
    for s in parsed.stages:
        for kind, value in s.rates.items():
            if value > 1 or value < 0:
                issues.append(Issue("impossible rate", f"{s.name}: {kind} rate {pct(value)} is "
                                    "outside 0-100%"))
        if "bounce" in s.rates and "bounce" in model:
            low, median, high = model["bounce"]
            if s.rates["bounce"] > high:
                issues.append(Issue("high bounce", f"{s.name}: bounce {pct(s.rates['bounce'])} "
                                    f"is above the usual {pct(low, 0)}-{pct(high, 0)}"))
    for t, stage in zip(transitions, counted):
        # The deck said its counts per quarter or year: the loss in its own period too.
        if stage.period and stage.period != "month" and stage.period in PERIOD_TO_MONTH:
            t.period = stage.period
            t.lost_in_period = t.lost / PERIOD_TO_MONTH[stage.period]
    # A gain at one step flows down at the current rates of the later steps.
    for i, t in enumerate(transitions):
        if t.gain_at_median is not None:
            downstream = 1.0
            for later in transitions[i + 1:]:
                downstream *= min(later.conversion, 1.0)
            t.gain_at_end = t.gain_at_median * downstream
    for rank, t in enumerate(sorted(transitions, key=lambda t: -t.lost), start=1):
        t.rank = rank
    periods = [s.period for s in counted]
    sharpen = []
    if any(p is None for p in periods):
        sharpen.append("the period of each count (per month, per quarter) — unstated counts were "
                       "taken as per month")
    if len(counted) < 4:
        sharpen.append("the stages in between, so the drop can be located more precisely")
    sharpen.append("the same funnel by device, channel and segment, to see who drops where")
    sharpen.append("your own event data (`journey ingest events ...`): real paths, times "
                   "between steps and what customers say at each step")
    result = DiagnosisResult(
        business_model=business_model,
        stages=[{"name": s.name, "per_month": s.count, "as_written": s.count_as_written,
                 "unit": s.unit, "period": s.period, "period_from": s.period_from,
                 "rates": s.rates, "durations_days": s.durations_days,
                 "readings": [{"phrase": r.phrase, "meaning": r.meaning, "kind": r.kind,
                               "value": r.value, "period": r.period, "target": r.target}
                              for r in s.readings],
                 "other": s.other} for s in parsed.stages],
        transitions=transitions,
        friction_ranking=[f"{t.from_stage} -> {t.to_stage}" for t in
                          sorted(transitions, key=lambda t: t.rank)],
        issues=issues, unread=parsed.unread, notes=parsed.notes + reading_notes(parsed.stages),
        sharpen=sharpen,
        benchmark_assumptions=benchmark_notes(),
        definitions={
            "conversion": "people at the stage / people at the previous stage, per month",
            "lost": "people at the previous stage minus people at this stage, per month",
            "benchmark": f"low, median, high for {business_model} (see benchmark_assumptions)",
            "gain_at_median": "more people a month at the stage if its conversion rose to the "
                              "benchmark median",
            "gain_at_end": "the same gain carried to the last stage at today's later rates",
        })
    worst = min(transitions, key=lambda t: t.rank)
    text = (f"{len(counted)} stages read. The biggest loss is {worst.from_stage} -> "
            f"{worst.to_stage}: {worst.lost:,.0f} people a month ({pct(worst.conversion)} "
            f"convert).")
    below = [t for t in transitions if t.verdict == "below benchmark"]
    if below:
        t = max(below, key=lambda t: t.gain_at_end or 0)
        assert t.benchmark is not None  # a verdict against a benchmark means there is one
        text += (f" {t.from_stage} -> {t.to_stage} is below the {business_model} range "
                 f"({pct(t.conversion)} vs {pct(t.benchmark[0], 0)}-{pct(t.benchmark[2], 0)}); "
                 f"raising it to {pct(t.benchmark[1], 0)} adds about {t.gain_at_median:,.0f} "
                 f"people a month at {t.to_stage}.")
    if issues:
        text += f" {len(issues)} number(s) look inconsistent."
    if parsed.unread:
        text += f" {len(parsed.unread)} line(s) could not be read."
    result.summary = text
    return result
