"""Pure analytics over the DuckDB event store: no LLM, no UI.

`analytics.store` owns the store itself (schema, ingest, identity and stage maps); the
analytics modules read it through `analytics.store.EventStore`.
"""
