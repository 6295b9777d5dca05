"""Pasted stage metrics read as a marketer means them: each rate on the transition it describes,
losses as losses, states as states, a count's period never changed by a rate's, stated rates that
the counts contradict reported with both readings, and a plan from any funnel that loses people.
Every expected number below is worked out by hand in the comment next to it."""

from __future__ import annotations

import pytest

from analytics.diagnosis.diagnose import diagnose
from analytics.diagnosis.parser import parse_stage_metrics
from analytics.diagnosis.plan import build_plan
from analytics.errors import JourneyError


def stage(text: str, name: str | None = None):
    parsed = parse_stage_metrics(text)
    return next(s for s in parsed.stages if name is None or s.name == name)


def mismatches(d):
    return [i.message for i in d.issues if i.kind == "rate does not match counts"]


# -- 1. rates that describe the move to the next stage ------------------------------------------

FORWARD = ["30% go on to book a call", "30% goes on to book a call", "30% request a demo",
           "30% convert to paid", "30% move to a sales call", "30% progress to the call stage",
           "30% book a call", "30% of trials go on to book a call", "30% move on",
           "30% proceed to checkout", "30% upgrade to paid"]


@pytest.mark.parametrize("phrase", FORWARD)
def test_forward_rates_are_the_move_out_of_the_stage(phrase):
    s = stage(f"Trials: 900, {phrase}")
    assert s.count == 900
    assert [(r.meaning, r.value) for r in s.readings] == [("onward", 0.30)]
    assert "conversion" not in s.rates and s.rates["onward"] == pytest.approx(0.30)


@pytest.mark.parametrize("phrase", FORWARD)
def test_forward_rate_is_checked_against_the_next_stage(phrase):
    # 30% of 900 trials = 270 calls: the counts agree; 900 / 10,000 = 9% is not what it says.
    d = diagnose(f"Visitors: 10,000\nTrials: 900, {phrase}\nCalls: 270")
    assert mismatches(d) == []
    # 150 calls: the counts say 150 / 900 = 16.7%, the rate says 270 calls.
    d = diagnose(f"Visitors: 10,000\nTrials: 900, {phrase}\nCalls: 150")
    [message] = mismatches(d)
    assert f"Line 'Trials: 900, {phrase}'" in message
    assert "30.0% of Trials move on" in message and "16.7% to Calls (150 / 900)" in message
    assert "about 270 a month" in message and "it is 150" in message


def test_a_forward_rate_naming_this_stage_is_its_conversion_in():
    # "30% of trials go on to book a call" on the Calls line is the share of trials reaching it.
    s = stage("Calls: 270, 30% of trials go on to book a call")
    assert [(r.meaning, r.value) for r in s.readings] == [("into", 0.30)]
    assert mismatches(diagnose("Trials: 900\nCalls: 270, 30% of trials go on to book a "
                               "call")) == []


@pytest.mark.parametrize("line, onward", [
    ("Trials: 900 trials, 25% trial to paid", True),  # on the trial line: out of it
    ("Purchase: 180 new customers, 25% trial to paid", False),  # on the paid line: into it
    ("Opportunities: 200, 25% win rate", True),
    ("Customers: 50, 25% win rate", False),
])
def test_from_to_and_win_rates_by_the_line_they_are_on(line, onward):
    [r] = stage(line).readings
    assert r.meaning == ("onward" if onward else "into")


def test_forward_rate_on_the_last_stage_is_a_step_of_the_funnel():
    d = diagnose("Visitors: 10,000\nTrials: 900, 20% convert to paid")
    last = d.transitions[-1]
    # 20% of 900 = 180 paid, 720 lost; trials -> paid is evaluation -> purchase (12-30%).
    assert (last.from_stage, last.to_stage) == ("Trials", "paid")
    assert last.to_count == pytest.approx(180) and last.lost == pytest.approx(720)
    assert last.benchmark_key == "evaluation->purchase" and last.verdict == "within benchmark"
    assert last.from_rate == "Trials: 900, 20% convert to paid"
    # One counted stage with a stated onward rate is enough for a diagnosis.
    assert len(diagnose("Trials: 900, 20% convert to paid").transitions) == 1


# -- 2. loss rates --------------------------------------------------------------------------------

LOSSES = ["35% leave after the pricing page", "35% leave", "35% abandon", "35% drop off",
          "35% drop", "35% exit", "35% churn", "35% abandoned the form", "35% left",
          "drop-off 35%", "exit rate 35%"]


@pytest.mark.parametrize("phrase", LOSSES)
def test_losses_are_never_conversions(phrase):
    s = stage(f"Pricing: 4,000 views, {phrase}")
    [r] = s.readings
    assert r.meaning == "loss" and r.onward() == pytest.approx(0.65) and r.into() is None
    assert "conversion" not in s.rates
    # 65% of 4,000 = 2,600 move on: agrees; 1,000 does not (25%).
    assert mismatches(diagnose(f"Visitors: 20,000\nPricing: 4,000, {phrase}\n"
                               "Trials: 2,600")) == []
    [message] = mismatches(diagnose(f"Visitors: 20,000\nPricing: 4,000, {phrase}\n"
                                    "Trials: 1,000"))
    assert "65.0% of Pricing move on" in message and "25.0% to Trials" in message
    assert "about 2,600 a month" in message


