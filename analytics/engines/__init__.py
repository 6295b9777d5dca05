"""Running the analytics where the events already live: Spark and ClickHouse, besides DuckDB.

The analytics keep one SQL source each, written in DuckDB's dialect within a portable subset
(sql_lint checks it). `sql_compile` binds a query's parameters as literals and compiles it with
a pinned SQLGlot for the target, applying the small override registry (sql_overrides) where
SQLGlot's translation is not faithful. An engine connection (engine_connection) has the same
`execute(sql, params).fetchall()` surface as a DuckDB connection, so every read-only analytic
runs unchanged on Spark (spark_engine) or ClickHouse through chDB (clickhouse_engine), over the
store's tables shipped as Parquet (engine_tables) or over an events table that already lives
there.
"""

ENGINES = ("duckdb", "spark", "clickhouse")
