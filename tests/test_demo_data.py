"""The demo generator: deterministic, loads through ingest, and its planted truths are real."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analytics.errors import JourneyError
from analytics.store import EventStore
from sample_data.demo import load_demo
from sample_data.generator import generate

REPO = Path(__file__).resolve().parents[1]


def one(store: EventStore, sql: str):
    with store.reader() as con:
        return con.execute(sql).fetchone()


def test_same_seed_same_data_and_other_seed_other_data():
    a, b, c = generate(600, seed=3), generate(600, seed=3), generate(600, seed=4)
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.feedback, b.feedback)
    assert a.manifest == b.manifest
    assert not a.events.equals(c.events)


def test_committed_sample_matches_the_generator():
    committed = pd.read_csv(REPO / "sample_data" / "demo" / "customers.csv")
    fresh = generate(1000, seed=7).customers
    assert list(committed["customer_id"]) == list(fresh["customer_id"])
    assert committed["revenue"].sum() == pytest.approx(fresh["revenue"].sum())


def test_demo_loads_everything(demo_store, demo_manifest):
    counts = demo_manifest["counts"]
    assert one(demo_store, "SELECT count(*) FROM events")[0] == counts["events"]
    assert one(demo_store, "SELECT count(*) FROM customers")[0] == counts["customers"]
    assert one(demo_store, "SELECT count(*) FROM feedback")[0] == counts["feedback"]
    # Every signed-up customer's anonymous visits are stitched to them.
    assert one(demo_store, "SELECT count(*) FROM identity_map")[0] == counts["customers"]
    # Nothing is left unmapped and nothing happens after the export date.
    assert one(demo_store, "SELECT count(*) FROM journey_events WHERE stage = 'unmapped'")[0] == 0
    assert one(demo_store, "SELECT max(ts) <= TIMESTAMPTZ '2026-11-01' FROM events")[0]


def test_reloading_the_same_demo_adds_nothing(demo_store):
    before = one(demo_store, "SELECT count(*) FROM events")[0]
    load_demo(demo_store, people=8000, seed=11)
    assert one(demo_store, "SELECT count(*) FROM events")[0] == before


def test_another_demo_will_not_mix_into_the_store(demo_store):
    with pytest.raises(JourneyError, match="--force"):
        load_demo(demo_store, people=500, seed=1)


# The truths below are measured in SQL on the loaded store, independently of the generator's
# own arrays, and compared with the manifest.

def test_mobile_pricing_dropoff_is_planted(demo_store, demo_manifest):
    rates = dict(demo_store_rows(demo_store, """
        WITH p AS (SELECT person_id, min(device) AS device FROM journey_events
                   WHERE event_name = 'pricing_view' GROUP BY person_id),
             s AS (SELECT DISTINCT person_id FROM journey_events WHERE event_name = 'signup')
        SELECT device, avg(CASE WHEN s.person_id IS NULL THEN 0 ELSE 1 END) AS rate
        FROM p LEFT JOIN s USING (person_id) GROUP BY device
    """))
    truth = demo_manifest["truths"]["mobile_pricing_dropoff"]["signup_rate_after_pricing"]
    assert rates["mobile"] == pytest.approx(truth["mobile"], abs=1e-3)
    assert rates["desktop"] == pytest.approx(truth["desktop"], abs=1e-3)
    assert 1 - rates["mobile"] > 1.3 * (1 - rates["desktop"])  # drop-off much higher on mobile


def test_week_one_invite_roughly_doubles_retention(demo_store, demo_manifest):
    got = dict(demo_store_rows(demo_store, """
        WITH sub AS (SELECT customer_id, min(ts) AS start FROM journey_events
                     WHERE event_name = 'subscription_started' GROUP BY customer_id),
             signup AS (SELECT customer_id, min(ts) AS at FROM journey_events
                        WHERE event_name = 'signup' GROUP BY customer_id),
             inv AS (SELECT DISTINCT e.customer_id FROM journey_events AS e
                     JOIN signup USING (customer_id)
                     WHERE e.event_name = 'invite_teammate'
                       AND e.ts < signup.at + INTERVAL 7 DAY),
             cancel AS (SELECT customer_id, min(ts) AS at FROM journey_events
                        WHERE event_name = 'subscription_cancelled' GROUP BY customer_id)
        SELECT inv.customer_id IS NOT NULL AS invited,
               avg(CASE WHEN cancel.at IS NULL OR cancel.at > sub.start + INTERVAL 90 DAY
                        THEN 1 ELSE 0 END) AS retained
        FROM sub LEFT JOIN inv USING (customer_id) LEFT JOIN cancel USING (customer_id)
        WHERE sub.start + INTERVAL 90 DAY <= TIMESTAMPTZ '2026-10-31 23:59:00+00'
        GROUP BY 1
    """))
    truth = demo_manifest["truths"]["invite_week_one_retention"]["retention_90d"]
    assert got[True] == pytest.approx(truth["invited_week_one"], abs=0.02)
    assert got[False] == pytest.approx(truth["not_invited"], abs=0.02)
    assert 1.6 <= got[True] / got[False] <= 2.6


def test_billing_segment_churns_and_talks_about_billing(demo_store, demo_manifest):
    got = dict(demo_store_rows(demo_store, """
        SELECT plan = 'starter' AND attributes->>'billing_period' = 'monthly' AS segment,
               avg(CAST(churned AS INTEGER)) AS churn
        FROM customers WHERE plan <> 'trial' GROUP BY 1
    """))
    truth = demo_manifest["truths"]["billing_churn_segment"]
    assert got[True] == pytest.approx(truth["churn_rate"], abs=1e-3)
    assert got[True] > got[False] + 0.2
    billing_words = one(demo_store, """
        SELECT avg(CASE WHEN regexp_matches(lower(f.text),
                   'charg|bill|invoice|payment|card|refund|price') THEN 1 ELSE 0 END)
        FROM feedback AS f JOIN customers AS c USING (customer_id)
        WHERE f.source = 'ticket' AND c.plan = 'starter'
          AND c.attributes->>'billing_period' = 'monthly'
    """)[0]
    assert billing_words > 0.8


def test_channel_contributions_order_conversion(demo_store, demo_manifest):
    got = dict(demo_store_rows(demo_store, """
        WITH first_touch AS (
            SELECT person_id, arg_min(channel, ts) AS channel FROM journey_events
            WHERE channel IS NOT NULL GROUP BY person_id),
             paid AS (SELECT DISTINCT person_id FROM journey_events
                      WHERE event_name = 'subscription_started')
        SELECT channel, avg(CASE WHEN paid.person_id IS NULL THEN 0 ELSE 1 END)
        FROM first_touch LEFT JOIN paid USING (person_id) GROUP BY channel
    """))
    ranking = demo_manifest["truths"]["channel_contributions"]["ranking"]
    assert max(got, key=got.get) == ranking[0]
    assert min(got, key=got.get) == ranking[-1]


def test_signup_outage_week(demo_store, demo_manifest):
    truth = demo_manifest["truths"]["signup_outage"]
    errors = one(demo_store, "SELECT count(*), min(ts) >= TIMESTAMPTZ '2026-08-17', "
                             "max(ts) < TIMESTAMPTZ '2026-08-24' FROM events "
                             "WHERE event_name = 'signup_error'")
    assert errors == (truth["signup_attempts_failed"], True, True)
    rates = truth["signup_rate_after_pricing"]
    assert rates["outage_week"] < rates["other_weeks"] / 2


def test_feedback_carries_pii_and_injections_to_test_later_layers(demo_store, demo_manifest):
    assert demo_manifest["feedback_with_pii"] and demo_manifest["feedback_with_injection"]
    pii_id = demo_manifest["feedback_with_pii"][0]
    text = one(demo_store, f"SELECT text FROM feedback WHERE feedback_id = '{pii_id}'")[0]
    assert "@example.com" in text or "555" in text or "4242" in text


def demo_store_rows(store: EventStore, sql: str) -> list[tuple]:
    with store.reader() as con:
        return con.execute(sql).fetchall()
