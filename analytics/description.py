"""What data is loaded, and the defaults every analytic takes from it.

One result for anyone who must not guess names (the `status` command, the agent's first look,
the MCP catalog): counts and date range, events with their stages, channels, devices, customer
attributes, and the journey defaults (the conversion event, a churn event if any, one key step
per stage) that the analytics use when a question names none.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from analytics.results import AnalyticResult
from analytics.store.connection import EventStore
from analytics.store.status import StoreStatus, store_status

CHURN_WORDS = ("cancel", "churn")


@dataclass(kw_only=True)
class DataDescription(AnalyticResult, StoreStatus):
    customer_attributes: list[str] = field(default_factory=list)
    conversion_event: str | None = None
    churn_event: str | None = None
    key_steps: list[str] = field(default_factory=list)

    kind = "data"

    def figure(self):
        import plotly.graph_objects as go

        rows = self.event_names
        fig = go.Figure(go.Bar(x=[r.people for r in rows], y=[r.event_name for r in rows],
                               orientation="h", text=[r.stage for r in rows]))
        fig.update_layout(title="People per event (stage as label)",
                          yaxis={"autorange": "reversed"}, xaxis_title="people")
        return fig


def churn_event(events: list[str]) -> str | None:
    """The event that means a customer left, when the data has one (named like it)."""
    return next((e for e in events if any(w in e.lower() for w in CHURN_WORDS)), None)


def describe_data(store: EventStore) -> DataDescription:
    status = store_status(store)
    base = {f.name: getattr(status, f.name) for f in fields(StoreStatus)}
    if not status.exists or not status.events:
        return DataDescription(**base, summary=f"No data yet in {status.home}.")
    from analytics.anomalies import key_steps
    from analytics.catalog import load_catalog
    from analytics.paths import default_conversion_event

    with store.reader() as con:
        catalog = load_catalog(con)
        conversion = default_conversion_event(con)
        steps = key_steps(con)
    events = [e.event_name for e in status.event_names]
    span = f"from {status.first_event:%Y-%m-%d} to {status.last_event:%Y-%m-%d}"
    summary = (f"{status.events:,} events from {status.people:,} people, {status.customers:,} "
               f"customers, {status.feedback:,} feedback items, {span}. Stages in order: "
               f"{', '.join(status.stages)}. Conversion event: {conversion or 'none found'}; "
               f"key steps: {' > '.join(steps)}.")
    return DataDescription(
        **base, summary=summary, customer_attributes=catalog.attributes,
        conversion_event=conversion, churn_event=churn_event(events), key_steps=steps,
        definitions={"people": "customer ids, plus anonymous ids not linked to one",
                     "conversion_event": "the purchase-stage event that most often closes a "
                                         "person's purchase-stage activity",
                     "key_steps": "per stage in order, the event most people do"})
