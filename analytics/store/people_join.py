"""Joining CRM records, helpdesk tickets and survey answers to the product's people.

A HubSpot contact's id is HubSpot's record number, not the product's user id, so a CRM export
rarely joins the events by id. It joins by an external id column (the product's id kept in the
CRM) or by e-mail: the e-mails the product knows come from identify calls' traits, events'
properties and, for feedback, the customer records themselves. A record that joins is stored
under the product's id, with the CRM's own id kept as its `crm_id` attribute; reloading the same
export resolves the same way, so it adds nothing. An e-mail two people share joins neither.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from analytics.store.connection import one

# Where vendors put the person's own e-mail on an event (Segment context.traits, Amplitude
# user_properties, PostHog $set, Mixpanel $email). A bare `email` property is not read: an
# "Invite Sent {email: bob@...}" names someone else.
_EVENT_EMAIL_PATHS = ('$."$email"', "$.context.traits.email", "$.user_properties.email",
                      '$."$set".email')


# The people the product's own events know (deal steps, written from the CRM, are not evidence
# that a CRM record joins the product).
PRODUCT_CUSTOMERS = ("SELECT customer_id FROM events WHERE customer_id IS NOT NULL "
                     "AND NOT starts_with(event_id, 'deal:')")


def _event_emails() -> str:
    found = ", ".join(f"json_extract_string(properties, '{p}')" for p in _EVENT_EMAIL_PATHS)
    return (f"SELECT lower(trim(COALESCE({found}))) AS email, customer_id FROM events "
            "WHERE customer_id IS NOT NULL AND properties IS NOT NULL")


def known_emails_sql(with_customers: bool = False) -> str:
    """e-mail -> customer id, for e-mails that name exactly one person."""
    parts = ["SELECT lower(trim(email)) AS email, customer_id FROM person_traits "
             "WHERE email IS NOT NULL", _event_emails()]
    if with_customers:
        parts.append("SELECT lower(trim(json_extract_string(attributes, '$.email'))), "
                     "customer_id FROM customers WHERE attributes IS NOT NULL")
    return (f"SELECT email, min(customer_id) AS customer_id FROM ({' UNION ALL '.join(parts)}) "
            "WHERE email IS NOT NULL AND email <> '' GROUP BY email "
            "HAVING count(DISTINCT customer_id) = 1")


def resolve_loaded_customers(con: duckdb.DuckDBPyConnection) -> int:
    """Inside a customers load: give each record of `_typed` the product's id when its external
    id or e-mail names a person and its own id does not. Returns how many were re-keyed.

    Not re-keyed: an e-mail that two records of the file share (which person would it be?), and
    a person who already has a record of their own (the product's, not this CRM row)."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _resolved AS
        SELECT t._row AS _row, t.customer_id AS old_id,
               COALESCE(t._external_id, m.customer_id) AS person
        FROM _typed AS t LEFT JOIN ({known_emails_sql()}) AS m
            ON m.email = t._email
           AND t._email IN (SELECT _email FROM _typed GROUP BY _email HAVING count(*) = 1)
        WHERE COALESCE(t._external_id, m.customer_id) IS NOT NULL
          AND t.customer_id IS DISTINCT FROM COALESCE(t._external_id, m.customer_id)
          AND (t._external_id IS NOT NULL OR t.customer_id IS NULL OR t.customer_id NOT IN (
              {PRODUCT_CUSTOMERS}))
          AND NOT EXISTS (
              SELECT 1 FROM customers AS c
              WHERE c.customer_id = COALESCE(t._external_id, m.customer_id)
                AND json_extract_string(c.attributes, '$.crm_id') IS DISTINCT FROM t.customer_id)
    """)
    count = one(con, "SELECT count(*) FROM _resolved")[0]
    if count:
        con.execute("""
            UPDATE _typed SET customer_id = r.person,
                attributes = CASE WHEN _typed.customer_id IS NULL THEN _typed.attributes
                    ELSE CAST(json_merge_patch(COALESCE(_typed.attributes, '{}'),
                         json_object('crm_id', _typed.customer_id)) AS JSON) END
            FROM _resolved AS r WHERE r._row = _typed._row
        """)
        _rekey_related(con, "SELECT old_id, person AS new_id FROM _resolved "
                            "WHERE old_id IS NOT NULL")
    return count


def _rekey_related(con: duckdb.DuckDBPyConnection, pairs_sql: str) -> None:
    """Deals, tickets and deal steps loaded earlier under the CRM's id follow their record to
    the product's id (same transaction), so the person is one person whatever the order."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _rekeyed AS {pairs_sql}")
    for table, only in (("deals", ""), ("feedback", ""),
                        ("events", " AND starts_with(t.event_id, 'deal:')")):
        con.execute(f"UPDATE {table} AS t SET customer_id = r.new_id FROM _rekeyed AS r "
                    f"WHERE t.customer_id = r.old_id{only}")


def resolve_loaded_feedback(con: duckdb.DuckDBPyConnection) -> int:
    """Inside a feedback load: rows with no person but an e-mail the store knows get its id."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _resolved AS
        SELECT t._row AS _row, m.customer_id AS person
        FROM _typed AS t JOIN ({known_emails_sql(with_customers=True)}) AS m
            ON m.email = t._email
        WHERE t.customer_id IS NULL AND t.anonymous_id IS NULL
    """)
    con.execute("UPDATE _typed SET customer_id = r.person FROM _resolved AS r "
                "WHERE r._row = _typed._row")
    return one(con, "SELECT count(*) FROM _resolved")[0]


