"""The quarterly plan: tests designed for the traffic, a quarter where tests on one step never
overlap, frictions found on a hand-built log, and the demo's planted frictions each planned once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analytics.diagnosis.experiment import design_experiment, detectable_rate, sample_size_per_arm
from analytics.diagnosis.frictions import months_of_data, segment_gaps
from analytics.diagnosis.schedule import gantt_rows, schedule
from analytics.errors import JourneyError
from analytics.funnel import funnel
from analytics.store import EventStore, ingest_files
from sample_data.demo import load_demo
from tools.base import ToolContext
from tools.registry import call_tool


def test_the_detectable_rate_inverts_the_sample_size():
    # 3,841 a arm detect 10% -> 12% (the published two-proportion figure, as in test_diagnosis).
    assert sample_size_per_arm(0.10, 0.12) == 3841
    rate = detectable_rate(0.10, 3841)
    assert rate == pytest.approx(0.12, abs=0.0005)
    assert sample_size_per_arm(0.10, rate) <= 3841 < sample_size_per_arm(0.10, rate - 0.001)
    down = detectable_rate(0.50, 400, increase=False)
    assert down < 0.50 and sample_size_per_arm(0.50, down) <= 400
    assert detectable_rate(0.10, 1) is None


def test_the_design_follows_the_traffic():
    # 10% -> 12% needs 3,841 a arm (7,682 people): 1,000 a week fill it in 8 of the 9 weeks
    # left after a 2-week build and the read-out week.
    busy = design_experiment(0.10, 0.12, 0.15, 1000, build_weeks=2)
    assert busy.readable_in_quarter and busy.run_weeks == 8 and busy.holdout_share == 0.5
    assert busy.design.startswith("randomised 50/50")
    # 300 a week: 9 weeks give 1,350 a arm, which detect a smaller move than 10% -> 15%.
    larger = design_experiment(0.10, 0.12, 0.15, 300, build_weeks=2)
    mde = detectable_rate(0.10, 300 * 9 / 2)
    assert larger.readable_in_quarter and "powered for a larger change" in larger.design
    assert larger.minimum_detectable == pytest.approx(mde) and 0.12 < mde <= 0.15
    # 120 a week: a 50/50 split (540 a arm) cannot, 90% against the weeks before (972) can.
    staged = design_experiment(0.10, 0.12, 0.15, 120, build_weeks=2)
    assert staged.readable_in_quarter and staged.design.startswith("staged rollout to 90%")
    assert staged.holdout_share == 0.1 and "weaker evidence" in staged.note
    # 20 a week: nothing plausible can be read; said so, not sold as a quick win.
    thin = design_experiment(0.10, 0.12, 0.15, 20, build_weeks=2)
    assert not thin.readable_in_quarter and "Not a quick win" in thin.note
    # A cancellation is seen a month later: the run leaves those weeks.
    later = design_experiment(0.50, 0.45, 0.40, 1000, build_weeks=1, increase=False,
                              outcome_delay_weeks=4)
    assert later.run_weeks <= 12 - 1 - 1 - 4


def test_tests_on_one_step_follow_each_other_and_an_owner_builds_one_at_a_time():
    slots = schedule([("PM", "a -> b", 2, 4),    # weeks 1-2 build, 3-6 run, 7 read
                      ("PM", "c -> d", 1, 3),    # the PM is free in week 3: build 3, run 4-6
                      ("CS", "a -> b", 1, 2),    # built in week 1, waits for a -> b: run 8-9
                      ("Ops", "e -> f", 3, 10)])  # 4 weeks build, run 5-14: past the quarter
    assert [(s.build_start, s.build_end, s.run_start, s.run_end, s.readout) for s in slots] == [
        (1, 2, 3, 6, 7), (3, 3, 4, 6, 7), (1, 1, 8, 9, 10), (1, 4, 5, 14, 15)]
    assert [s.past_quarter for s in slots] == [False, False, False, True]
    rows = gantt_rows(["one", "two", "three", "four"], slots)
    assert rows[2][1][:10] == ["build", "", "", "", "", "", "", "run", "run", "read"]
    assert len(rows[0][1]) == 15  # the chart runs to the last read-out


def _gap_store(folder) -> EventStore:
    """100 desktop people, 60 go from a to b; 100 mobile people, 20 do. All on one day."""
    day = datetime(2024, 3, 4, 9, tzinfo=UTC)
    lines = ["customer_id,timestamp,event_name,device"]
    for n in range(200):
        device = "desktop" if n < 100 else "mobile"
        goes_on = n < 60 or 100 <= n < 120
        t = day + timedelta(seconds=n)
        lines.append(f"p{n},{t.isoformat()},a,{device}")
        if goes_on:
            lines.append(f"p{n},{(t + timedelta(minutes=5)).isoformat()},b,{device}")
    path = folder / "gap.csv"
    path.write_text("\n".join(lines) + "\n")
    store = EventStore(folder / "home")
    ingest_files(store, "events", [path])
    return store


def test_a_segment_gap_on_a_hand_built_log(tmp_path):
    store = _gap_store(tmp_path)
    with store.reader() as con:
        overall = funnel(con, ["a", "b"])
        months = months_of_data(con)
        found = segment_gaps(con, ["a", "b"], overall, months, ["device"])
    assert months == 1.0  # one day of data counts as a month, never less
    assert len(found) == 1
    gap = found[0]
    # Mobile 20/100 against the other 60/100 (desktop), the whole gap 40 people at b.
    assert (gap.segment, gap.rate, gap.reference, gap.reference_label) == (
        [("device", "mobile")], 0.2, 0.6, "desktop")
    assert gap.monthly_people == 100 and gap.gap_people() == pytest.approx(40)
    assert gap.p_value < 1e-6 and "mobile 20.0% of 100 against 60.0% of the other 100" in \
        gap.evidence[0].text


@pytest.fixture(scope="module")
def demo_plan(tmp_path_factory):
    """The plan `make run` users see: the default 20,000-person demo."""
    store = EventStore(tmp_path_factory.mktemp("plan") / "home")
    load_demo(store, people=20000, seed=7)
    ctx = ToolContext(store)
    result = call_tool(ctx, "plan", {"quarter": "2027-Q1"})
    assert result.ok, result.content
    return ctx, result.result


@pytest.mark.slow
def test_the_demo_plan_targets_each_planted_friction_once(demo_plan):
    _, plan = demo_plan
    items = plan.initiatives
    assert 3 <= len(items) <= 7
    # No two initiatives share a target and its evidence.
    assert len({(i.step, i.segment) for i in items}) == len(items)
    assert len({tuple(i.evidence) for i in items}) == len(items)
    mobile = [i for i in items if i.step == "pricing_view -> signup"]
    assert len(mobile) == 1 and mobile[0].kind == "segment gap" and mobile[0].segment == "mobile"
    # Sized as the gap: if mobile converted like desktop, at the journey's last stage.
    assert "If mobile converted like desktop at pricing_view -> signup" in mobile[0].why
    assert mobile[0].impact_unit == "more subscription_started a month"
    assert any("wrote to us mention" in e for e in mobile[0].evidence)
    invite = [i for i in items if i.kind == "retention lever"]
    # The week it matters in: within 7 days of signing up, not "ever".
    assert len(invite) == 1 and invite[0].title == ("Prompt invite_teammate in the first week "
                                                    "after signup")
    assert invite[0].audience == {"reached": "signup", "not_did": "invite_teammate"}
    billing = [i for i in items if i.kind == "churn gap"]
    assert len(billing) == 1 and billing[0].segment == "starter (plan), monthly (billing period)"
    assert any("payment_failed" in e for e in billing[0].evidence)  # what goes with it there
    # Evidence only about its own step and segment: the billing initiative cites no pricing page.
    assert not any("pricing_view" in e for e in billing[0].evidence)
    readable = sum(i.experiment.readable_in_quarter for i in items)
    assert readable * 2 >= len(items)
    # A test that cannot be read this quarter runs on after it, with no read-out date in it.
    for i in items:
        assert i.slot.open_ended == (not i.experiment.readable_in_quarter)
    # The one-off signup outage is named, as left out, not planned.
    assert any("2026-08-17" in x and "one-off incident" in x for x in plan.left_out)
    # Tests on one step never run at the same time.
    for a in items:
        for b in items:
            if a is not b and a.step == b.step:
                assert a.slot.run_end < b.slot.run_start or b.slot.run_end < a.slot.run_start


@pytest.mark.slow
def test_the_plan_exports_as_markdown_html_and_pdf(demo_plan, tmp_path):
    _, plan = demo_plan
    figure = plan.figure()  # the web app's Gantt chart, open-ended runs included
    assert {trace.name for trace in figure.data} >= {"build", "run", "read"}
    md = plan.markdown()
    assert md.index("## On one page") < md.index("## 1. ") < md.index("## Timeline")
    assert "**Do first:**" in md and "**Needed from whom:**" in md and "b build" in md
    plan.write_html(str(tmp_path / "plan.html"))
    page = (tmp_path / "plan.html").read_text(encoding="utf-8")
    assert "<script" not in page and "class='gantt'" in page and "On one page" in page
    plan.write_pdf(str(tmp_path / "plan.pdf"))
    pdf = (tmp_path / "plan.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") >= 3
    with pytest.raises(JourneyError, match="does not exist"):
        plan.write_pdf(str(tmp_path / "no" / "such" / "plan.pdf"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.html", "plan.pdf"]
