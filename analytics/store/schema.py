"""The event store's tables, views and default stage map.

No PRIMARY KEY constraints: DuckDB's index maintenance makes bulk loads several times slower,
and ingest already guarantees unique ids (it anti-joins every load against what is stored).
"""

from __future__ import annotations

# 2: person_events view; 3: journey_steps; 4: person_traits, deals, feedback.properties;
# 5: journey_steps positions, person_profiles
SCHEMA_VERSION = 5

DEFAULT_STAGES: list[str] = ["awareness", "consideration", "evaluation", "purchase", "retention"]

TABLES_DDL = """
CREATE TABLE IF NOT EXISTS meta (
    key VARCHAR NOT NULL,
    value VARCHAR
);
CREATE TABLE IF NOT EXISTS events (
    event_id VARCHAR NOT NULL,
    customer_id VARCHAR,
    anonymous_id VARCHAR,
    ts TIMESTAMPTZ NOT NULL,
    event_name VARCHAR NOT NULL,
    channel VARCHAR,
    device VARCHAR,
    properties JSON,
    load_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS customers (
    customer_id VARCHAR NOT NULL,
    signup_at TIMESTAMPTZ,
    plan VARCHAR,
    country VARCHAR,
    revenue DOUBLE,
    churned BOOLEAN,
    opted_out BOOLEAN NOT NULL DEFAULT FALSE,
    attributes JSON,
    load_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
    feedback_id VARCHAR NOT NULL,
    customer_id VARCHAR,
    anonymous_id VARCHAR,
    ts TIMESTAMPTZ NOT NULL,
    source VARCHAR NOT NULL,
    rating DOUBLE,
    text VARCHAR NOT NULL,
    load_id INTEGER NOT NULL
);
-- The feedback file's other columns (a ticket's priority, a survey's token), added in schema 4.
ALTER TABLE feedback ADD COLUMN IF NOT EXISTS properties JSON;
-- anonymous id -> customer id, learned from events that carry both (the first pairing wins).
CREATE TABLE IF NOT EXISTS identity_map (
    anonymous_id VARCHAR NOT NULL,
    customer_id VARCHAR NOT NULL,
    first_seen TIMESTAMPTZ
);
-- CRM deals / opportunities; ingest also writes each deal's steps as events (deals.py).
CREATE TABLE IF NOT EXISTS deals (
    deal_id VARCHAR NOT NULL,
    customer_id VARCHAR,
    name VARCHAR,
    stage VARCHAR,
    amount DOUBLE,
    created_at TIMESTAMPTZ,
    close_at TIMESTAMPTZ,
    pipeline VARCHAR,
    properties JSON,
    load_id INTEGER NOT NULL
);
-- What identify calls say about a person (Segment traits, PostHog $set): the e-mail joins CRM
-- records whose ids are not the product's; the rest is kept as the vendor wrote it.
CREATE TABLE IF NOT EXISTS person_traits (
    customer_id VARCHAR NOT NULL,
    email VARCHAR,
    traits JSON,
    ts TIMESTAMPTZ,
    load_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS stages (
    stage VARCHAR NOT NULL,
    position INTEGER NOT NULL
);
-- origin: 'rule' (guessed from the event name at ingest) or 'user' (set by hand; never
-- overwritten).
CREATE TABLE IF NOT EXISTS stage_map (
    event_name VARCHAR NOT NULL,
    stage VARCHAR NOT NULL,
    origin VARCHAR NOT NULL
);
-- Each person's journey as moves, kept up to date by ingest for the people a load touches, so
-- the transition matrix is a GROUP BY instead of a sort of every event (see steps.py).
CREATE TABLE IF NOT EXISTS journey_steps (
    person_id VARCHAR NOT NULL,
    prev_event VARCHAR,
    event_name VARCHAR NOT NULL,
    next_event VARCHAR,
    first_of_move BOOLEAN NOT NULL
);
-- Schema 5: the event's place in its person's journey (1, 2, ...), and its place once repeats
-- are collapsed (a repeat shares the place of the event it repeats), so the top paths read the
-- first steps of every journey without sorting the events.
ALTER TABLE journey_steps ADD COLUMN IF NOT EXISTS position INTEGER;
ALTER TABLE journey_steps ADD COLUMN IF NOT EXISTS collapsed_position INTEGER;
-- Each person's first-touch device and channel (deal steps aside), maintained with
-- journey_steps, so a breakdown or a filter by device or channel needs no pass over the events.
CREATE TABLE IF NOT EXISTS person_profiles (
    person_id VARCHAR NOT NULL,
    device VARCHAR,
    channel VARCHAR,
    customer_id VARCHAR
);
CREATE TABLE IF NOT EXISTS loads (
    load_id INTEGER NOT NULL,
    kind VARCHAR NOT NULL,
    file VARCHAR NOT NULL,
    rows_read BIGINT,
    rows_loaded BIGINT,
    rows_skipped BIGINT,
    loaded_at TIMESTAMPTZ NOT NULL
);
"""

