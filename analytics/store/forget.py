"""Erasing a customer on request: every trace in the store and in whatever is derived from it,
and a record of the erasure that holds no personal data (a keyed hash of the id and the time).

The store knows nothing of what is derived from it (the feedback index): those layers register
an eraser (analytics/erasers.py), and every erasure calls each of them after the store's own
deletion commits.
`analytics/__init__.py` registers the feedback index's eraser, so it is in place whenever the
store is importable at all.

A DELETE only marks rows free: DuckDB's file keeps their bytes in its freed blocks (CHECKPOINT
and VACUUM do not clear them). So after the deletion commits, the store is copied table by
table into a new file, which then replaces the old one (`rewrite_store`). The erasure records
that a rewrite is owed in `meta` inside its own transaction; a rewrite that fails (a full disk,
a crash) is finished by the next `forget` call, even one that finds nothing to erase.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from analytics.erasers import registered_erasers
from analytics.errors import JourneyError, StoreError
from analytics.store.connection import EventStore, one

ERASURES_DDL = """
CREATE TABLE IF NOT EXISTS erasures (
    id_hash VARCHAR NOT NULL,
    erased_at TIMESTAMPTZ NOT NULL,
    events BIGINT, feedback BIGINT, customers BIGINT, identities BIGINT
)"""
REWRITE_OWED = "erasure_rewrite_owed"  # a meta key: freed blocks may still hold erased rows
# Customer attributes whose values name the person (searched for in files kept as copies).
IDENTIFYING_KEYS = ("mail", "name", "phone")


@dataclass
class ErasureReport:
    customer_id_hash: str
    events: int
    feedback: int
    customers: int
    identities: int
    feedback_ids: list[str]
    # What identifies the person in copies outside the store (their id, anonymous ids, e-mail,
    # name): for the erasers only, never serialised.
    traces: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def summary(self) -> str:
        return (f"Erased {self.events:,} events, {self.feedback:,} feedback items, "
                f"{self.customers:,} profile and {self.identities:,} identity links; the audit "
                "log keeps only a keyed hash.")

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("traces", None)
        return data


def id_hash(customer_id: str) -> str:
    # Keyed so the audit record cannot be reversed by hashing a list of known ids.
    from analytics.config import settings

    key = settings().audit_key
    return hashlib.sha256(f"{key}:{customer_id}".encode()).hexdigest()


def forget_customer(store: EventStore, customer_id: str) -> ErasureReport:
    """Delete the customer, their anonymous ids' events and their feedback, in one transaction;
    then rewrite the store's file and tell every eraser."""
    customer_id = (customer_id or "").strip()
    if not customer_id:
        raise JourneyError("Give the customer id to erase")
    if not store.exists():
        raise JourneyError(f"No data in {store.home}")
    report: ErasureReport | None = None
    deferred: Path | None = None
    rewrite_failed: Exception | None = None
    with store.writer() as con:
        con.execute(ERASURES_DDL)
        owed = bool(one(con, "SELECT count(*) FROM meta WHERE key = ?", [REWRITE_OWED])[0])
        report = _delete_rows(con, customer_id)
        if report is not None or owed:  # owed: an earlier erasure's rewrite failed
            try:
                deferred = rewrite_store(con, store.path)
            except Exception as exc:  # the rows are gone; the derived copies must still go
                rewrite_failed = exc
    if deferred is not None:
        os.replace(deferred, store.path)
    if report is None:
        finished = "; the store's file was rewritten to finish an earlier erasure" if owed \
            and rewrite_failed is None else ""
        raise JourneyError(f"No customer '{customer_id}' in the store (nothing erased{finished})")
    failed: Exception | None = None
    for eraser in registered_erasers():  # every one runs, even after another failed
        try:
            eraser(store, report)
        except Exception as exc:
            failed = failed or exc
    if failed is not None:
        raise failed
    if rewrite_failed is not None:
        raise StoreError(
            f"The customer's rows were erased, but the store's file could not be rewritten "
            f"({rewrite_failed}), so its free space may still hold them. Free some disk space "
            f"and run `journey forget {customer_id}` again to finish.") from rewrite_failed
    return report


