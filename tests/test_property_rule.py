"""A person's value of an event property for filters and breakdowns: that of their first event
that has it (the default), or every value any of their events had (issue #16)."""

from __future__ import annotations

from typing import get_args

import pytest

from analytics.errors import ArgumentError
from analytics.filters import PROPERTY_RULES, Filters, PropertyRule, scope_sql
from analytics.funnel import funnel
from analytics.store import ingest_files
from tools.base import FilterArgs, ToolContext
from tools.registry import call_tool

# u1's first event says free, a later one pro; u2 is pro throughout; u3 never says; u4's
# customer record says enterprise, which wins over its events under either rule.
EVENTS = (
    "user_id,timestamp,event,plan_tier\n"
    "u1,2024-03-01T10:00:00Z,Visit,free\n"
    "u1,2024-03-02T10:00:00Z,Signup,pro\n"
    "u2,2024-03-01T11:00:00Z,Visit,pro\n"
    "u2,2024-03-01T12:00:00Z,Signup,\n"
    "u3,2024-03-01T13:00:00Z,Visit,\n"
    "u4,2024-03-01T14:00:00Z,Visit,free\n"
    "u4,2024-03-01T15:00:00Z,Pricing,pro\n"
)
CUSTOMERS = "customer_id,plan_tier\nu4,enterprise\n"


@pytest.fixture
def loaded(store, write):
    ingest_files(store, "events", [write("events.csv", EVENTS)])
    ingest_files(store, "customers", [write("crm.csv", CUSTOMERS)])
    return store


def _groups(result) -> dict[str, tuple[int, int]]:
    return {g.group: (g.steps[0].customers, g.steps[1].customers) for g in result.groups}


def test_a_breakdown_reads_the_first_value_or_every_value(loaded):
    with loaded.reader() as con:
        first = funnel(con, ["Visit", "Signup"], by="plan_tier")
        anyone = funnel(con, ["Visit", "Signup"], by="plan_tier",
                        filters=Filters(property_rule="any"))
    assert _groups(first) == {"free": (1, 1), "pro": (1, 1), "enterprise": (1, 0),
                              "(none)": (1, 0)}
    # u1 is in free and in pro; u4 stays enterprise (the record's value); u3 has none.
    assert _groups(anyone) == {"free": (1, 1), "pro": (2, 2), "enterprise": (1, 0),
                               "(none)": (1, 0)}
    # The whole is still each person once.
    assert [s.customers for s in anyone.steps] == [4, 2]
    assert "every value" in anyone.definitions["attribute"]
    assert "first event that has it" in first.definitions["attribute"]
    assert anyone.filters == {"property_rule": "any"} and first.filters == {}


@pytest.mark.parametrize("tier, first, anyone", [
    ("pro", 1, 2), ("PRO", 1, 2), ("free", 1, 1), ("enterprise", 1, 1), ("team", 0, 0)])
def test_a_filter_keeps_a_person_when_any_event_has_the_value(loaded, tier, first, anyone):
    with loaded.reader() as con:
        def visitors(rule: PropertyRule) -> int:
            return funnel(con, ["Visit", "Signup"], filters=Filters(
                attributes=(("plan_tier", tier),), property_rule=rule)).steps[0].customers

        assert (visitors("first"), visitors("any")) == (first, anyone)


def test_the_rule_is_an_argument_of_every_analytic_with_filters(loaded):
    ctx = ToolContext(loaded)
    args = {"steps": ["Visit", "Signup"], "by": "plan_tier"}
    first = call_tool(ctx, "funnel", args)
    anyone = call_tool(ctx, "funnel", {**args, "filters": {"property_rule": "any"}})
    assert first.ok and anyone.ok
    assert _groups(anyone.result)["pro"] == (2, 2) and _groups(first.result)["pro"] == (1, 1)
    wrong = call_tool(ctx, "funnel", {**args, "filters": {"property_rule": "all"}})
    assert not wrong.ok
    # One vocabulary on both sides of the tools' edge.
    assert get_args(FilterArgs.model_fields["property_rule"].annotation) == PROPERTY_RULES
    assert FilterArgs(property_rule="any").to_filters().property_rule == "any"


def test_an_analytic_that_keys_by_person_alone_refuses_several_groups():
    with pytest.raises(ArgumentError) as raised:
        scope_sql(Filters(property_rule="any"), group_by="plan_tier")
    assert raised.value.field == "filters.property_rule"
    # A breakdown by first touch, or a filter alone, is one group per person under either rule.
    scope_sql(Filters(property_rule="any"), group_by="device")
    scope_sql(Filters(property_rule="any", attributes=(("plan_tier", "pro"),)))
