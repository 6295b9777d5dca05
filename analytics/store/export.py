"""Exporting the store's tables, optionally anonymised for sharing.

Anonymised: customer and anonymous ids become keyed hashes (the key lives in the data folder, so
the same customer gets the same hash in every export, and nobody without the key can recompute
them from a list of ids); customer attributes, which may hold e-mails or names, are dropped;
feedback text is redacted. Opted-out customers never appear in an exported customer list.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from analytics.errors import JourneyError
from analytics.store.connection import EventStore

Table = Literal["events", "customers", "feedback"]


def export_key(store: EventStore) -> str:
    from analytics.config import settings

    env = settings().export_key
    if env:
        return env
    path = store.home / "export.key"
    if not path.exists():
        store.home.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


EXPORTABLE = ("events", "customers", "feedback", "deals")


def export_table(store: EventStore, table: str, target: str | Path, *, anonymize: bool = False
                 ) -> int:
    if table not in EXPORTABLE:
        raise JourneyError(f"Cannot export '{table}'; use {', '.join(EXPORTABLE)}")
    target = Path(target)
    fmt = {".csv": "csv", ".parquet": "parquet"}.get(target.suffix.lower())
    if fmt is None:
        raise JourneyError(f"{target}: export to a .csv or .parquet file")
    key = export_key(store) if anonymize else ""

    def ident(column: str) -> str:
        if not anonymize:
            return column
        return (f"CASE WHEN {column} IS NULL THEN NULL ELSE "
                f"substr(sha256(? || ':' || {column}), 1, 32) END AS {column}")

    params: list = []
    if table == "events":
        columns = ["event_id", "customer_id", "anonymous_id", "ts", "event_name", "channel",
                   "device", "properties"]
        select = [ident(c) if c in ("customer_id", "anonymous_id") else c for c in columns]
        if anonymize:
            params = [key, key]
            select[-1] = "NULL::JSON AS properties"  # free-form: may hold personal data
        sql = f"SELECT {', '.join(select)} FROM events ORDER BY ts, event_id"
    elif table == "customers":
        columns = ["customer_id", "signup_at", "plan", "country", "revenue", "churned"]
        select = [ident(c) if c == "customer_id" else c for c in columns]
        if not anonymize:
            select.append("attributes")
        params = [key] if anonymize else []
        sql = (f"SELECT {', '.join(select)} FROM customers WHERE NOT opted_out "
               "ORDER BY customer_id")
    elif table == "deals":
        # A deal's name and free-form columns can name the company or the person: anonymized,
        # only the stage, amount and dates are left. Opted-out customers' deals are never out.
        columns = ["deal_id", "customer_id", "name", "stage", "amount", "created_at", "close_at",
                   "pipeline", "properties"]
        select = [ident(c) if c == "customer_id" else
                  f"NULL AS {c}" if anonymize and c in ("name", "properties") else c
                  for c in columns]
        params = [key] if anonymize else []
        sql = (f"SELECT {', '.join(select)} FROM deals WHERE customer_id IS NULL OR customer_id "
               "NOT IN (SELECT customer_id FROM customers WHERE opted_out) "
               "ORDER BY created_at, deal_id")
    else:
        columns = ["feedback_id", "customer_id", "anonymous_id", "ts", "source", "rating",
                   "text"]
        select = [ident(c) if c in ("customer_id", "anonymous_id") else c for c in columns]
        if not anonymize:
            select.append("properties")  # the file's other columns (a ticket's priority)
        params = [key, key] if anonymize else []
        sql = f"SELECT {', '.join(select)} FROM feedback ORDER BY ts, feedback_id"
    with store.reader(local=True) as con:
        frame = con.execute(sql, params).df()
    if anonymize and table == "feedback":
        from analytics.feedback.redact import redact

        frame["text"] = frame["text"].map(redact)
    partial = target.with_name(target.name + ".partial")
    if fmt == "csv":
        frame.to_csv(partial, index=False)
    else:
        frame.to_parquet(partial, index=False)
    partial.replace(target)  # a failed export never leaves half a file behind
    return len(frame)
