"""Which engine a store's questions run on, and opening it once per process.

The choice, first found wins: `journey --engine NAME`, $JOURNEY_ENGINE, the data folder's
`engine.toml`, else DuckDB (the store itself). `engine.toml`:

    engine = "spark"                 # duckdb | spark | clickhouse
    master = "spark://host:7077"     # Spark: a cluster (default local[*]) ...
    remote = "sc://host:15002"       # ... or a Spark Connect server
    events = "s3a://lake/events/"    # optional: events already there (Parquet path or table)
    [columns]                        # optional: the source's column for each store column
    ts = "event_time"
    event_name = "event"

An engine is started once per process (Spark takes seconds to start) and reloads the store's
tables when the store changes.
"""

from __future__ import annotations

import threading
import tomllib
from dataclasses import dataclass, field
from typing import Any

from analytics.engines import ENGINES
from analytics.engines.engine_connection import EngineConnection, EngineError
from analytics.engines.engine_tables import EventsSource, export_tables
from analytics.errors import ArgumentError

CONFIG_FILE = "engine.toml"
CONFIG_KEYS = ("engine", "master", "remote", "events", "columns", "path")


@dataclass(frozen=True)
class EngineSpec:
    name: str = "duckdb"
    master: str | None = None
    remote: str | None = None
    events: EventsSource | None = None
    path: str | None = None  # ClickHouse: where chDB keeps its tables (default: a temp folder)
    columns: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise ArgumentError("engine", f"'{self.name}' is not an engine: use one of "
                                          f"{', '.join(ENGINES)}")

    @property
    def local(self) -> bool:
        return self.name == "duckdb"


def read_spec(home_config: Any, chosen: str | None = None,
              from_env: str | None = None) -> EngineSpec:
    """The spec from the config file at `home_config` (a Path), overridden by $JOURNEY_ENGINE
    (`from_env`) and the command line (`chosen`)."""
    config: dict[str, Any] = {}
    if home_config is not None and home_config.exists():
        try:
            config = tomllib.loads(home_config.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ArgumentError("engine", f"{home_config} is not valid TOML: {exc}") from None
        unknown = sorted(set(config) - set(CONFIG_KEYS))
        if unknown:
            raise ArgumentError("engine", f"{home_config}: unknown setting "
                                f"{', '.join(unknown)} (known: {', '.join(CONFIG_KEYS)})")
    name = chosen or from_env or config.get("engine") or "duckdb"
    columns = {str(k): str(v) for k, v in (config.get("columns") or {}).items()}
    events = EventsSource(str(config["events"]), columns) if config.get("events") else None
    if columns and events is None:
        raise ArgumentError("engine", f"{home_config}: [columns] maps an events table; name it "
                                      "with events = \"PATH or TABLE\"")
    return EngineSpec(name=name, master=config.get("master"), remote=config.get("remote"),
                      events=events, path=config.get("path"),
                      columns=tuple(sorted(columns.items())))


_open_lock = threading.Lock()
# One engine per spec in a process (chDB allows one embedded server per process, a SparkSession
# is process-wide), holding the tables of the last store it loaded: spec -> (engine, loaded).
_engines: dict[EngineSpec, tuple[Any, Any]] = {}


def engine_connection(spec: EngineSpec, store: Any, seconds: float) -> EngineConnection:
    """A connection to `spec`'s engine with `store`'s tables loaded (again when the store
    changed since they were, or another store's were)."""
    with _open_lock:
        engine, loaded = _engines.get(spec, (None, None))
        if engine is not None and getattr(engine, "path", None) not in (None, _chdb_path(spec,
                                                                                     store)):
            # chDB keeps another store's copies: close it (its folder is that store's).
            engine.close()
            del _engines[spec]
            engine = None
        if engine is None:
            engine = _start(spec, store)
            _engines[spec] = (engine, None)
        wanted = (str(store.path), store.change_stamp())
        if loaded != wanted:
            # Events that live on the engine are not exported (nor what is derived from them).
            skip = ("events", "journey_steps", "person_profiles") if spec.events else ()
            engine.load(export_tables(store, skip=skip), spec.events)
            _engines[spec] = (engine, wanted)
    return EngineConnection(engine, seconds)


def _start(spec: EngineSpec, store: Any) -> Any:
    if spec.name == "spark":
        from analytics.engines.spark_engine import SparkEngine

        return SparkEngine(master=spec.master, remote=spec.remote)
    if spec.name == "clickhouse":
        from analytics.engines.clickhouse_engine import ClickHouseEngine

        # chDB runs one embedded server per process: any other one is closed first.
        for other in [key for key in _engines if key.name == "clickhouse"]:
            _engines.pop(other)[0].close()
        return ClickHouseEngine(path=spec.path or str(store.temp_folder() / "chdb"))
    raise EngineError(f"No engine to start for {spec.name}")


def _chdb_path(spec: EngineSpec, store: Any) -> str | None:
    """Where chDB keeps its tables: copies of the store's rows, so inside the data folder's
    temporary folder, which an erasure clears (or the configured path)."""
    if spec.name != "clickhouse":
        return None
    return spec.path or str(store.temp_folder() / "chdb")


def close_engines() -> None:
    with _open_lock:
        while _engines:
            _, (engine, _) = _engines.popitem()
            engine.close()