def test_bounce_is_its_own_loss_not_the_step():
    s = stage("Visitors: 10k, 45% bounce")
    assert [r.meaning for r in s.readings] == ["bounce"] and s.rates == {"bounce": 0.45}
    # 45% bounce does not say 55% reach pricing: 2,000 / 10,000 = 20% is no contradiction.
    assert mismatches(diagnose("Visitors: 10k, 45% bounce\nPricing: 2,000")) == []


def test_table_drop_off_column_is_the_loss_from_the_previous_row():
    text = "| Stage | People | Drop-off |\n|---|---|---|\n| Visitors | 10,000 | |\n" \
           "| Trials | 1,000 | 90% |\n| Customers | 100 | 70% |\n"
    s = stage(text, "Trials")
    assert [(r.meaning, r.into()) for r in s.readings] == [("loss_into", pytest.approx(0.10))]
    # Trials: 1 - 90% = 10% = 1,000 / 10,000, agrees; Customers: 30% stated, 10% counted.
    [message] = mismatches(diagnose(text))
    assert "Customers states a 30.0% conversion, but the counts give 10.0%" in message


def test_a_loss_named_by_the_stage():
    [r] = stage("Churn: 3% monthly").readings
    assert (r.meaning, r.kind, r.period) == ("loss", "churn", "month")


# -- 3. state rates ------------------------------------------------------------------------------

STATES = [("80% weekly active", "weekly active"), ("90% satisfied", "satisfied"),
          ("92% retained", "retention"), ("25% open rate", "open"), ("open rate 25%", "open"),
          ("60% mobile", "mobile"), ("40% of trials activate", "activation"),
          ("CSAT 85%", "satisfied"), ("75% monthly active", "monthly active")]


@pytest.mark.parametrize("phrase, kind", STATES)
def test_states_are_not_conversions(phrase, kind):
    s = stage(f"Customers: 500, {phrase}")
    [r] = s.readings
    assert (r.meaning, r.kind) == ("state", kind) and r.into() is None and r.onward() is None
    d = diagnose(f"Trials: 2,000\nCustomers: 500, {phrase}\nRenewed: 450")
    # Only the counts: 500 / 2,000 = 25%, 450 / 500 = 90%; the state checks nothing.
    assert [round(t.conversion, 3) for t in d.transitions] == [0.25, 0.9]
    assert mismatches(d) == []
    assert any("Read as states of the stage" in n and "Customers" in n for n in d.notes)


# -- 4. a count's period ------------------------------------------------------------------------

@pytest.mark.parametrize("text, count, period", [
    ("Customers: 500, 10% churn per year", 500, None),  # the rate's year is the rate's
    ("Customers: 500, 10% yearly churn", 500, None),
    ("Customers: 500, 3% churn per month", 500, None),
    ("Customers: 6,000 per year, 3% monthly churn", 500, "year"),  # 6,000 / 12
    ("Customers: 1,500/quarter, 10% churn a year", 500, "quarter"),  # 1,500 / 3
    ("Monthly visitors: 10k, 40% bounce", 10_000, "month"),
    ("Trials: 900, 30% go on to book a call each week", 900, None),
])
def test_a_rates_period_never_changes_the_count(text, count, period):
    s = stage(text)
    assert s.count == pytest.approx(count) and s.period == period


@pytest.mark.parametrize("header, period, per_month", [
    ("Monthly funnel", "month", 500), ("Funnel (monthly):", "month", 500),
    ("All figures per quarter", "quarter", 500 / 3), ("Annual numbers", "year", 500 / 12),
    ("Note: counts are weekly", "week", 500 * 52 / 12),
])
def test_the_decks_stated_period(header, period, per_month):
    parsed = parse_stage_metrics(f"{header}\nVisitors: 10,000\nCustomers: 500, 10% churn per "
                                 "year\nTrials: 2,000/month")
    s = {x.name: x for x in parsed.stages}
    assert (s["Customers"].period, s["Customers"].period_from) == (period, "deck")
    assert s["Customers"].count == pytest.approx(per_month)
    # A count's own period wins over the deck's.
    assert (s["Trials"].period, s["Trials"].count) == ("month", 2_000)
    assert header not in parsed.unread
    assert any(f"as the line '{header}' says" in n for n in parsed.notes)


def test_a_loss_over_time_is_said_and_is_not_a_step():
    d = diagnose("Monthly funnel\nVisitors: 10,000\nCustomers: 500, 10% churn per year")
    # 500 / 10,000 = 5%, a month; the churn checks no step.
    assert [t.conversion for t in d.transitions] == [0.05] and mismatches(d) == []
    assert d.stages[1]["per_month"] == 500
    assert any("losses over time" in n and "10% churn per year" in n for n in d.notes)


