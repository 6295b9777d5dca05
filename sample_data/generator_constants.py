"""The demo generator's knobs: dates, shares and the planted effects (see generator.py)."""

from __future__ import annotations

from datetime import UTC, datetime

DAY = 86_400.0
HOUR = 3_600.0
MINUTE = 60.0

START = datetime(2026, 1, 5, tzinfo=UTC).timestamp()
LAST_ARRIVAL = datetime(2026, 9, 30, tzinfo=UTC).timestamp()
DATA_END = datetime(2026, 10, 31, 23, 59, tzinfo=UTC).timestamp()
# One week in which the signup form broke (a planted anomaly for "what changed?").
OUTAGE_START = datetime(2026, 8, 17, tzinfo=UTC).timestamp()
OUTAGE_END = OUTAGE_START + 7 * DAY

CHANNELS = ["paid_search", "paid_social", "organic_search", "email", "referral", "display"]
CHANNEL_SHARE = [0.25, 0.25, 0.20, 0.12, 0.08, 0.10]
# Added to the chance of viewing pricing for each channel among a person's touches.
CHANNEL_CONTRIBUTION = {"referral": 0.40, "email": 0.28, "organic_search": 0.20,
                        "paid_search": 0.14, "paid_social": 0.06, "display": 0.0}
PRICING_BASE = 0.15
TOUCH_EVENT = {"paid_search": "ad_click", "paid_social": "ad_click", "display": "ad_click",
               "organic_search": "search_visit", "email": "email_click",
               "referral": "referral_visit"}

SIGNUP_GIVEN_PRICING = {"desktop": 0.45, "mobile": 0.15}
MOBILE_SHARE = 0.4
SIZES = ["1-10", "11-50", "51-200", "201+"]
SIZE_SHARE = [0.4, 0.3, 0.2, 0.1]
SIZE_HEADCOUNT = [4, 25, 90, 400]
COUNTRIES = ["US", "GB", "DE", "FR", "CA", "AU", "NL", "IN", "BR", "ES"]
COUNTRY_SHARE = [0.38, 0.14, 0.1, 0.07, 0.07, 0.05, 0.05, 0.06, 0.04, 0.04]
PLAN_PRICE = {"starter": 29.0, "team": 99.0, "business": 299.0}
RETENTION_90D = {"invited_week_one": 0.84, "not_invited": 0.42, "billing_trouble": 0.2}
# After the first 90 days customers churn slowly (mean remaining lifetime in days).
LATE_LIFETIME_DAYS = 700.0
CHECKOUT_SUCCESS = 0.93
SIGNUP_FORM_FAILURE_IN_OUTAGE = 0.9
