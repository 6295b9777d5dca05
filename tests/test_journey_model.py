"""The journey model read from behaviour: hand-computed toy stores in other vocabularies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from analytics.errors import ArgumentError, UnknownNameError
from analytics.journey_choices import set_journey_model
from analytics.journey_model import journey_model
from analytics.store import EventStore, ingest_files

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)


def _store(tmp_path, journeys: dict[str, list], name: str = "shop") -> EventStore:
    """journeys: person -> [event, ...] or [(event, properties), ...], a minute apart."""
    lines = ["user_id,event_time,event,properties"]
    for n, (person, steps) in enumerate(journeys.items()):
        for i, step in enumerate(steps):
            event, props = step if isinstance(step, tuple) else (step, {})
            t = T0 + timedelta(days=n, minutes=i)
            cell = json.dumps(props).replace('"', '""')
            lines.append(f'{person},{t.isoformat()},{event},"{cell}"')
    path = tmp_path / f"{name}.csv"
    path.write_text("\n".join(lines) + "\n")
    store = EventStore(tmp_path / f"home-{name}")
    ingest_files(store, "events", [path])
    return store


PAID = ("Order Completed", {"order_value": 42.5})
SHOP = {
    # Two buyers, one who stopped at the product, one who only came in. Both buyers browse
    # after buying; one cancels a membership afterwards.
    "u1": ["Home Viewed", "Product Viewed", "Added To Cart", PAID, "Catalog Viewed",
           "Catalog Viewed"],
    "u2": ["Home Viewed", "Product Viewed", "Added To Cart", "Payment Error", PAID,
           "Catalog Viewed", "Membership Cancelled"],
    "u3": ["Home Viewed", "Product Viewed"],
    "u4": ["Home Viewed"],
}


def test_the_model_is_read_from_behaviour_in_any_vocabulary(tmp_path):
    store = _store(tmp_path, SHOP)
    with store.reader() as con:
        model = journey_model(con)
    # Named like a purchase and carrying revenue: the conversion; 2 of 4 people reached it.
    assert model.conversion_event == "Order Completed"
    assert (model.people, model.converters) == (4, 2)
    # Every converter passed these before converting, in this order; the error and the
    # browsing after buying are not steps.
    assert model.funnel == ["Home Viewed", "Product Viewed", "Added To Cart", "Order Completed"]
    evidence = {s.event_name: s for s in model.steps}
    assert evidence["Added To Cart"].share_of_converters == 1.0
    # Events are a minute apart. u1: cart at minute 2 of the 3 to the order (0.667); u2: at
    # minute 2 of 4 (0.5); the median of the two is 0.583.
    assert evidence["Added To Cart"].median_position == pytest.approx((2 / 3 + 2 / 4) / 2)
    assert evidence["Payment Error"].why_not.startswith("a setback")
    assert evidence["Catalog Viewed"].after_share == 1.0
    assert model.churn_event == "Membership Cancelled"
    # Stages by position: after converting is retention, whatever the name says.
    assert model.stages["Catalog Viewed"] == "retention"
    assert model.stages["Order Completed"] == "purchase"
    with store.reader() as con:
        stored = dict(con.execute("SELECT event_name, stage FROM stage_map").fetchall())
    assert stored["Catalog Viewed"] == "retention"
    assert model.origin == {"conversion": "inferred", "funnel": "inferred", "churn": "inferred"}


def test_revenue_alone_makes_a_conversion_and_the_first_of_equals_wins(tmp_path):
    # No purchase-like name at all: the event that carries an amount is the payment.
    store = _store(tmp_path, {
        "a": ["Opened", "Step Two", ("Step Nine", {"amount": 10}), "Step Ten"],
        "b": ["Opened", "Step Two", ("Step Nine", {"amount": 12})],
        "c": ["Opened"],
    }, "plain")
    with store.reader() as con:
        assert journey_model(con).conversion_event == "Step Nine"
    # Two events named like a payment: the first subscription, not the invoices after it.
    store = _store(tmp_path, {
        f"p{i}": ["visit", "subscription_started", "invoice_paid", "invoice_paid"]
        for i in range(3)} | {"q": ["visit"]}, "saas")
    with store.reader() as con:
        model = journey_model(con)
    assert model.conversion_event == "subscription_started"
    assert model.stages["invoice_paid"] == "retention"
    assert [c.event_name for c in model.candidates] == ["subscription_started", "invoice_paid"]


def test_without_a_conversion_the_model_says_how_to_name_one(tmp_path):
    store = _store(tmp_path, {"a": ["open", "read", "read"], "b": ["open", "read"]}, "none")
    with store.reader() as con:
        model = journey_model(con)
    assert model.conversion_event is None
    assert model.funnel == ["open", "read"]  # the steps most people pass, in order
    assert "journey model set conversion EVENT" in model.summary


def test_the_users_choices_win_are_kept_across_loads_and_reset(tmp_path):
    store = _store(tmp_path, SHOP)
    model = set_journey_model(store, "funnel", ["Product Viewed", "Order Completed"])
    assert model.funnel == ["Product Viewed", "Order Completed"]
    assert model.origin["funnel"] == "yours"
    # A conversion chosen by hand: the rest of the inference is read around it.
    model = set_journey_model(store, "conversion", ["Added To Cart"])
    assert model.conversion_event == "Added To Cart" and model.converters == 2
    assert model.stages["Order Completed"] == "retention"  # after the chosen conversion
    model = set_journey_model(store, "churn", ["none"])
    assert model.churn_event is None
    # A new load infers again, but the choices stay.
    more = tmp_path / "more.csv"
    more.write_text("user_id,event_time,event\n"
                    f"u9,{(T0 + timedelta(days=30)).isoformat()},Home Viewed\n")
    ingest_files(store, "events", [more])
    with store.reader() as con:
        model = journey_model(con)
        assert model.people == 5
        assert (model.conversion_event, model.funnel, model.churn_event) == (
            "Added To Cart", ["Product Viewed", "Order Completed"], None)
        from analytics.description import describe_data

    assert describe_data(store).key_steps == ["Product Viewed", "Order Completed"]
    for part in ("conversion", "funnel", "churn"):
        model = set_journey_model(store, part, [], reset=True)
    assert model.conversion_event == "Order Completed"
    assert model.funnel[-1] == "Order Completed" and model.churn_event == "Membership Cancelled"


def test_bad_choices_are_refused_and_change_nothing(tmp_path):
    store = _store(tmp_path, SHOP)
    with pytest.raises(UnknownNameError) as found:
        set_journey_model(store, "conversion", ["Order Complete"])
    assert "Order Completed" in str(found.value)
    with pytest.raises(ArgumentError, match="at least two steps"):
        set_journey_model(store, "funnel", ["Home Viewed"])
    with pytest.raises(ArgumentError, match="one event"):
        set_journey_model(store, "churn", ["Membership Cancelled", "Home Viewed"])
    with pytest.raises(UnknownNameError):
        set_journey_model(store, "funnel", ["Home Viewed", "Checkout"])
    with store.reader() as con:
        assert journey_model(con).origin["funnel"] == "inferred"


def test_every_default_follows_the_model(tmp_path):
    from analytics.anomalies import key_steps
    from analytics.paths import default_conversion_event
    from tools.base import ToolContext
    from tools.registry import call_tool

    store = _store(tmp_path, SHOP)
    set_journey_model(store, "funnel", ["Home Viewed", "Added To Cart", "Order Completed"])
    with store.reader() as con:
        assert key_steps(con) == ["Home Viewed", "Added To Cart", "Order Completed"]
        assert default_conversion_event(con) == "Order Completed"
    mapped = call_tool(ToolContext(store), "journey_map", {})
    assert mapped.ok, mapped.content
    assert mapped.result.steps == ["Home Viewed", "Added To Cart", "Order Completed"]
    # Friction with no feedback at all answers from behaviour, never a dead end.
    found = call_tool(ToolContext(store), "friction", {"step": "Product Viewed"})
    assert found.ok, found.content
    assert found.result.next_step == "Added To Cart"  # what most people do next
    assert found.result.behaviour.dropped == 1
    assert "No feedback is loaded yet" in found.result.summary
