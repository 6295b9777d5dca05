"""CRM deals (HubSpot deals, Salesforce opportunities): their own kind, and steps of a journey.

A deal is stored with its stage, amount and dates. It also becomes events of its person's
journey, so funnels, paths and attribution see the sales side: `deal_created` at its create
date, and `deal_won` or `deal_lost` at its close date once it is closed (each carrying the deal's
id, name, stage, pipeline and amount as properties). A won deal's amount is the person's revenue
where their customer record has none. A deal names its person by the product's id, by the CRM
contact's id (kept as crm_id when contacts were joined by e-mail), or by an e-mail.
"""

from __future__ import annotations

import duckdb

from analytics.store import cells
from analytics.store.connection import one
from analytics.store.people_join import known_emails_sql

# Stage names that close a deal, as HubSpot and Salesforce write them (compared without case,
# spaces or punctuation).
WON_STAGES = ("closedwon", "won", "closed_won")
LOST_STAGES = ("closedlost", "lost", "closed_lost")


def _stage_key(stage_sql: str) -> str:
    return f"regexp_replace(lower({stage_sql}), '[^a-z]', '', 'g')"


def outcome_sql(stage_sql: str) -> str:
    """'won', 'lost' or NULL (still open) for a deal stage."""
    key = _stage_key(stage_sql)
    won = ", ".join(cells.quote_literal(s.replace("_", "")) for s in WON_STAGES)
    lost = ", ".join(cells.quote_literal(s.replace("_", "")) for s in LOST_STAGES)
    return f"CASE WHEN {key} IN ({won}) THEN 'won' WHEN {key} IN ({lost}) THEN 'lost' END"


def resolve_loaded_deals(con: duckdb.DuckDBPyConnection) -> int:
    """Inside a deals load: each deal's person as the product knows them."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _resolved AS
        SELECT t._row AS _row,
               COALESCE(direct.customer_id, crm.customer_id, m.customer_id) AS person
        FROM _typed AS t
        LEFT JOIN (SELECT DISTINCT customer_id FROM customers) AS direct
            ON direct.customer_id = t.customer_id
        LEFT JOIN (SELECT json_extract_string(attributes, '$.crm_id') AS crm_id,
                          min(customer_id) AS customer_id
                   FROM customers WHERE json_extract_string(attributes, '$.crm_id') IS NOT NULL
                   GROUP BY 1) AS crm ON crm.crm_id = t.customer_id
        LEFT JOIN ({known_emails_sql(with_customers=True)}) AS m ON m.email = t._email
        WHERE COALESCE(direct.customer_id, crm.customer_id, m.customer_id) IS NOT NULL
          AND t.customer_id IS DISTINCT FROM
              COALESCE(direct.customer_id, crm.customer_id, m.customer_id)
    """)
    con.execute("UPDATE _typed SET customer_id = r.person FROM _resolved AS r "
                "WHERE r._row = _typed._row")
    return one(con, "SELECT count(*) FROM _resolved")[0]


def resolve_waiting_deals(con: duckdb.DuckDBPyConnection) -> int:
    """Deals loaded before their person was known (their contact only an e-mail), joined now that
    a customer record or an identify call has that e-mail; their steps are written."""
    waiting = one(con, "SELECT count(*) FROM deals WHERE customer_id IS NULL AND "
                       "json_extract_string(properties, '$.contact_email') IS NOT NULL")[0]
    if not waiting:
        return 0
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _deals_joined AS
        SELECT d.deal_id, m.customer_id FROM deals AS d
        JOIN ({known_emails_sql(with_customers=True)}) AS m
            ON m.email = json_extract_string(d.properties, '$.contact_email')
        WHERE d.customer_id IS NULL
    """)
    con.execute("UPDATE deals SET customer_id = j.customer_id FROM _deals_joined AS j "
                "WHERE deals.deal_id = j.deal_id")
    return deal_events(con, where="deal_id IN (SELECT deal_id FROM _deals_joined)")


def deal_events(con: duckdb.DuckDBPyConnection, load_ids: list[int] | None = None, *,
                where: str | None = None) -> int:
    """The journey events of the deals these loads wrote, or of the deals `where` selects
    (replacing those of the same deals). A deal whose person is not known has none."""
    chosen = where or f"load_id IN ({', '.join(str(int(i)) for i in load_ids or [-1])})"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _deal_steps AS
        WITH d AS (SELECT *, {outcome_sql('stage')} AS outcome FROM deals
                   WHERE {chosen} AND customer_id IS NOT NULL),
        steps AS (
            SELECT d.*, 'created' AS step, created_at AS step_at FROM d WHERE created_at IS NOT NULL
            UNION ALL
            SELECT d.*, outcome, COALESCE(close_at, created_at) FROM d
            WHERE outcome IS NOT NULL AND COALESCE(close_at, created_at) IS NOT NULL
        )
        SELECT 'deal:' || deal_id || ':' || step AS event_id, customer_id,
               CAST(NULL AS VARCHAR) AS anonymous_id, step_at AS ts, 'deal_' || step AS event_name,
               CAST(NULL AS VARCHAR) AS channel, CAST(NULL AS VARCHAR) AS device,
               CAST(json_object('deal_id', deal_id, 'deal_name', name, 'stage', stage,
                                'pipeline', pipeline, 'amount', amount,
                                'revenue', CASE WHEN step = 'won' THEN amount END) AS JSON)
                   AS properties,
               load_id
        FROM steps
    """)
    # A deal loaded again with --replace may have moved on (open -> won): its steps are redone.
    con.execute(f"""
        DELETE FROM events WHERE event_id IN (
            SELECT 'deal:' || deal_id || ':' || step FROM deals,
                (VALUES ('created'), ('won'), ('lost')) AS s(step)
            WHERE {chosen})
    """)
    con.execute("INSERT INTO events SELECT * FROM _deal_steps")
    return one(con, "SELECT count(*) FROM _deal_steps")[0]


def won_revenue_sql() -> str:
    """customer_id -> the sum of their won deals' amounts."""
    return (f"SELECT customer_id, sum(amount) AS won_amount FROM deals "
            f"WHERE {outcome_sql('stage')} = 'won' AND customer_id IS NOT NULL "
            "GROUP BY customer_id")
