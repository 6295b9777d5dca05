"""Filters shared by every analytic: date range, channel, device, segment, customer attributes.

A filter compiles to one SQL common table expression, `ev`, holding the events in scope, so
each analytic writes `WITH <scope> SELECT ... FROM ev` and the work stays inside DuckDB.
Person-level attributes are defined once here: `device` and `channel` are those of the person's
first event (first touch: no channel there means they came direct, even if a later visit came
from a campaign), the rest come from the customers table or, failing that, the first event
that has the property (`property_rule="first"`) or any event that has it (`"any"`: a person
belongs to every value they ever had, so a breakdown counts them in each of its groups). A CRM
deal's steps are no touch: they carry no channel or device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from analytics.catalog import CUSTOMER_COLUMNS, DERIVED_ATTRIBUTES, Catalog
from analytics.errors import ArgumentError
from analytics.event_filters import property_sql, same_value
from analytics.store.cells import quote_ident, quote_literal
from analytics.store.nesting import json_path

# Which of a person's values of an event property count: the first event's that has it, or
# every one they ever had.
PropertyRule = Literal["first", "any"]
PROPERTY_RULES: tuple[PropertyRule, ...] = ("first", "any")


@dataclass(frozen=True)
class Filters:
    start: date | None = None  # first day included
    end: date | None = None  # last day included
    channel: tuple[str, ...] = ()
    device: tuple[str, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()  # (attribute, value) pairs, all must hold
    segment_people: tuple[str, ...] | None = None  # set by the segment filter (person ids)
    segment: str | None = None
    property_rule: PropertyRule = "first"  # a person's value of an event property: see above
    # Only people who did one of these events (at any time: "churned customers" are those who
    # ever cancelled, whatever period the analytic looks at).
    did: tuple[str, ...] = ()

    def describe(self) -> dict:
        out: dict = {}
        if self.start or self.end:
            out["date_range"] = f"{self.start or 'start'} to {self.end or 'end'} (UTC, inclusive)"
        if self.channel:
            out["channel"] = list(self.channel)
        if self.device:
            out["device"] = list(self.device)
        for key, value in self.attributes:
            out[key] = value
        if self.segment:
            out["segment"] = self.segment
        if self.property_rule != "first":
            out["property_rule"] = self.property_rule
        if self.did:
            out["did"] = list(self.did)
        return out

    @property
    def needs_profile(self) -> bool:
        return bool(self.channel or self.device or self.attributes)


def check_filters(filters: Filters, catalog: Catalog) -> None:
    if filters.property_rule not in PROPERTY_RULES:
        raise ArgumentError("filters.property_rule",
                            f"must be one of {', '.join(PROPERTY_RULES)}, not "
                            f"'{filters.property_rule}'")
    for value in filters.channel:
        catalog.check_value("channel", value)
    for value in filters.device:
        catalog.check_value("device", value)
    for key, _ in filters.attributes:
        catalog.check_attribute(key)
    for event in filters.did:
        catalog.check_event(event)


# How a person gets one value of an attribute, for every filter and breakdown (stated in each
# result's definitions).
ATTRIBUTE_RULE = ("a person's attribute is the customer record's value (a CRM column or "
                  "attribute) when there is one, else the value of that event property on the "
                  "person's first event that has it; channel and device are those of the "
                  "person's first event (none there: direct / unknown)")
ATTRIBUTE_RULE_ANY = ("a person's attribute is the customer record's value (a CRM column or "
                      "attribute) when there is one, else every value of that event property "
                      "on any of the person's events: a filter keeps the person when any event "
                      "has the value, a breakdown counts the person in the group of each value "
                      "they had (groups may sum to more than the whole); channel and device are "
                      "those of the person's first event (none there: direct / unknown)")


def attribute_rule(filters: Filters) -> str:
    """The definition of a person's attribute under the filters' property rule."""
    return ATTRIBUTE_RULE_ANY if filters.property_rule == "any" else ATTRIBUTE_RULE


def _property_column(attribute: str) -> str:
    return quote_ident("prop:" + attribute)


def _customer_value_sql(attribute: str, customer: str = "c") -> str:
    """The customer record's value of an attribute (a CRM column, else a key of attributes)."""
    if attribute in CUSTOMER_COLUMNS:
        return f"CAST({customer}.{attribute} AS VARCHAR)"
    return f"json_extract_string({customer}.attributes, {quote_literal(json_path([attribute]))})"