# Journeys are read through these views so identity stitching and the stage map apply everywhere
# (person_events: identities only, for the analytics that never look at stages).
# person_id is who the journey belongs to: the customer id when known (directly or through the
# identity map), otherwise the anonymous id, prefixed so the two id spaces cannot collide.
VIEWS_DDL = """
CREATE OR REPLACE VIEW person_events AS
SELECT
    e.event_id AS event_id,
    COALESCE(e.customer_id, im.customer_id) AS customer_id,
    COALESCE(e.customer_id, im.customer_id, 'anon:' || e.anonymous_id) AS person_id,
    e.anonymous_id AS anonymous_id,
    e.ts AS ts,
    e.event_name AS event_name,
    e.channel AS channel,
    e.device AS device,
    e.properties AS properties
FROM events AS e
LEFT JOIN identity_map AS im
    ON e.customer_id IS NULL AND e.anonymous_id = im.anonymous_id;

CREATE OR REPLACE VIEW journey_events AS
SELECT
    p.event_id AS event_id,
    p.customer_id AS customer_id,
    p.person_id AS person_id,
    p.anonymous_id AS anonymous_id,
    p.ts AS ts,
    p.event_name AS event_name,
    COALESCE(sm.stage, 'unmapped') AS stage,
    COALESCE(st.position, 999) AS stage_position,
    p.channel AS channel,
    p.device AS device,
    p.properties AS properties
FROM person_events AS p
LEFT JOIN stage_map AS sm ON sm.event_name = p.event_name
LEFT JOIN stages AS st ON st.stage = sm.stage;

CREATE OR REPLACE VIEW journey_feedback AS
SELECT
    f.feedback_id AS feedback_id,
    COALESCE(f.customer_id, im.customer_id) AS customer_id,
    COALESCE(f.customer_id, im.customer_id, 'anon:' || f.anonymous_id) AS person_id,
    f.ts AS ts,
    f.source AS source,
    f.rating AS rating,
    f.text AS text
FROM feedback AS f
LEFT JOIN identity_map AS im
    ON f.customer_id IS NULL AND f.anonymous_id = im.anonymous_id;
"""

# Keyword rules that guess a stage for a new event name; the user can override any of them.
# Checked in order: the first rule whose keyword occurs in the event name wins.
STAGE_RULES: list[tuple[str, str]] = [
    # CRM deals (deals.py): opened while evaluating, won or lost at the purchase.
    ("deal_created", "evaluation"),
    ("deal_won", "purchase"),
    ("deal_lost", "purchase"),
    # Vendors' automatic events: a first visit or session start is where a journey begins.
    ("session_start", "awareness"),
    ("first_visit", "awareness"),
    ("first_open", "awareness"),
    ("cancel", "retention"),
    ("churn", "retention"),
    ("renew", "retention"),
    ("login", "retention"),
    ("session", "retention"),
    ("ticket", "retention"),
    ("invoice", "retention"),
    ("payment_failed", "retention"),
    ("billing", "retention"),
    ("payment_error", "purchase"),
    ("purchase", "purchase"),
    ("checkout", "purchase"),
    ("order", "purchase"),
    ("subscri", "purchase"),
    ("paid", "purchase"),
    ("upgrade", "purchase"),
    ("plan_select", "purchase"),
    ("signup", "evaluation"),
    ("signed_up", "evaluation"),
    ("sign_up", "evaluation"),
    ("register", "evaluation"),
    ("trial", "evaluation"),
    ("onboard", "evaluation"),
    ("invite", "evaluation"),
    ("activat", "evaluation"),
    ("demo", "evaluation"),
    ("first_", "evaluation"),
    ("pricing", "consideration"),
    ("feature", "consideration"),
    ("case_stud", "consideration"),
    ("compare", "consideration"),
    ("docs", "consideration"),
    ("product_view", "consideration"),
    ("cart", "consideration"),
    ("ad_", "awareness"),
    ("click", "awareness"),
    ("landing", "awareness"),
    ("page_view", "awareness"),
    ("pageview", "awareness"),  # PostHog's $pageview
    ("viewed_page", "awareness"),  # Segment/Amplitude naming
    ("screen_view", "awareness"),
    ("visit", "awareness"),
    ("impression", "awareness"),
    ("open", "awareness"),
]


def guess_stage(event_name: str) -> str:
    """The stage an event most likely belongs to, from its name; 'retention' for product use."""
    name = event_name.lower().replace(" ", "_").replace("-", "_").lstrip("$[]")
    for keyword, stage in STAGE_RULES:
        if keyword in name:
            return stage
    # Events we cannot place are most often in-product actions by existing customers.
    return "retention"