def _delete_rows(con: duckdb.DuckDBPyConnection, customer_id: str) -> ErasureReport | None:
    """The deletion, committed with its audit record and the mark that a rewrite is owed;
    None when the store knows nothing of the customer."""
    anon = [r[0] for r in con.execute(
        "SELECT anonymous_id FROM identity_map WHERE customer_id = ? UNION "
        "SELECT DISTINCT anonymous_id FROM events WHERE customer_id = ? "
        "AND anonymous_id IS NOT NULL", [customer_id, customer_id]).fetchall()]
    known = one(
        con, "SELECT (SELECT count(*) FROM customers WHERE customer_id = ?) + "
             "(SELECT count(*) FROM events WHERE customer_id = ?) + "
             "(SELECT count(*) FROM feedback WHERE customer_id = ?) + "
             "(SELECT count(*) FROM person_traits WHERE customer_id = ?) + "
             "(SELECT count(*) FROM deals WHERE customer_id = ?)",
        [customer_id] * 5)[0]
    if not known and not anon:
        return None
    traces = identifying_values(con, customer_id, anon)
    con.execute("BEGIN TRANSACTION")
    try:
        feedback_ids = [r[0] for r in con.execute(
            "SELECT feedback_id FROM feedback WHERE customer_id = ? OR anonymous_id IN "
            "(SELECT unnest(?::VARCHAR[]))", [customer_id, anon]).fetchall()]
        # A DELETE returns one row: the number of rows it deleted.
        events = one(
            con, "DELETE FROM events WHERE customer_id = ? OR anonymous_id IN "
                 "(SELECT unnest(?::VARCHAR[]))", [customer_id, anon])[0]
        feedback = one(
            con, "DELETE FROM feedback WHERE customer_id = ? OR anonymous_id IN "
                 "(SELECT unnest(?::VARCHAR[]))", [customer_id, anon])[0]
        customers = one(con, "DELETE FROM customers WHERE customer_id = ?", [customer_id])[0]
        identities = one(con, "DELETE FROM identity_map WHERE customer_id = ?",
                         [customer_id])[0]
        # What identify calls said (under the customer or one of their anonymous ids), and
        # their CRM deals, also those still waiting under their e-mail.
        emails = [v.lower() for v in traces if "@" in v]
        con.execute("DELETE FROM person_traits WHERE customer_id = ? OR customer_id IN "
                    "(SELECT unnest(?::VARCHAR[]))", [customer_id, anon])
        con.execute("DELETE FROM deals WHERE customer_id = ? OR (customer_id IS NULL AND "
                    "json_extract_string(properties, '$.contact_email') IN "
                    "(SELECT unnest(?::VARCHAR[])))", [customer_id, emails])
        from analytics.store.steps import forget_people

        forget_people(con, [customer_id] + [f"anon:{a}" for a in anon])
        digest = id_hash(customer_id)
        con.execute("INSERT INTO erasures VALUES (?, ?, ?, ?, ?, ?)",
                    [digest, datetime.now(UTC), events, feedback, customers, identities])
        con.execute("DELETE FROM meta WHERE key = ?", [REWRITE_OWED])
        con.execute("INSERT INTO meta VALUES (?, 'yes')", [REWRITE_OWED])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return ErasureReport(digest, events, feedback, customers, identities, feedback_ids,
                         traces=tuple(traces))


def identifying_values(con: duckdb.DuckDBPyConnection, customer_id: str,
                       anonymous_ids: list[str]) -> list[str]:
    """The id, the anonymous ids, and the profile's e-mail, name and phone values."""
    values = [customer_id, *anonymous_ids]
    rows = con.execute("SELECT attributes FROM customers WHERE customer_id = ? AND "
                       "attributes IS NOT NULL UNION ALL SELECT traits FROM person_traits "
                       "WHERE customer_id = ? OR customer_id IN (SELECT unnest(?::VARCHAR[]))",
                       [customer_id, customer_id, anonymous_ids]).fetchall()
    import json

    for (attributes,) in rows:
        try:
            found = json.loads(attributes)
        except (TypeError, ValueError):
            continue
        if isinstance(found, dict):
            values += [str(v).strip() for k, v in found.items()
                       if (any(word in k.lower() for word in IDENTIFYING_KEYS) or k == "crm_id")
                       and isinstance(v, str) and v.strip()]
    return list(dict.fromkeys(v for v in values if v))


def rewrite_store(con: duckdb.DuckDBPyConnection, path: Path) -> Path | None:
    """Copy the store into a new file and put it in the old one's place, so that no freed
    block survives. `con` is the open writer: holding DuckDB's lock until the new file is in
    place, so no other process can write to the old file in between (the others then open
    the new one). Returns the copy when it could not replace the open file (Windows): the
    caller moves it in place after closing the connection.

    Crash-safe: the store is replaced only by a complete, verified copy (os.replace is atomic),
    a failed copy is removed, and a copy left by a killed process is removed by the next
    rewrite; it never holds the erased rows, which were deleted before it was made.
    """
    fresh = path.with_name(path.name + ".rewrite")
    _remove_copy(fresh)
    con.execute("CHECKPOINT")  # the write-ahead log goes into the old file, then away
    database = one(con, "SELECT current_database()")[0]
    try:
        con.execute(f"ATTACH '{_sql_text(fresh)}' AS _fresh")
        try:
            con.execute(f'COPY FROM DATABASE "{database}" TO _fresh')
            con.execute("DELETE FROM _fresh.meta WHERE key = ?", [REWRITE_OWED])
            _check_copy(con, database)
        finally:
            con.execute("DETACH _fresh")
        if Path(str(fresh) + ".wal").exists():
            raise StoreError(f"the copy {fresh} kept a write-ahead log")
        _fsync(fresh)
        try:
            os.replace(fresh, path)
        except PermissionError:  # Windows: an open file cannot be replaced
            return fresh
        _fsync(path.parent)
    except BaseException:
        _remove_copy(fresh)
        raise
    return None


def _check_copy(con: duckdb.DuckDBPyConnection, database: str) -> None:
    """Every table, view and row of the store is in the copy (the owed-rewrite mark aside)."""
    def names(catalog: str, db: str) -> list[tuple]:
        return con.execute(f"SELECT schema_name, {catalog[:-1]}_name FROM duckdb_{catalog}() "
                           "WHERE database_name = ? AND NOT temporary AND NOT internal "
                           "ORDER BY ALL", [db]).fetchall()

    for catalog in ("tables", "views"):
        if names(catalog, "_fresh") != names(catalog, database):
            raise StoreError(f"the copy of the store does not hold the same {catalog}")
    for schema, table in names("tables", database):
        name = f'"{schema}"."{table}"'
        mark = f" WHERE key <> '{REWRITE_OWED}'" if (schema, table) == ("main", "meta") else ""
        same = one(con, f'SELECT (SELECT count(*) FROM "{database}".{name}{mark}) = '
                        f"(SELECT count(*) FROM _fresh.{name})")[0]
        if not same:
            raise StoreError(f"the copy of the store lost rows of {table}")


def _sql_text(path: Path) -> str:
    return str(path).replace("'", "''")


def _remove_copy(fresh: Path) -> None:
    for leftover in (fresh, Path(str(fresh) + ".wal")):
        leftover.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # a folder cannot be opened on Windows: nothing to sync there
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
