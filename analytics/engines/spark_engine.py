"""Spark: a SparkSession (local by default, a cluster master or a Spark Connect URL when given)
with the store's tables as temporary views.

Results come back through Arrow (`toArrow`), whose timestamps carry the session's time zone
(UTC), not the Python process's local one as `collect()` would convert them.
"""

from __future__ import annotations

import threading
import uuid
import warnings
from pathlib import Path
from typing import Any

from analytics.engines.engine_connection import EngineError, arrow_rows, first_line
from analytics.engines.engine_tables import ENGINE_VIEWS, EventsSource, derived_views
from analytics.engines.sql_compile import compile_script, compile_sql
from analytics.store.schema import VIEWS_DDL

DEFAULT_MASTER = "local[*]"


def spark_settings(master: str) -> dict[str, str]:
    """The session's settings: UTC (the store's times are UTC), no web UI, and few shuffle
    partitions on one machine (Spark's default of 200 makes each small query slow), and no
    stage progress bars over the command's own output."""
    settings = {"spark.sql.session.timeZone": "UTC", "spark.ui.enabled": "false",
                "spark.ui.showConsoleProgress": "false", "spark.sql.ansi.enabled": "false"}
    if master.startswith("local"):
        settings["spark.sql.shuffle.partitions"] = "4"
        settings["spark.driver.bindAddress"] = "127.0.0.1"
        settings["spark.driver.host"] = "127.0.0.1"
    return settings


class SparkEngine:
    name = "spark"
    dialect = "spark"

    def __init__(self, master: str | None = None, remote: str | None = None,
                 settings: dict[str, str] | None = None) -> None:
        self.master = master or DEFAULT_MASTER
        self.remote = remote
        self.settings = {**spark_settings(self.master), **(settings or {})}
        self._spark: Any = None

    @property
    def spark(self) -> Any:
        if self._spark is None:
            try:
                from pyspark.sql import SparkSession
            except ImportError:
                raise EngineError("The Spark engine needs pyspark: pip install "
                                  "'journey-agent[engines]' (and Java 17 or later).") from None
            builder = SparkSession.builder.appName("journey-agent")
            if not self.remote:  # Spark's log lines would mix into our tables and JSON
                quiet = Path(__file__).with_name("spark_log4j2.properties").as_uri()
                builder = builder.config("spark.driver.extraJavaOptions",
                                         f"-Dlog4j2.configurationFile={quiet}")
            builder = builder.remote(self.remote) if self.remote else builder.master(self.master)
            for key, value in self.settings.items():
                if not (self.remote and key.startswith("spark.driver")):
                    builder = builder.config(key, value)
            try:
                with warnings.catch_warnings():  # pyspark's note on pandas versions
                    warnings.simplefilter("ignore", FutureWarning)
                    self._spark = builder.getOrCreate()
            except Exception as exc:  # Java missing, the cluster unreachable...
                raise EngineError(f"Spark did not start ({self.remote or self.master}): "
                                  f"{first_line(exc)}") from None
            if not self.remote:
                self._spark.sparkContext.setLogLevel("OFF")
        return self._spark

    def load(self, tables: dict[str, Path], events: EventsSource | None = None) -> None:
        """Temporary views: each exported table, the events from `events` when they live
        elsewhere, then the store's views compiled for Spark."""
        for name, path in tables.items():
            self.spark.read.parquet(str(path)).createOrReplaceTempView(name)
        if events is not None:
            relation = "journey_source_events"
            if events.is_path:
                source = self.spark.read.parquet(events.location)
                source.createOrReplaceTempView(relation)
            else:
                relation = events.location
                source = self.spark.table(relation)
            self.spark.sql("CREATE OR REPLACE TEMPORARY VIEW events AS " + compile_sql(
                events.select_sql(relation, list(source.columns)), [], self.dialect))
        for statement in compile_script(VIEWS_DDL, self.dialect):
            if any(f"VIEW {view} " in statement for view in ENGINE_VIEWS):
                self.spark.sql(statement.replace("CREATE OR REPLACE VIEW",
                                                 "CREATE OR REPLACE TEMPORARY VIEW", 1))
        if events is not None:
            for name, select in derived_views().items():
                self.spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS "
                               + compile_sql(select, [], self.dialect))

    def run(self, sql: str, seconds: float) -> tuple[list[str], list[tuple]]:
        spark = self.spark
        group = f"journey-{uuid.uuid4().hex}"
        timer = None
        if not self.remote:
            spark.sparkContext.setJobGroup(group, "journey question", interruptOnCancel=True)
            timer = threading.Timer(seconds, spark.sparkContext.cancelJobGroup, [group])
            timer.daemon = True
            timer.start()
        try:
            table = spark.sql(sql).toArrow()
        except Exception as exc:
            if timer is not None and not timer.is_alive():
                raise EngineError(f"The question took longer than {seconds:.0f} s on Spark and "
                                  "was stopped. Narrow it or raise JOURNEY_QUERY_TIMEOUT_S."
                                  ) from None
            raise EngineError(f"Spark refused a query: {first_line(exc)}") from exc
        finally:
            if timer is not None:
                timer.cancel()
        return table.column_names, arrow_rows(table)

    def close(self) -> None:
        if self._spark is not None:
            self._spark.stop()
            self._spark = None