def attribute_sql(attribute: str, profile: str = "p", customer: str = "c") -> str:
    """The SQL expression of a person-level attribute (as text, for grouping), by the first
    rule: the customer record's value, else the profile's first value of the event property."""
    if attribute in DERIVED_ATTRIBUTES:
        return f"{profile}.{attribute}"
    return (f"COALESCE({_customer_value_sql(attribute, customer)}, "
            f"{profile}.{_property_column(attribute)})")


def _any_value_condition(attribute: str) -> str:
    """SQL (four ? parameters, all the value) true when the person's customer record has the
    value, or, without one there, when any of the person's events has it."""
    record = _customer_value_sql(attribute)
    value = property_sql(attribute)
    return (f"CASE WHEN {record} IS NOT NULL THEN COALESCE({same_value(record)}, FALSE) "
            f"ELSE p.person_id IN (SELECT person_id FROM person_events "
            f"WHERE COALESCE({same_value(value)}, FALSE)) END")


def _any_values_join(attribute: str) -> str:
    """A join giving `v.value`: each distinct value of the event property a person had."""
    value = property_sql(attribute)
    return (f"LEFT JOIN (SELECT DISTINCT person_id AS person_id, {value} AS value "
            f"FROM person_events WHERE {value} IS NOT NULL) AS v ON v.person_id = p.person_id")


def _utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


PROFILE_SQL = """
profile AS (
    SELECT person_id,
           NULLIF(arg_min(COALESCE(device, ''), {{'ts': ts, 'id': event_id}})
                      FILTER (WHERE NOT starts_with(event_id, 'deal:')), '') AS device,
           NULLIF(arg_min(COALESCE(channel, ''), {{'ts': ts, 'id': event_id}})
                      FILTER (WHERE NOT starts_with(event_id, 'deal:')), '') AS channel,{properties}
           max(customer_id) AS customer_id
    FROM journey_events
    GROUP BY person_id
)"""


def profile_sql(attributes: list[str]) -> str:
    """The people's first-touch device and channel, and the first value of each event property
    that `attributes` may need (customer attributes fall back to it).

    Device and channel alone are read from person_profiles, which ingest keeps (see
    analytics/store/steps.py): no pass over every event for a breakdown by them."""
    if all(a in ("device", "channel") for a in attributes):
        return ("\nprofile AS (SELECT person_id, device, channel, customer_id "
                "FROM person_profiles)")
    columns = ""
    for attribute in dict.fromkeys(a for a in attributes if a not in ("device", "channel")):
        value = property_sql(attribute)
        columns += (f"\n           arg_min({value}, {{'ts': ts, 'id': event_id}}) FILTER "
                    f"(WHERE {value} IS NOT NULL) AS {_property_column(attribute)},")
    return PROFILE_SQL.format(properties=columns)


@dataclass
class Scope:
    """Compiled filters: `ctes` defines `ev` (events in scope) and, when asked, `people`."""

    ctes: str
    params: list = field(default_factory=list)


def one_group_each(filters: Filters, group_by: str | None) -> bool:
    """Whether a breakdown puts every person in exactly one group (see scope_sql)."""
    return not (filters.property_rule == "any" and group_by is not None
                and group_by not in DERIVED_ATTRIBUTES)


