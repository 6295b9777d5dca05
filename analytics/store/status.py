"""What the store holds, for `journey status` and for anyone who must not guess names."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from analytics.store.connection import EventStore, one


@dataclass
class EventNameCount:
    event_name: str
    stage: str
    events: int
    people: int


@dataclass(kw_only=True)
class StoreStatus:
    home: str
    exists: bool
    events: int = 0
    people: int = 0
    anonymous_people: int = 0
    customers: int = 0
    opted_out_customers: int = 0
    feedback: int = 0
    identities: int = 0
    loads: int = 0
    first_event: datetime | None = None
    last_event: datetime | None = None
    stages: list[str] = field(default_factory=list)
    event_names: list[EventNameCount] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    feedback_by_source: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = asdict(self)
        for key in ("first_event", "last_event"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data


def store_status(store: EventStore) -> StoreStatus:
    status = StoreStatus(home=str(store.home), exists=store.exists())
    if not status.exists:
        return status
    with store.reader() as con:
        (status.events, status.people, status.anonymous_people, status.first_event,
         status.last_event) = one(con, """
            SELECT count(*) AS events, count(DISTINCT person_id) AS people,
                   count(DISTINCT person_id) FILTER (WHERE customer_id IS NULL) AS anonymous,
                   min(ts) AS first_event, max(ts) AS last_event
            FROM journey_events
        """)
        status.customers, status.opted_out_customers = one(
            con, "SELECT count(*) AS customers, count(*) FILTER (WHERE opted_out) AS opted_out "
                 "FROM customers")
        status.feedback = one(con, "SELECT count(*) AS n FROM feedback")[0]
        status.identities = one(con, "SELECT count(*) AS n FROM identity_map")[0]
        status.loads = one(con, "SELECT count(*) AS n FROM loads")[0]
        status.stages = [r[0] for r in con.execute(
            "SELECT stage FROM stages ORDER BY position, stage").fetchall()]
        status.event_names = [EventNameCount(*r) for r in con.execute("""
            SELECT event_name, min(stage) AS stage, count(*) AS events,
                   count(DISTINCT person_id) AS people
            FROM journey_events
            GROUP BY event_name
            ORDER BY min(stage_position), events DESC, event_name
        """).fetchall()]
        status.channels = [r[0] for r in con.execute(
            "SELECT channel FROM events WHERE channel IS NOT NULL "
            "GROUP BY channel ORDER BY count(*) DESC, channel").fetchall()]
        status.devices = [r[0] for r in con.execute(
            "SELECT device FROM events WHERE device IS NOT NULL "
            "GROUP BY device ORDER BY count(*) DESC, device").fetchall()]
        status.feedback_by_source = dict(con.execute(
            "SELECT source, count(*) AS n FROM feedback GROUP BY source ORDER BY n DESC, source"
        ).fetchall())
    return status
