"""Erasing a customer on request: every trace in the store and in whatever is derived from it,
and a record of the erasure that holds no personal data (a keyed hash of the id and the time).

The store knows nothing of what is derived from it (the feedback index): those layers register
an eraser (analytics/erasers.py), and every erasure calls each of them after the store's own
deletion commits.
`analytics/__init__.py` registers the feedback index's eraser, so it is in place whenever the
store is importable at all.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from analytics.erasers import registered_erasers
from analytics.errors import JourneyError
from analytics.store.connection import EventStore, one

ERASURES_DDL = """
CREATE TABLE IF NOT EXISTS erasures (
    id_hash VARCHAR NOT NULL,
    erased_at TIMESTAMPTZ NOT NULL,
    events BIGINT, feedback BIGINT, customers BIGINT, identities BIGINT
)"""


@dataclass
class ErasureReport:
    customer_id_hash: str
    events: int
    feedback: int
    customers: int
    identities: int
    feedback_ids: list[str]

    @property
    def summary(self) -> str:
        return (f"Erased {self.events:,} events, {self.feedback:,} feedback items, "
                f"{self.customers:,} profile and {self.identities:,} identity links; the audit "
                "log keeps only a keyed hash.")

    def to_dict(self) -> dict:
        return asdict(self)


def id_hash(customer_id: str) -> str:
    # Keyed so the audit record cannot be reversed by hashing a list of known ids.
    from analytics.config import settings

    key = settings().audit_key
    return hashlib.sha256(f"{key}:{customer_id}".encode()).hexdigest()


def forget_customer(store: EventStore, customer_id: str) -> ErasureReport:
    """Delete the customer, their anonymous ids' events and their feedback, in one transaction."""
    customer_id = (customer_id or "").strip()
    if not customer_id:
        raise JourneyError("Give the customer id to erase")
    if not store.exists():
        raise JourneyError(f"No data in {store.home}")
    with store.writer() as con:
        con.execute(ERASURES_DDL)
        anon = [r[0] for r in con.execute(
            "SELECT anonymous_id FROM identity_map WHERE customer_id = ? UNION "
            "SELECT DISTINCT anonymous_id FROM events WHERE customer_id = ? "
            "AND anonymous_id IS NOT NULL", [customer_id, customer_id]).fetchall()]
        known = one(
            con, "SELECT (SELECT count(*) FROM customers WHERE customer_id = ?) + "
                 "(SELECT count(*) FROM events WHERE customer_id = ?) + "
                 "(SELECT count(*) FROM feedback WHERE customer_id = ?)",
            [customer_id, customer_id, customer_id])[0]
        if not known and not anon:
            raise JourneyError(f"No customer '{customer_id}' in the store (nothing erased)")
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
            customers = one(con, "DELETE FROM customers WHERE customer_id = ?",
                            [customer_id])[0]
            identities = one(con, "DELETE FROM identity_map WHERE customer_id = ?",
                             [customer_id])[0]
            from analytics.store.steps import forget_people

            forget_people(con, [customer_id] + [f"anon:{a}" for a in anon])
            digest = id_hash(customer_id)
            con.execute("INSERT INTO erasures VALUES (?, ?, ?, ?, ?, ?)",
                        [digest, datetime.now(UTC), events, feedback, customers,
                         identities])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    report = ErasureReport(digest, events, feedback, customers, identities, feedback_ids)
    for eraser in registered_erasers():
        eraser(store, report)
    return report
