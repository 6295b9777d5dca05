"""The demo's planted truths, measured on the generated arrays and written to manifest.json."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from sample_data.feedback_text import THEME_SENTIMENT
from sample_data.generator_constants import (
    CHANNEL_CONTRIBUTION,
    CHANNELS,
    DATA_END,
    DAY,
    LAST_ARRIVAL,
    OUTAGE_END,
    OUTAGE_START,
    RETENTION_90D,
    SIGNUP_GIVEN_PRICING,
    START,
)


def _rate(numerator: np.ndarray, denominator: np.ndarray) -> float | None:
    d = int(denominator.sum())
    return round(float((numerator & denominator).sum()) / d, 4) if d else None


def manifest(**k) -> dict:
    device, saw_pricing, signed, paid = k["device"], k["saw_pricing"], k["signed"], k["paid"]
    mobile = device == "mobile"
    observable = paid & (k["sub_ts"] + 90 * DAY <= DATA_END)
    retained = k["churn_ts"] > k["sub_ts"] + 90 * DAY
    segment = paid & (k["plan"] == "starter") & k["monthly"]
    first_channel = k["first_channel"]
    by_channel = {c: _rate(paid, first_channel == c) for c in CHANNELS}
    tried = saw_pricing & (signed | k["signup_failed"])
    outage_pricing = saw_pricing & k["in_outage"]
    normal_pricing = saw_pricing & ~k["in_outage"]
    feedback = k["feedback"]
    seg_ids = set(k["customers"].loc[
        (k["customers"]["plan"] == "starter") & (k["customers"]["billing_period"] == "monthly"),
        "customer_id"])
    seg_tickets = feedback[(feedback["source"] == "ticket")
                           & feedback["customer_id"].isin(seg_ids)]
    billing_share = (float((seg_tickets["theme"] == "billing").mean())
                     if len(seg_tickets) else None)
    return {
        "generator": "sample_data.generator", "people": k["people"], "seed": k["seed"],
        "period": {"first_arrival": _iso(START), "last_arrival": _iso(LAST_ARRIVAL),
                   "data_end": _iso(DATA_END)},
        "counts": {"events": int(len(k["events"])), "customers": int(len(k["customers"])),
                   "feedback": int(len(feedback)), "paid": int(paid.sum())},
        "truths": {
            "mobile_pricing_dropoff": {
                "step": ["pricing_view", "signup"],
                "signup_rate_after_pricing": {"mobile": _rate(signed, saw_pricing & mobile),
                                              "desktop": _rate(signed, saw_pricing & ~mobile)},
                "design_rate": SIGNUP_GIVEN_PRICING,
                "feedback_theme": "price_team_size",
            },
            "invite_week_one_retention": {
                "event": "invite_teammate", "within_days": 7, "outcome": "retained 90 days",
                "retention_90d": {"invited_week_one": _rate(retained, observable & k["invited_w1"]),
                                  "not_invited": _rate(retained, observable & ~k["invited_w1"])},
                "design": RETENTION_90D,
            },
            "billing_churn_segment": {
                "definition": {"plan": "starter", "billing_period": "monthly"},
                "customers": int(segment.sum()),
                "churn_rate": _rate(k["churned"], segment),
                "churn_rate_other_paid": _rate(k["churned"], paid & ~segment),
                "ticket_theme": "billing",
                "share_of_segment_tickets_about_billing": billing_share,
                "marker_events": ["payment_failed", "billing_page_view"],
            },
            "channel_contributions": {
                "design_added_probability_of_pricing": CHANNEL_CONTRIBUTION,
                "ranking": sorted(CHANNEL_CONTRIBUTION, key=lambda c: -CHANNEL_CONTRIBUTION[c]),
                "paid_rate_by_first_channel": by_channel,
            },
            "signup_outage": {
                "week_start": _iso(OUTAGE_START), "week_end": _iso(OUTAGE_END),
                "signup_rate_after_pricing": {"outage_week": _rate(signed, outage_pricing),
                                              "other_weeks": _rate(signed, normal_pricing)},
                "signup_attempts_failed": int(k["signup_failed"].sum()),
                "attempts": int(tried.sum()),
                "marker_event": "signup_error", "feedback_theme": "signup_error",
            },
        },
        "feedback_themes": sorted(THEME_SENTIMENT),
        "feedback_with_pii": k["with_pii"],
        "feedback_with_injection": k["injected"],
    }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat()