def scope_sql(filters: Filters, *, group_by: str | None = None, date_range: bool = True,
              light: bool = False, several_groups: bool = False,
              join_groups: bool = True) -> Scope:
    """CTEs `ev` (filtered events, with a `grp` column when grouping) for an analytic.

    With `date_range=False` the date range is left to the analytic (the funnel applies it to
    the first step only). `light=True` skips the stage map (stage columns are NULL), which saves
    two joins per event for the analytics that never look at stages.

    Under `property_rule="any"` a breakdown by an event property puts a person in every group of
    a value they had: `people` has a row per (person, group) and `ev` repeats a person's events
    once per group. Only an analytic that keys its work by (person_id, grp) says
    `several_groups=True`; for the others such a breakdown is refused, never miscounted.

    `join_groups=False` leaves `grp` off `ev` (an analytic then joins `people` itself, once,
    where one group per person makes that exact: see one_group_each).
    """
    events_table = "person_events" if light else "journey_events"
    stage_cols = ("NULL::VARCHAR AS stage, NULL::INTEGER AS stage_position" if light
                  else "e.stage AS stage, e.stage_position AS stage_position")
    params: list = []
    ctes: list[str] = []
    person_conditions: list[str] = []
    need_profile = filters.needs_profile or group_by is not None
    any_rule = filters.property_rule == "any"
    many = any_rule and group_by is not None and group_by not in DERIVED_ATTRIBUTES
    if many and not several_groups:
        raise ArgumentError("filters.property_rule",
                            "'any' (a person in every group of a value they had) is not "
                            "available for this analytic's breakdown; use 'first'")
    if need_profile:
        # Under the any rule no event property is read from the first event that has it.
        wanted = [] if any_rule else [k for k, _ in filters.attributes] + (
            [group_by] if group_by else [])
        ctes.append(profile_sql(wanted))
        person_filter = ["TRUE"]
        for value_list, column in ((filters.channel, "p.channel"), (filters.device, "p.device")):
            if value_list:
                # Names are kept as loaded ("Google Ads", "iOS"); a filter finds them whatever
                # the case it is typed in.
                listed = ", ".join("lower(?)" for _ in value_list)
                person_filter.append(f"lower({column}) IN ({listed})")
                params.extend(value_list)
        for key, value in filters.attributes:
            # As a marketer means it: `plan=Pro` finds the CRM's "pro"; 49 is 49.0.
            if any_rule and key not in DERIVED_ATTRIBUTES:
                person_filter.append(_any_value_condition(key))
                params += [value] * 4
                continue
            person_filter.append(f"COALESCE({same_value(attribute_sql(key))}, FALSE)")
            params += [value, value]
        values_join, distinct = "", "DISTINCT " if many else ""
        if many and group_by is not None:
            grp = f"COALESCE({_customer_value_sql(group_by)}, v.value)"
            values_join = "\n    " + _any_values_join(group_by)
        else:
            grp = attribute_sql(group_by) if group_by else "NULL"
        ctes.append(f"""
people AS (
    SELECT {distinct}p.person_id AS person_id, COALESCE({grp}, '(none)') AS grp
    FROM profile AS p LEFT JOIN customers AS c ON c.customer_id = p.customer_id{values_join}
    WHERE {' AND '.join(person_filter)}
)""")
        if len(person_filter) > 1:  # the profile has everyone: no filter, no condition
            person_conditions.append("e.person_id IN (SELECT person_id FROM people)")
    if filters.segment_people is not None:
        ctes.append("segment_people AS (SELECT unnest(?::VARCHAR[]) AS person_id)")
        params.append(list(filters.segment_people))
        person_conditions.append("e.person_id IN (SELECT person_id FROM segment_people)")
    if filters.did:
        listed = ", ".join("?" for _ in filters.did)
        person_conditions.append(f"e.person_id IN (SELECT person_id FROM person_events "
                                 f"WHERE event_name IN ({listed}))")
        params.extend(filters.did)
    conditions = list(person_conditions)
    if date_range and filters.start:
        conditions.append("e.ts >= ?")
        params.append(_utc(filters.start))
    if date_range and filters.end:
        conditions.append("e.ts < ?")
        params.append(_utc(filters.end + timedelta(days=1)))
    where = " AND ".join(conditions) if conditions else "TRUE"
    grp_col = ", g.grp AS grp" if group_by and join_groups else ""
    join = "JOIN people AS g ON g.person_id = e.person_id" if group_by and join_groups else ""
    ctes.append(f"""
ev AS (
    SELECT e.event_id AS event_id, e.person_id AS person_id, e.customer_id AS customer_id,
           e.ts AS ts, e.event_name AS event_name, {stage_cols},
           e.channel AS channel, e.device AS device, e.properties AS properties{grp_col}
    FROM {events_table} AS e {join}
    WHERE {where}
)""")
    return Scope(ctes="WITH " + ",\n".join(c.strip() for c in ctes), params=params)


def observation_end(con, filters: Filters) -> datetime:
    """When observation stops: the last event at or before the date range's end (the whole
    store's last event without one). Data after --until must not count as "still active",
    make a week look complete, or age a customer."""
    if filters.end is None:
        row = con.execute("SELECT max(ts) FROM events").fetchone()
    else:
        row = con.execute("SELECT max(ts) FROM events WHERE ts < ?",
                          [_utc(filters.end + timedelta(days=1))]).fetchone()
    if not row or row[0] is None:
        from analytics.errors import JourneyError

        raise JourneyError("No events " + (f"up to {filters.end}" if filters.end else "yet")
                           + ": there is nothing to observe")
    return row[0]


def date_bounds(filters: Filters) -> tuple[datetime | None, datetime | None]:
    start = _utc(filters.start) if filters.start else None
    end = _utc(filters.end + timedelta(days=1)) if filters.end else None
    return start, end
