"""The analytics recover what the demo generator planted (see its manifest)."""

from __future__ import annotations

import pytest

from analytics.anomalies import anomalies
from analytics.attribution import attribution
from analytics.funnel import funnel
from analytics.moments import moments
from analytics.paths import default_conversion_event, next_steps
from analytics.retention import retention


@pytest.fixture(scope="module")
def con(demo_store):
    with demo_store.reader() as connection:
        yield connection


def test_funnel_finds_the_mobile_pricing_dropoff(con, demo_manifest):
    r = funnel(con, ["pricing_view", "signup"], by="device")
    rates = {g.group: g.steps[1].conversion_from_previous for g in r.groups}
    truth = demo_manifest["truths"]["mobile_pricing_dropoff"]["signup_rate_after_pricing"]
    # The manifest counts signups anywhere after pricing; the funnel the same, per person.
    assert rates["mobile"] == pytest.approx(truth["mobile"], abs=0.01)
    assert rates["desktop"] == pytest.approx(truth["desktop"], abs=0.01)
    assert (1 - rates["mobile"]) > 1.3 * (1 - rates["desktop"])


def test_full_funnel_names_pricing_as_the_biggest_loss_after_landing(con):
    r = funnel(con, ["landing_view", "pricing_view", "signup", "subscription_started"])
    assert [s.customers for s in r.steps] == sorted([s.customers for s in r.steps], reverse=True)
    losses = {"|".join(s.events): s.dropped for s in r.steps[1:]}
    assert losses["signup"] > losses["subscription_started"]


def test_moments_recover_the_week_one_invite(con, demo_manifest):
    r = moments(con, "subscription_cancelled", among="subscription_started", anchor="signup",
                within_seconds=7 * 86400, min_support=20)
    invite = next(m for m in r.negative if m.moment == "invite_teammate")
    truth = demo_manifest["truths"]["invite_week_one_retention"]["retention_90d"]
    assert invite.lift < 0.7  # far fewer cancellations among week-one inviters
    assert invite.q_value < 0.001
    assert truth["invited_week_one"] / truth["not_invited"] > 1.6


def test_moments_for_conversion_rank_activation_first(con):
    r = moments(con, "subscription_started")
    assert {"checkout_started", "plan_selected", "signup"} <= set(r.prerequisites)
    top = [m.moment for m in r.positive[:3]]
    assert any(name in top for name in ("onboarding_completed", "first_report_created"))
    assert "trial_expired" in [m.moment for m in r.negative]


def test_attribution_recovers_channel_quality(con, demo_manifest):
    r = attribution(con, "subscription_started", model="markov")
    per_reach = sorted(r.channels, key=lambda c: -c.conversions_per_1000_reached)
    ranking = demo_manifest["truths"]["channel_contributions"]["ranking"]
    # The two strongest planted channels (referral, email) lead per person reached; they are
    # within sampling noise of each other at this size.
    assert {c.channel for c in per_reach[:2]} == set(ranking[:2])
    assert ranking[-1] in [c.channel for c in per_reach[-2:]]  # display among the two weakest
    assert sum(c.credit for c in r.channels) == pytest.approx(r.converters_with_touchpoints)


def test_anomalies_flag_the_broken_signup_week(con, demo_manifest):
    r = anomalies(con)
    week = demo_manifest["truths"]["signup_outage"]["week_start"][:10]
    top = r.changes[0]  # the journey's own steps lead
    assert (top.metric, top.start.date().isoformat(), (top.end - top.start).days) == (
        "pricing_view -> signup", week, 7)
    # The broken form hit everyone alike, and signup errors rose with it.
    assert top.concentrated_in == []
    assert top.co_moving[0].startswith("signup_error rose")


def test_default_conversion_and_next_step(con):
    assert default_conversion_event(con) == "subscription_started"
    r = next_steps(con, ["checkout_started"])
    assert r.next_steps[0].event == "subscription_started"


def test_retention_curve_is_monotone_enough(con):
    r = retention(con, period="month")
    assert r.curve[0] == 1.0
    assert r.curve[1] > r.curve[3] > 0