def rekey_stored_customers(con: duckdb.DuckDBPyConnection) -> int:
    """After an events load: CRM records loaded earlier that did not join, now joined by an
    e-mail these events (or their identify calls) brought."""
    waiting = one(con, f"""
        SELECT count(*) FROM customers
        WHERE json_extract_string(attributes, '$.email') IS NOT NULL
          AND customer_id NOT IN ({PRODUCT_CUSTOMERS})
    """)[0]
    if not waiting:
        return 0
    # One CRM record per e-mail, and only onto a person who has no record yet.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _rekey AS
        SELECT c.customer_id AS old_id, m.customer_id AS new_id
        FROM customers AS c JOIN ({known_emails_sql()}) AS m
            ON m.email = lower(trim(json_extract_string(c.attributes, '$.email')))
        WHERE c.customer_id <> m.customer_id
          AND c.customer_id NOT IN ({PRODUCT_CUSTOMERS})
          AND m.customer_id NOT IN (SELECT customer_id FROM customers)
          AND m.email IN (
              SELECT lower(trim(json_extract_string(attributes, '$.email'))) FROM customers
              GROUP BY 1 HAVING count(*) = 1)
    """)
    con.execute("""
        UPDATE customers SET customer_id = r.new_id,
            attributes = CAST(json_merge_patch(COALESCE(customers.attributes, '{}'),
                              json_object('crm_id', r.old_id)) AS JSON)
        FROM _rekey AS r WHERE customers.customer_id = r.old_id
    """)
    _rekey_related(con, "SELECT old_id, new_id FROM _rekey")
    return one(con, "SELECT count(*) FROM _rekey")[0]


@dataclass
class JoinHealth:
    customers: int  # CRM records
    customers_with_events: int
    event_customers: int  # identified people in the events
    event_customers_with_record: int

    @property
    def warning(self) -> str | None:
        if not self.customers or not self.event_customers:
            return None
        share = self.customers_with_events / self.customers
        if share >= 0.5:
            return None
        return (f"only {self.customers_with_events:,} of {self.customers:,} customer records "
                f"have events ({share:.0%}): their ids are not the product's user ids. Load the "
                "customers file again with its e-mail column (--map 'Email=email') or a column "
                "holding the product's user id (--map 'User ID=external_id'), then segments and "
                "churn can use the CRM's fields")


def join_health(con) -> JoinHealth:
    row = con.execute(f"""
        WITH ev AS ({PRODUCT_CUSTOMERS} UNION SELECT customer_id FROM identity_map)
        SELECT (SELECT count(*) FROM customers),
               (SELECT count(*) FROM customers WHERE customer_id IN (SELECT customer_id FROM ev)),
               (SELECT count(*) FROM ev),
               (SELECT count(*) FROM ev WHERE customer_id IN (SELECT customer_id FROM customers))
    """).fetchone()
    return JoinHealth(*row)
