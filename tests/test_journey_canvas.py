"""The journey map as marketers draw it: stages as columns, a row per question, segments side
by side with their differences marked, exported as a page and a PNG."""

from __future__ import annotations

import re
from datetime import date, timedelta
from types import SimpleNamespace

import pytest

from analytics.journey_canvas import ROWS, StageColumn, _feeling
from analytics.journey_map_export import emotion_svg, stage_groups
from tools.base import ToolContext
from tools.registry import call_tool


def test_the_feeling_row_is_net_sentiment_of_the_stage_hand_computed():
    snippets = [SimpleNamespace(stage="consideration", sentiment=s, rating=r)
                for s, r in (("positive", 9), ("positive", 8), ("positive", None),
                             ("negative", 2))] + [
        SimpleNamespace(stage="purchase", sentiment="negative", rating=None)]
    columns = [StageColumn("awareness", "landing"), StageColumn("consideration", "pricing"),
               StageColumn("purchase", "paid")]
    _feeling(columns, snippets)
    # Consideration: (3 positive - 1 negative) / 4 = +50%; ratings (9 + 8 + 2) / 3.
    assert columns[1].sentiment == 0.5
    assert columns[1].cells["feeling"].text == "positive: net +50% of 4 items; mean rating 6.3"
    assert columns[2].sentiment == -1.0 and columns[0].sentiment is None
    svg = emotion_svg(columns)
    # Two points (the stage without feedback has none), joined by the line.
    assert svg.count("<circle") == 2 and "<polyline" in svg


def test_stages_group_their_steps():
    columns = [StageColumn("a", "1"), StageColumn("b", "2"), StageColumn("b", "3"),
               StageColumn("c", "4")]
    assert stage_groups(columns) == [(0, 1), (1, 2), (3, 1)]


@pytest.fixture(scope="module")
def demo_map(demo_store):
    ctx = ToolContext(demo_store)
    result = call_tool(ctx, "journey_map", {"compare_by": "device"})
    assert result.ok, result.content
    return ctx, result.result


@pytest.mark.slow
def test_the_map_has_a_column_per_step_and_a_row_per_question(demo_map):
    _, m = demo_map
    assert [c.step for c in m.columns] == m.steps
    for k, col in enumerate(m.columns):
        assert set(col.cells) == set(ROWS)
        step = m.funnel.steps[k]
        assert col.cells["people"].text.startswith(f"{step.customers:,} people")
        # Shares of the stage's people: never more than everyone.
        shares = re.findall(r"\((\d+)%\)", col.cells["touchpoints"].text)
        assert shares and all(int(s) <= 100 for s in shares)
    assert "pricing_view" in {c.step for c in m.columns}
    pain = next(c for c in m.columns if c.step == "pricing_view").cells["pain point"]
    assert "wrote to us" in pain.text and pain.source.startswith("journey friction pricing_view")


@pytest.mark.slow
def test_segments_side_by_side_mark_the_mobile_pricing_gap(demo_map):
    _, m = demo_map
    assert [v for v, _ in m.compared] == ["desktop", "mobile"]
    # The planted gap: pricing -> signup, 43.8% on desktop against 14.2% on mobile.
    assert ("people", "pricing_view") in m.differs
    rates = {v: next(c for c in cols if c.step == "pricing_view").cells["people"].value
             for v, cols in m.compared}
    assert rates["desktop"] - rates["mobile"] > 0.2
    # Each segment's feeling is its own people's feedback, not everyone's.
    feelings = {v: [c.cells["feeling"].text for c in cols] for v, cols in m.compared}
    assert feelings["desktop"] != feelings["mobile"]
    page = m.html()
    assert page.count("<table class='map'>") == 2 and "class='differs'" in page
    assert "<script" not in page and "colspan=" in page and "Data: " in page


