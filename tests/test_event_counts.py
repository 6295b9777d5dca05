"""Event counts on a tiny store built in code, every figure computed by hand; and the questions
that reach them ("how many ...?", "who ...?", "which plan churns most?")."""

from __future__ import annotations

from datetime import date

import pytest

from analytics.errors import ArgumentError, UnknownNameError
from analytics.event_counts import event_counts
from analytics.filters import Filters
from analytics.store import EventStore, ingest_files
from tools.base import ToolContext
from tools.registry import call_tool

# c1 and c2 pay; c2 and c3 cancel (c3 twice, once in March); c4 only looks; c3 opted out.
EVENTS = """event_id,customer_id,timestamp,event_name,device
e1,c1,2024-01-05T10:00:00Z,view,desktop
e2,c1,2024-01-06T10:00:00Z,paid,desktop
e3,c2,2024-01-10T10:00:00Z,view,mobile
e4,c2,2024-01-11T10:00:00Z,paid,mobile
e5,c2,2024-02-20T10:00:00Z,cancel,mobile
e6,c3,2024-02-01T10:00:00Z,view,mobile
e7,c3,2024-02-02T10:00:00Z,cancel,mobile
e8,c3,2024-03-03T10:00:00Z,cancel,mobile
e9,c4,2024-03-10T10:00:00Z,view,desktop
"""
CUSTOMERS = """customer_id,plan,opted_out
c1,pro,false
c2,pro,false
c3,free,true
c4,free,false
"""


@pytest.fixture
def store(tmp_path):
    (tmp_path / "events.csv").write_text(EVENTS)
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    store = EventStore(tmp_path / "home")
    ingest_files(store, "events", [tmp_path / "events.csv"])
    ingest_files(store, "customers", [tmp_path / "customers.csv"])
    return store


def test_people_times_months_and_who(store):
    with store.reader() as con:
        r = event_counts(con, "cancel")
    assert (r.people, r.times, r.people_in_scope) == (2, 3, 4)
    assert [(p.period.strftime("%Y-%m"), p.people, p.times) for p in r.periods] == [
        ("2024-02", 2, 2), ("2024-03", 1, 1)]
    # c3 cancelled last but opted out: counted, never listed.
    assert [p.customer_id for p in r.recent] == ["c2"] and r.excluded_opted_out == 1
    assert "2 people did cancel (3 times), 50.0% of the 4 people in scope" in r.summary
    assert "c3" not in r.summary


def test_a_period_and_a_breakdown(store):
    with store.reader() as con:
        march = event_counts(con, "cancel", filters=Filters(start=date(2024, 3, 1),
                                                            end=date(2024, 3, 31)))
        by_plan = event_counts(con, "cancel", by="plan")
    assert (march.people, march.times, march.people_in_scope) == (1, 1, 2)
    shares = {g.group: (g.people, g.of_group, g.share) for g in by_plan.groups}
    assert shares == {"pro": (1, 2, 0.5), "free": (1, 2, 0.5)}


def test_weeks_and_no_one(store):
    with store.reader() as con:
        weeks = event_counts(con, "paid", interval="week")
        nobody = event_counts(con, "paid", filters=Filters(start=date(2024, 3, 1)))
    assert [(p.period.strftime("%Y-%m-%d"), p.people) for p in weeks.periods] == [
        ("2024-01-01", 1), ("2024-01-08", 1)]
    assert nobody.people == 0 and nobody.summary.startswith("No one did paid")


def test_revenue_is_summed_from_the_events_own_amounts(tmp_path):
    # Two orders carry a price (10.50 in January, 4.25 in February), one carries none and one
    # a text that is not a number: 14.75 USD in all; the view has no amount to sum.
    (tmp_path / "events.csv").write_text(
        "event_id,customer_id,timestamp,event_name,price,currency\n"
        "e1,c1,2024-01-05T10:00:00Z,view,,\n"
        "e2,c1,2024-01-06T10:00:00Z,order,10.50,USD\n"
        "e3,c2,2024-02-10T10:00:00Z,order,4.25,USD\n"
        "e4,c3,2024-02-11T10:00:00Z,order,,USD\n"
        "e5,c4,2024-02-12T10:00:00Z,order,free,USD\n")
    store = EventStore(tmp_path / "home")
    ingest_files(store, "events", [tmp_path / "events.csv"])
    with store.reader() as con:
        orders = event_counts(con, "order")
        views = event_counts(con, "view")
    assert (orders.value_key, orders.value_total, orders.currency) == ("price", 14.75, "USD")
    assert [p.value for p in orders.periods] == [10.5, 4.25]
    assert "adds up to 14.75 USD" in orders.summary
    assert views.value_key is None and views.value_total is None and "adds up" not in views.summary


def test_bad_arguments_say_what_to_fix(store):
    with store.reader() as con:
        with pytest.raises(UnknownNameError):
            event_counts(con, "cancelled")
        with pytest.raises(ArgumentError, match="week"):
            event_counts(con, "cancel", interval="day")  # type: ignore[arg-type]
    result = call_tool(ToolContext(store), "event_counts", {"event": "cancelled"})
    assert not result.ok and "cancel" in result.content


@pytest.mark.parametrize("question, tool, check", [
    ("who churned last quarter?", "event_counts",
     lambda a: a["event"] == "subscription_cancelled" and a["filters"]["since"] == "2026-07-01"),
    ("how many customers cancelled in the past 30 days?", "event_counts",
     lambda a: a["event"] == "subscription_cancelled" and "did" not in a["filters"]),
    ("Which plan has the worst churn?", "event_counts",
     lambda a: a["by"] == "plan" and a["filters"]["did"] == ["subscription_started"]),
    ("cancellations by month - getting worse?", "event_counts",
     lambda a: a["event"] == "subscription_cancelled"),
    ("what share of people who look at the pricing page go on to sign up?", "funnel",
     lambda a: a["steps"] == ["pricing_view", "signup"]),
    ("which paths lead to a paid subscription?", "paths",
     lambda a: a["to_event"] == "subscription_started"),
    ("how much revenue did subscriptions bring in?", "event_counts",
     lambda a: a["event"] == "subscription_started"),
    ("what's the conversion rate for people from paid social?", "event_counts",
     lambda a: a["event"] == "subscription_started" and a["filters"]["channel"] == "paid_social"),
    ("what happens to people who get a payment_failed?", "next_steps",
     lambda a: a["after"] == ["payment_failed"]),
])
def test_questions_reach_the_tool_that_answers_them(question, tool, check, tmp_path_factory):
    from agent.planner import OfflinePlanner
    from sample_data.demo import load_demo

    home = tmp_path_factory.getbasetemp() / "counts_demo"
    store = EventStore(home)
    if not (home / "built").exists():
        load_demo(store, people=600, seed=3)
        (home / "built").write_text("yes")
    planner = OfflinePlanner(ToolContext(store))
    _, _, calls = planner.plan(question)
    assert calls and calls[0].tool == tool and check(calls[0].arguments), (question, calls)
