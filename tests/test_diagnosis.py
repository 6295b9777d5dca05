"""Pasted metrics: the parser (forms people paste, fuzzed), the diagnosis and the plan."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.diagnosis.diagnose import diagnose
from analytics.diagnosis.parser import MAX_CHARS, MetricsParseError, parse_stage_metrics
from analytics.diagnosis.plan import build_plan, next_quarter, sample_size_per_arm
from analytics.errors import JourneyError

DECK = """Awareness: 12k visitors/month, 40% bounce rate, avg 1.2 pages viewed
- Consideration — 4,800 pricing page views (per month)
* Evaluation: 300 trial signups per month, 28-day sales cycle
Purchase: 180 new customers per quarter, 25% trial to paid
Retention: 92% retained
our CEO loves this slide
"""


def by_name(parsed):
    return {s.name: s for s in parsed.stages}


def test_lines_bullets_suffixes_periods_durations():
    parsed = parse_stage_metrics(DECK)
    s = by_name(parsed)
    assert s["Awareness"].count == 12_000 and s["Awareness"].rates == {"bounce": 0.40}
    assert s["Awareness"].other == {"pages viewed": 1.2}
    assert s["Consideration"].count == 4_800 and s["Consideration"].period == "month"
    assert s["Evaluation"].durations_days == {"sales cycle": 28}
    assert s["Purchase"].count == 60 and s["Purchase"].period == "quarter"  # 180 a quarter
    assert s["Retention"].rates == {"retention": 0.92} and s["Retention"].count is None
    assert parsed.unread == ["our CEO loves this slide"]


@pytest.mark.parametrize("text", [
    "| Stage | Visitors | Conversion |\n|---|---|---|\n| Awareness | 10,000 | |\n"
    "| Consideration | 3,000 | 30% |\n",
    "Stage\tPeople\tRate\nAwareness\t10k\t\nConsideration\t3000\t30%\n",
    'stage,people,conversion\nAwareness,"10,000",\nConsideration,3000,30%\n',
])
def test_tables(text):
    s = by_name(parse_stage_metrics(text))
    assert s["Awareness"].count == 10_000 and s["Consideration"].count == 3_000
    assert s["Consideration"].rates["conversion"] == pytest.approx(0.30)


def test_millions_and_years():
    s = by_name(parse_stage_metrics("Visitors: 1.2M per year\nLeads: 24,000/year"))
    assert s["Visitors"].count == pytest.approx(100_000) and s["Leads"].count == 2_000


@pytest.mark.parametrize("text, words", [
    ("", "Nothing to read"), ("   \n\t", "Nothing to read"),
    ("x" * (MAX_CHARS + 1), "paste at most"),
])
def test_bad_pastes(text, words):
    with pytest.raises(MetricsParseError, match=words):
        parse_stage_metrics(text)


@pytest.mark.parametrize("text, words", [
    ("We had a great quarter and the team is happy.", "at least two stages"),
    ("Awareness: 10,000 visitors/month", "at least two stages"),
])
def test_diagnosis_says_what_is_missing(text, words):
    with pytest.raises(MetricsParseError, match=words):
        diagnose(text)


def test_diagnosis_by_hand():
    d = diagnose(DECK)
    t = {f"{x.from_stage}->{x.to_stage}": x for x in d.transitions}
    ce = t["Consideration->Evaluation"]
    assert ce.conversion == pytest.approx(300 / 4800) and ce.lost == 4_500
    assert ce.benchmark == [0.08, 0.15, 0.25] and ce.verdict == "below benchmark"
    assert ce.gain_at_median == pytest.approx((0.15 - 300 / 4800) * 4800)
    # ... carried to the last stage at the later rate (60 of 300 buy).
    assert ce.gain_at_end == pytest.approx(ce.gain_at_median * 60 / 300)
    assert [x.rank for x in sorted(d.transitions, key=lambda x: -x.lost)] == [1, 2, 3]
    assert any("states a 25.0% conversion, but the counts give 20.0%" in i.message
               for i in d.issues)
    assert d.unread == ["our CEO loves this slide"]
    assert "Sources" in d.benchmark_assumptions


def test_contradictions_are_flagged():
    d = diagnose("Visitors: 1,000/month\nTrials: 1,500/month\nCustomers: 100/month")
    assert [i.kind for i in d.issues] == ["larger than previous"]
    with pytest.raises(JourneyError, match="Unknown business model"):
        diagnose("Visitors: 1,000\nTrials: 100", business_model="charity")


def test_sample_size_by_hand():
    # Classic check: 10% -> 12% needs about 3,840 per arm at alpha 0.05, power 0.8.
    assert sample_size_per_arm(0.10, 0.12) == 3841
    with pytest.raises(JourneyError):
        sample_size_per_arm(0.1, 0.1)


def test_plan_from_pasted_metrics():
    d = diagnose("Awareness: 12k visitors/month\nConsideration: 2,000 pricing views/month\n"
                 "Evaluation: 120 trials per month\nPurchase: 18 customers per month\n"
                 "Retention: 12 retained")
    plan = build_plan(d, quarter="2027-Q1")
    assert 3 <= len(plan.initiatives) <= 7
    assert [i.rank for i in plan.initiatives] == list(range(1, len(plan.initiatives) + 1))
    assert plan.initiatives == sorted(plan.initiatives, key=lambda i: -i.score)
    first = plan.initiatives[0]
    assert first.expected_low < first.expected_high and first.baseline < first.expected_low
    assert first.experiment.per_arm == sample_size_per_arm(first.baseline, first.expected_low)
    # Build, run and read-out weeks that follow each other inside the quarter.
    slot = first.slot
    assert len(first.timeline) == 3 and first.owner
    assert slot.build_start <= slot.build_end < slot.run_start <= slot.run_end < slot.readout
    # Impact at the deck's last stage: extra pricing views x 120/2,000 x 18/120 x 12/18.
    awareness = next(i for i in plan.initiatives if i.kpi.startswith("Awareness"))
    assert awareness.impact_unit == "more Retention a month"
    assert awareness.expected_customers_per_month[0] == pytest.approx(
        (awareness.expected_low - awareness.baseline) * 12000 * 12 / 2000)
    # One initiative per step: no two share the KPI (the pasted path has no segments).
    assert len({i.kpi for i in plan.initiatives}) == len(plan.initiatives)
    md = plan.markdown()
    assert md.startswith("# Quick-win plan, 2027-Q1") and "## Risks" in md
    assert "## On one page" in md and "## Timeline" in md
    with pytest.raises(JourneyError, match="2027-Q1"):
        build_plan(d, quarter="next year")
    assert next_quarter(__import__("datetime").date(2026, 11, 23)) == "2027-Q1"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400))
def test_parser_never_raises_anything_but_our_error(text):
    try:
        parsed = parse_stage_metrics(text)
    except JourneyError:
        return
    for s in parsed.stages:
        assert s.count is None or (math.isfinite(s.count) and s.count >= 0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(
    st.sampled_from(["Awareness", "Leads", "Trials", "Customers", "Visitors", "x"]),
    st.integers(min_value=0, max_value=10**7),
    st.sampled_from(["", "/month", " per quarter", "k", "%", " visitors/year"])),
    min_size=0, max_size=6))
def test_diagnose_on_random_decks_never_crashes(rows):
    text = "\n".join(f"{name}: {n:,}{suffix}" for name, n, suffix in rows)
    try:
        result = diagnose(text)
    except JourneyError:
        return
    assert len(result.transitions) >= 1


def test_cli_diagnose_and_plan(tmp_path, demo_store):
    import json

    from tests.test_cli import journey

    deck = tmp_path / "deck.txt"
    deck.write_text(DECK)
    result = journey("diagnose", str(deck), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["kind"] == "diagnosis"
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    bad = journey("diagnose", str(empty))
    assert bad.returncode == 2 and "Nothing to read" in bad.stderr
    plan = journey("plan", "--quarter", "2027-Q1", "--md", home=demo_store.home)
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.startswith("# Quick-win plan, 2027-Q1")
    assert "wrote to us mention" in plan.stdout  # evidence from the feedback


def test_mixed_periods_are_normalised_and_said():
    parsed = parse_stage_metrics("Visitors: 30k per quarter\nTrials: 1,000 per month\n"
                                 "Customers: 1,200 per year")
    s = by_name(parsed)
    assert (s["Visitors"].count, s["Trials"].count, s["Customers"].count) == (10_000, 1_000, 100)
    assert parsed.notes and "converted to per month" in parsed.notes[0]