@pytest.mark.slow
def test_the_map_exports_and_bad_requests_are_told(demo_map, tmp_path):
    ctx, m = demo_map
    m.write_html(str(tmp_path / "map.html"))
    assert "Journey map" in (tmp_path / "map.html").read_text(encoding="utf-8")
    m.write_png(str(tmp_path / "map.png"))
    assert (tmp_path / "map.png").read_bytes()[:4] == b"\x89PNG"
    m.write_pdf(str(tmp_path / "map.pdf"))
    assert (tmp_path / "map.pdf").read_bytes()[:4] == b"%PDF"
    from analytics.errors import JourneyError

    with pytest.raises(JourneyError, match="does not exist"):
        m.write_png(str(tmp_path / "no" / "map.png"))
    bad = call_tool(ctx, "journey_map", {"compare_by": "shoe_size"})
    assert not bad.ok and "shoe_size" in bad.content


@pytest.mark.slow
def test_before_and_after_a_date_each_period_is_its_own(demo_store, demo_manifest):
    ctx = ToolContext(demo_store)
    planted = demo_manifest["truths"]["signup_outage"]
    outage, last = planted["week_start"][:10], planted["week_end"][:10]
    # The weeks before the signup outage against the outage week itself.
    week_end = (date.fromisoformat(last) - timedelta(days=1)).isoformat()
    m = call_tool(ctx, "journey_map", {"compare_at": outage,
                                       "filters": {"until": week_end}}).result
    assert ("people", "pricing_view") in m.differs
    rates = [next(c for c in cols if c.step == "pricing_view").cells["people"].value
             for _, cols in m.compared]
    # Planted: 33% sign up within the week in other weeks, 1.4% in the outage week. The map
    # follows the week's people on past it (the funnel's window), so the dip is shallower.
    assert rates[0] > 0.25 and rates[1] < rates[0] - 0.08
    assert [v for v, _ in m.compared] == [f"before {outage}", f"from {outage}"]
    assert m.compare_by == "period" and "period: before" in m.html()
    day_before = (date.fromisoformat(outage) - timedelta(days=1)).isoformat()
    for (label, cols), scope in zip(m.compared, ({"until": day_before},
                                                 {"since": outage, "until": week_end})):
        # Each period's people are that period's funnel, not everyone's.
        alone = call_tool(ctx, "funnel", {"steps": m.steps, "filters": scope}).result
        assert [c.cells["people"].text.split(" people")[0] for c in cols] == [
            f"{s.customers:,}" for s in alone.steps], label
    feelings = [[c.cells["feeling"].text for c in cols] for _, cols in m.compared]
    assert feelings[0] != feelings[1]  # each period's own feedback
    # A date outside the data, or with a property as well, is refused with what to change.
    late = call_tool(ctx, "journey_map", {"compare_at": "2031-01-01"})
    assert not late.ok and "must fall after the first day" in late.content
    both = call_tool(ctx, "journey_map", {"compare_at": outage, "compare_by": "device"})
    assert not both.ok and "not both" in both.content


def test_the_flows_view_names_the_top_events_and_groups_the_rest():
    from analytics.paths import SankeyLink, readable_flows, sankey_figure

    # From one start, 10 second steps (sizes 10..1 people) and links past step 4.
    flows = [SankeyLink(1, "home", f"e{n}", 11 - n) for n in range(1, 11)]
    flows += [SankeyLink(4, "e1", "deep", 3), SankeyLink(3, "x", "y", 2)]
    shown = readable_flows(flows)
    second = {f.target for f in shown if f.step == 1}
    # The 5 largest by name, the other 5 as one node holding their 15 people (5+4+3+2+1).
    assert second == {"e1", "e2", "e3", "e4", "e5", "other (5 events)"}
    assert next(f.customers for f in shown if f.target == "other (5 events)") == 15
    assert all(f.step < 4 for f in shown)  # at most four columns
    labels = sankey_figure(flows, "t").data[0].node.label
    assert len(labels) == len(set(labels)) <= 1 + 6 + 2
