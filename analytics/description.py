"""What data is loaded, and the defaults every analytic takes from it.

One result for anyone who must not guess names (the `status` command, the agent's first look,
the MCP catalog): counts and date range, events with their stages, channels, devices, customer
attributes, and the journey defaults (the conversion event, a churn event if any, one key step
per stage) that the analytics use when a question names none.

It is kept in the data folder (`description.json`) with the store's change stamp (two stat
calls), so `journey status` and each command's name checks read it without opening the store
again until something is written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

from analytics.results import AnalyticResult
from analytics.store.status import EventNameCount, StoreStatus

if TYPE_CHECKING:
    from analytics.catalog import Catalog
    from analytics.store.connection import EventStore

CACHE_NAME = "description.json"
CACHE_VERSION = 5  # 2: event_properties; 3: deals; 4: the journey model; 5: attribute values


@dataclass(kw_only=True)
class DataDescription(AnalyticResult, StoreStatus):
    customer_attributes: list[str] = field(default_factory=list)
    event_properties: list[str] = field(default_factory=list)
    conversion_event: str | None = None
    churn_event: str | None = None
    key_steps: list[str] = field(default_factory=list)
    model_origin: dict[str, str] = field(default_factory=dict)
    # The values of each attribute with few of them (plan: starter, team...), so that a
    # question's "enterprise customers" or "EMEA" can be read as a filter.
    attribute_values: dict[str, list[str]] = field(default_factory=dict)

    kind = "data"

    def figure(self):
        import plotly.graph_objects as go

        rows = self.event_names
        fig = go.Figure(go.Bar(x=[r.people for r in rows], y=[r.event_name for r in rows],
                               orientation="h", text=[r.stage for r in rows]))
        fig.update_layout(title="People per event (stage as label)",
                          yaxis={"autorange": "reversed"}, xaxis_title="people")
        return fig

    def catalog(self) -> Catalog:
        """The names the analytics check against, as the store would list them."""
        from analytics.catalog import CUSTOMER_COLUMNS, DERIVED_ATTRIBUTES, Catalog

        builtin = set(DERIVED_ATTRIBUTES) | set(CUSTOMER_COLUMNS)
        return Catalog(events=sorted(e.event_name for e in self.event_names),
                       stages=list(self.stages),
                       event_stage={e.event_name: e.stage for e in self.event_names},
                       channels=sorted(self.channels), devices=sorted(self.devices),
                       customer_attributes=[a for a in self.customer_attributes
                                            if a not in builtin],
                       event_properties=list(self.event_properties))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataDescription:
        data = {k: v for k, v in data.items() if k != "kind"}
        data["event_names"] = [EventNameCount(**e) for e in data["event_names"]]
        for key in ("first_event", "last_event"):
            if data[key] is not None:
                data[key] = datetime.fromisoformat(data[key])
        return cls(**data)


def describe_data(store: EventStore) -> DataDescription:
    """The description, from the data folder while the store is unchanged, else computed."""
    stamp = store.change_stamp()
    cached = _read_cache(store, stamp)
    if cached is not None:
        return cached
    result = _describe(store)
    if result.exists:
        _write_cache(store, stamp, result)
    return result


def _cache_path(store: EventStore):
    return store.home / CACHE_NAME


def _read_cache(store: EventStore, stamp: tuple) -> DataDescription | None:
    try:
        saved = json.loads(_cache_path(store).read_text(encoding="utf-8"))
        if saved.get("version") != CACHE_VERSION or saved.get("stamp") != json.loads(
                json.dumps(stamp)):
            return None
        return DataDescription.from_dict(saved["description"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing, stale or damaged: computed again


def _write_cache(store: EventStore, stamp: tuple, result: DataDescription) -> None:
    # The stamp was read before the store was: a write in between makes the next read stale.
    path = _cache_path(store)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        partial.write_text(json.dumps({"version": CACHE_VERSION, "stamp": stamp,
                                       "description": result.to_dict()}), encoding="utf-8")
        partial.replace(path)
    except OSError:
        partial.unlink(missing_ok=True)  # a read-only folder: just not cached


def _describe(store: EventStore) -> DataDescription:
    from analytics.store.status import store_status

    status = store_status(store)
    base = {f.name: getattr(status, f.name) for f in fields(StoreStatus)}
    if not status.exists or not status.events:
        return DataDescription(**base, summary=f"No data yet in {status.home}.")
    from analytics.catalog import load_catalog
    from analytics.journey_model import journey_model

    with store.reader(local=True) as con:
        catalog = load_catalog(con)
        model = journey_model(con)
        values = attribute_values(con, catalog)
    span = f"from {status.first_event:%Y-%m-%d} to {status.last_event:%Y-%m-%d}"
    summary = (f"{status.events:,} events from {status.people:,} people, {status.customers:,} "
               f"customers, {status.feedback:,} feedback items, {span}. Stages in order: "
               f"{', '.join(status.stages)}. Conversion event: "
               f"{model.conversion_event or 'none found'}; main journey: "
               f"{' > '.join(model.funnel)}.")
    return DataDescription(
        **base, summary=summary, customer_attributes=catalog.attributes,
        event_properties=catalog.event_properties,
        conversion_event=model.conversion_event, churn_event=model.churn_event,
        key_steps=list(model.funnel), model_origin=dict(model.origin), attribute_values=values,
        definitions={"people": "customer ids, plus anonymous ids not linked to one",
                     "conversion_event": model.definitions["conversion_event"],
                     "key_steps": "the main journey: " + model.definitions["funnel"],
                     "attribute_values": "attributes with at most "
                                         f"{MAX_LISTED_VALUES} values: their values (customer "
                                         "columns and attributes; event properties from a "
                                         "sample)",
                     "model_origin": "for each part of the journey model, whether it was "
                                     "inferred from the data or set by you"})


MAX_LISTED_VALUES = 40


def attribute_values(con, catalog: Catalog) -> dict[str, list[str]]:
    """Attribute -> its values, for the attributes with few values (identifiers, e-mails and
    free text have many and are left out)."""
    from analytics.catalog import CUSTOMER_COLUMNS
    from analytics.store.cells import quote_literal
    from analytics.store.nesting import json_path

    limit = MAX_LISTED_VALUES + 1
    found: dict[str, list[str]] = {}

    def keep(name: str, sql: str) -> None:
        rows = con.execute(sql).fetchall()
        if 0 < len(rows) < limit:
            found.setdefault(name, sorted(str(r[0]) for r in rows))

    for column in ("plan", "country"):
        if column in CUSTOMER_COLUMNS:
            keep(column, f"SELECT DISTINCT CAST({column} AS VARCHAR) FROM customers "
                         f"WHERE {column} IS NOT NULL LIMIT {limit}")
    for key in catalog.customer_attributes:
        path = quote_literal(json_path([key]))
        keep(key, f"SELECT DISTINCT json_extract_string(attributes, {path}) FROM customers "
                  f"WHERE json_extract_string(attributes, {path}) IS NOT NULL LIMIT {limit}")
    if catalog.event_properties:
        sample = ("(SELECT properties FROM events USING SAMPLE reservoir(100000 ROWS) "
                  "REPEATABLE (7))")
        for key in catalog.event_properties[:60]:
            path = quote_literal(json_path([key]))
            keep(key, f"SELECT DISTINCT json_extract_string(properties, {path}) FROM {sample} "
                      f"WHERE json_extract_string(properties, {path}) IS NOT NULL LIMIT {limit}")
    return found