# -- 5. stated rates the counts contradict -------------------------------------------------------

def test_stated_share_and_counts_disagree_both_readings():
    d = diagnose("Visitors 10,000\nSignups 1,200 (30% of visitors)\nCustomers 100")
    [message] = mismatches(d)
    # Stated 30% of 10,000 = 3,000 signups; counts 1,200 / 10,000 = 12%.
    assert message.startswith("Line 'Signups 1,200 (30% of visitors)':")
    assert "states a 30.0% conversion, but the counts give 12.0% (1,200 / 10,000)" in message
    assert "about 3,000 a month" in message and "it is 1,200" in message


@pytest.mark.parametrize("text, issue", [
    ("Visitors: 10,000\nSignups: 1,250 (12% of visitors)", False),  # 12.5% vs 12%: agrees
    ("Visitors: 10,000\nSignups: 1,200, conversion 12%", False),
    ("Visitors: 10,000\nSignups: 1,200, conversion 20%", True),
    ("Visitors: 10,000\nPricing: 3,000\nTrials: 900 (9% of visitors)", False),  # of visitors
    ("Visitors: 10,000\nPricing: 3,000\nTrials: 900 (20% of visitors)", True),
])
def test_shares_are_checked_against_the_stage_they_name(text, issue):
    found = mismatches(diagnose(text))
    assert bool(found) == issue
    if "20% of visitors" in text:
        assert "from Visitors, but the counts give 9.0% (900 / 10,000)" in found[0]


def test_lines_with_no_separator_and_prose_that_is_not_a_stage():
    parsed = parse_stage_metrics("Signups 1,200 (30% of visitors)\nwe had 3 great months\n"
                                 "show me 5 customers")
    assert [s.name for s in parsed.stages] == ["Signups"]
    assert parsed.unread == ["we had 3 great months", "show me 5 customers"]


# -- 6. a plan is always produced -----------------------------------------------------------------

WITHIN = "Visitors: 10,000/month\nPricing: 3,000\nTrials: 450\nCustomers: 90\nRetained: 80"


def test_plan_when_no_step_is_below_its_range():
    d = diagnose(WITHIN)
    assert not any(t.verdict == "below benchmark" for t in d.transitions)
    plan = build_plan(d, quarter="2027-Q1")
    assert len(plan.initiatives) >= 3
    assert ("No step is below its benchmark range, so this plan also targets the steps that "
            "lose the most people and sit furthest below the top of their ranges") in plan.summary
    targets = {i.kpi for i in plan.initiatives}
    # Largest loss: visitors -> pricing (7,000 a month), also furthest below its top (45% - 30%);
    # next largest: pricing -> trials (2,550), then trials -> customers (360): one initiative
    # each, never two on one step.
    assert targets == {"Visitors -> Pricing conversion", "Pricing -> Trials conversion",
                       "Trials -> Customers conversion"}
    assert len(plan.initiatives) == 3
    vp = next(i for i in plan.initiatives if i.kpi.startswith("Visitors"))
    # 25%-60% of the gap from 30% to the top of the range, 45%: 33.75% to 39%.
    assert (vp.expected_low, vp.expected_high) == (pytest.approx(0.3375), pytest.approx(0.39))
    assert plan.markdown().startswith("# Quick-win plan, 2027-Q1")


def test_plan_when_one_step_is_below_its_range():
    d = diagnose("Visitors: 10,000\nPricing: 3,000\nTrials: 150\nCustomers: 30\nRetained: 27")
    plan = build_plan(d, quarter="2027-Q1")
    # Pricing -> trials: 5% is below 8-15-25%; visitors -> pricing loses the most (7,000), then
    # trials -> customers (120): one initiative a step.
    assert "Only 1 step is below its benchmark range" in plan.summary
    assert {i.kpi for i in plan.initiatives} == {"Pricing -> Trials conversion",
                                                 "Visitors -> Pricing conversion",
                                                 "Trials -> Customers conversion"}


def test_plan_for_steps_without_a_benchmark():
    # Visitors -> customers skips stages: no range; it takes the plays for reaching purchase.
    plan = build_plan(diagnose("Visitors: 10,000\nCustomers: 100"), quarter="2027-Q1")
    assert plan.initiatives and plan.initiatives[0].kpi == "Visitors -> Customers conversion"
    assert "no benchmark for this step" in plan.initiatives[0].targets
    # 1% up 5-15% relative: 1.05% to 1.15%.
    assert plan.initiatives[0].expected_low == pytest.approx(0.0105)
    assert plan.initiatives[0].expected_high == pytest.approx(0.0115)


def test_plan_refuses_only_when_no_step_loses_anyone():
    with pytest.raises(JourneyError, match="No step in these numbers loses people"):
        build_plan(diagnose("Visitors: 100\nCustomers: 200"), quarter="2027-Q1")


def test_readable_stages_still_counts_stage_lines():
    from tools.plan_tools import readable_stages

    assert readable_stages("Visitors 10,000\nSignups 1,200 (30% of visitors)") == 2
    assert readable_stages("why did signups drop in August?") == 0
