"""The names the store knows: events, stages, channels, devices, customer attributes.

Every analytic checks the names it is given against this catalog before any SQL runs, and a
wrong name comes back with the closest valid ones.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from analytics.errors import UnknownNameError
from analytics.store.connection import Connection

# Person-level attributes computed from events, and the customers table's own columns.
DERIVED_ATTRIBUTES = ("device", "channel")
CUSTOMER_COLUMNS = ("plan", "country", "churned", "opted_out")


@dataclass
class Catalog:
    events: list[str] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)
    event_stage: dict[str, str] = field(default_factory=dict)
    channels: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    customer_attributes: list[str] = field(default_factory=list)  # keys in customers.attributes
    event_properties: list[str] = field(default_factory=list)  # keys in events.properties

    @property
    def attributes(self) -> list[str]:
        return list(DERIVED_ATTRIBUTES) + list(CUSTOMER_COLUMNS) + self.customer_attributes

    def check_event(self, name: str) -> str:
        if name in self.events:
            return name
        raise UnknownNameError("event", name, closest(name, self.events) or self.events[:8])

    def check_stage(self, name: str) -> str:
        if name in self.stages:
            return name
        raise UnknownNameError("stage", name, closest(name, self.stages) or self.stages)

    def check_attribute(self, name: str) -> str:
        """A person attribute: derived, a customer column or attribute, or an event property
        (the person's value is that of their first event that has it)."""
        if name in self.attributes or self._is_event_property(name):
            return name
        known = self.attributes + self.event_properties
        raise UnknownNameError("attribute", name, closest(name, known) or known[:12])

    def check_event_property(self, name: str) -> str:
        if self._is_event_property(name):
            return name
        raise UnknownNameError("event property", name, closest(name, self.event_properties)
                               or self.event_properties[:12])

    def _is_event_property(self, name: str) -> bool:
        # A dotted name reaches into a nested property (context.page.path under context).
        return name in self.event_properties or name.split(".")[0] in self.event_properties

    def check_value(self, attribute: str, value: str) -> str:
        """A channel or device the store has, compared without regard to case (the store keeps
        names as loaded: `ios` finds "iOS"); the value as typed is returned."""
        known = {"channel": self.channels, "device": self.devices}.get(attribute)
        if known is not None and value.casefold() not in {k.casefold() for k in known}:
            raise UnknownNameError(attribute, value, closest(value, known) or known[:8])
        return value


def closest(name: str, options: list[str], n: int = 5) -> list[str]:
    # Compared without case; every spelling the store has of a hit is offered ("iOS", "ios").
    lowered: dict[str, list[str]] = {}
    for option in options:
        lowered.setdefault(option.lower(), []).append(option)
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)
    substring = [o for o in options if name.lower() in o.lower() and o.lower() not in hits]
    return ([o for h in hits for o in lowered[h]] + substring)[:n]


def load_catalog(con: Connection) -> Catalog:
    stage_rows = con.execute("SELECT stage FROM stages ORDER BY position, stage").fetchall()
    event_rows = con.execute("""
        SELECT e.event_name AS event_name, COALESCE(m.stage, 'unmapped') AS stage
        FROM (SELECT DISTINCT event_name FROM events) AS e
        LEFT JOIN stage_map AS m ON m.event_name = e.event_name
        ORDER BY e.event_name
    """).fetchall()
    channels = con.execute("SELECT DISTINCT channel FROM events WHERE channel IS NOT NULL "
                           "ORDER BY channel").fetchall()
    devices = con.execute("SELECT DISTINCT device FROM events WHERE device IS NOT NULL "
                          "ORDER BY device").fetchall()
    keys = con.execute("""
        SELECT DISTINCT unnest(json_keys(attributes)) AS key
        FROM (SELECT attributes FROM customers WHERE attributes IS NOT NULL LIMIT 10000)
        ORDER BY key
    """).fetchall()
    # Keys of the events' properties: the vocabulary a step or breakdown may use. A big store is
    # read through a repeatable sample spread over all its events (old and new alike); every
    # event name's own keys come in too, so a rare event's property is still known.
    properties = con.execute("""
        WITH picked AS (
            SELECT properties FROM events USING SAMPLE reservoir(200000 ROWS) REPEATABLE (7)
            UNION ALL
            SELECT any_value(properties) FROM events WHERE json_type(properties) = 'OBJECT'
            GROUP BY event_name)
        SELECT DISTINCT unnest(json_keys(properties)) AS key FROM picked
        WHERE json_type(properties) = 'OBJECT' ORDER BY key
    """).fetchall()
    return Catalog(
        event_properties=[r[0] for r in properties],
        events=[r[0] for r in event_rows],
        stages=[r[0] for r in stage_rows],
        event_stage={r[0]: r[1] for r in event_rows},
        channels=[r[0] for r in channels],
        devices=[r[0] for r in devices],
        customer_attributes=[r[0] for r in keys if r[0] not in CUSTOMER_COLUMNS],
    )
