"""The store's tables an engine reads, shipped as Parquet, and where the events come from.

The analytics read `events` and the small tables beside it (identity links, stages, the
journey's steps, customers). On an engine they are either exported from the local store
(`journey --engine spark ...` on a store loaded here) or, for the events, read where they
already live: a Parquet folder or a table the engine knows, in the store's schema or mapped to
it column by column (EventsSource). The feedback text and its index never leave this machine.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from analytics.errors import ArgumentError
from analytics.store.connection import EventStore

# Tables the read-only analytics use, in the store's schema (the feedback without its text).
ENGINE_TABLES = ("events", "customers", "identity_map", "stage_map", "stages", "journey_steps",
                 "meta", "person_profiles", "person_traits", "deals", "feedback")
# The views over them, compiled for the engine from the store's own definitions.
ENGINE_VIEWS = ("person_events", "journey_events", "journey_feedback")
# Columns that never leave this machine: what customers wrote (the models count feedback,
# by rating and date; the text and its index stay local).
KEPT_LOCAL = {"feedback": ("text",)}
# The events table's columns; a mapping names the source column of each (or an expression).
EVENT_COLUMNS = ("event_id", "customer_id", "anonymous_id", "ts", "event_name", "channel",
                 "device", "properties")
REQUIRED_EVENT_COLUMNS = ("ts", "event_name")


@dataclass(frozen=True)
class EventsSource:
    """Events that already live on the engine: `location` is a Parquet path (a file or a
    folder; on a cluster, a path the cluster reads) or a table name the engine knows;
    `columns` maps each of the store's event columns to the source's column, when named
    otherwise. Missing optional columns are NULL; a missing event_id is made from the row."""

    location: str
    # Left out of the hash (a dict has none) but compared: a spec is a key of the open engines.
    columns: dict[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.columns) - set(EVENT_COLUMNS))
        if unknown:
            raise ArgumentError("engine.columns", f"{', '.join(unknown)} is not an events "
                                f"column; map any of {', '.join(EVENT_COLUMNS)}")

    @property
    def is_path(self) -> bool:
        return "/" in self.location or self.location.endswith(".parquet")

    def select_sql(self, relation: str, available: list[str]) -> str:
        """The events view's SELECT over `relation` (whose columns are `available`), in
        DuckDB's dialect (compiled later)."""
        present = {c.lower(): c for c in available}

        def source(name: str) -> str | None:
            mapped = self.columns.get(name)
            if mapped:
                if mapped.lower() not in present:
                    raise ArgumentError("engine.columns", f"{name} = '{mapped}': the events "
                                        f"source has no column '{mapped}' (it has "
                                        f"{', '.join(available)})")
                return _quoted(present[mapped.lower()])
            return _quoted(present[name]) if name in present else None

        parts = []
        for name in EVENT_COLUMNS:
            column = source(name)
            if column:
                cast = "TIMESTAMPTZ" if name == "ts" else "VARCHAR"
                parts.append(f"CAST({column} AS {cast}) AS {name}")
            elif name in REQUIRED_EVENT_COLUMNS:
                raise ArgumentError("engine.columns", f"the events source has no '{name}' "
                                    f"column: map it, e.g. {name} = \"YOUR_COLUMN\" under "
                                    "[columns] in engine.toml")
            elif name == "event_id":
                # Ties at the same instant are broken by event_id: a stable one from the row.
                keys = [c for c in (source(k) for k in ("ts", "event_name", "customer_id",
                                                         "anonymous_id")) if c]
                parts.append("md5(concat_ws('|', " + ", ".join(
                    f"CAST({c} AS VARCHAR)" for c in keys) + ")) AS event_id")
            else:
                parts.append(f"NULL::VARCHAR AS {name}")
        return f"SELECT {', '.join(parts)} FROM {relation}"


def derived_views() -> dict[str, str]:
    """The tables the store keeps up to date at ingest, as views over the engine's events
    (for events that live there): the same SELECTs, in DuckDB's dialect."""
    from analytics.store.steps import PROFILES_SELECT, STEPS_SELECT

    return {"journey_steps": STEPS_SELECT.format(where=""),
            "person_profiles": PROFILES_SELECT.format(where="")}


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def export_tables(store: EventStore, skip: tuple[str, ...] = ()) -> dict[str, Path]:
    """Parquet copies of the store's ENGINE_TABLES (JSON as text), kept while the store is
    unchanged: the folder is named by the store's change stamp, so a new load gives a new one
    and the last one is removed."""
    stamp = hashlib.sha256(json.dumps([store.change_stamp(), ENGINE_TABLES, skip, KEPT_LOCAL],
                                      default=str).encode()).hexdigest()
    root = store.temp_folder() / "engine_tables"
    folder = root / stamp[:16]
    done = folder / "complete"
    paths = {name: folder / f"{name}.parquet" for name in ENGINE_TABLES if name not in skip}
    if done.exists():
        return paths
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        if old != folder:
            _remove(old)
    folder.mkdir(exist_ok=True)
    with store.reader(local=True) as con:
        for name, path in paths.items():
            described = con.execute(f"DESCRIBE {name}").fetchall()
            local = KEPT_LOCAL.get(name, ())
            columns = ", ".join(
                f"NULL::VARCHAR AS {c[0]}" if c[0] in local
                else f"CAST({c[0]} AS VARCHAR) AS {c[0]}" if c[1] == "JSON" else c[0]
                for c in described if c[0] != "load_id")
            con.execute(f"COPY (SELECT {columns} FROM {name}) TO '{path}' (FORMAT parquet)")
    done.write_text(stamp)
    return paths


def _remove(path: Path) -> None:
    if path.is_dir():
        for child in path.iterdir():
            _remove(child)
        path.rmdir()
    else:
        path.unlink(missing_ok=True)
