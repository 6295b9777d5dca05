"""Feedback rows for the demo: who writes what, when, and through which channel."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sample_data.feedback_text import INJECTIONS, FeedbackWriter
from sample_data.generator_constants import DATA_END, DAY, HOUR, SIZE_HEADCOUNT


def feedback_rows(rng, n, saw_pricing, signed, device, size_i, billing_trouble, checkout_failed,
              in_outage, paid, churned, invited_w1, onb_start, onb_done, chat, pricing_ts,
              signup_ts, sub_ts, active_end, signup_failed, checkout_ts, anon, customer_ids):
    writer = FeedbackWriter(rng)
    rows: list[tuple] = []  # (person, identified, ts, source, rating, theme)
    u = rng.random((n, 6))
    headcount = np.array(SIZE_HEADCOUNT)[size_i]
    left_pricing = saw_pricing & ~signed & ~signup_failed
    for i in np.flatnonzero(left_pricing & (u[:, 0] < 0.15)):
        r = u[i, 1]
        if device[i] == "mobile":
            theme = "price_team_size" if r < 0.6 else "mobile_pricing_page"
        else:
            theme = ("price_team_size" if r < 0.5 else "missing_integration" if r < 0.75
                     else "just_browsing")
        rows.append((i, False, pricing_ts[i] + 60, "survey", None, theme))
    for i in np.flatnonzero(billing_trouble & (u[:, 2] < 0.8)):
        ts = sub_ts[i] + u[i, 3] * max(active_end[i] - sub_ts[i], HOUR)
        rows.append((i, True, ts, "ticket", None, "billing"))
    for i in np.flatnonzero(signup_failed & (u[:, 2] < 0.5)):
        rows.append((i, False, signup_ts[i] + 120, "chat", None, "signup_error"))
    for i in np.flatnonzero(checkout_failed & (u[:, 2] < 0.5)):
        rows.append((i, True, checkout_ts[i] + 600, "ticket", None, "checkout_error"))
    for i in np.flatnonzero(onb_start & ~onb_done & (u[:, 4] < 0.3)):
        rows.append((i, True, signup_ts[i] + DAY, "ticket", None, "onboarding_setup"))
    for i in np.flatnonzero(chat):
        rows.append((i, True, signup_ts[i] + 2 * HOUR, "chat", None, "onboarding_setup"))
    # NPS 30 days after paying, from those still active then.
    nps_due = paid & (sub_ts + 30 * DAY < active_end) & (u[:, 5] < 0.35)
    for i in np.flatnonzero(nps_due):
        if billing_trouble[i]:
            theme, score = "billing", int(rng.integers(0, 5))
        elif invited_w1[i]:
            theme, score = ("team_collaboration" if u[i, 1] < 0.6 else "reports_value",
                            int(rng.integers(8, 11)))
        else:
            theme, score = ("lonely_user" if u[i, 1] < 0.6 else "reports_value",
                            int(rng.integers(4, 9)))
        rows.append((i, True, sub_ts[i] + 30 * DAY, "nps", score, theme))
    reviewers = paid & (u[:, 3] < 0.06)
    for i in np.flatnonzero(reviewers):
        if churned[i] and billing_trouble[i]:
            theme, stars = "billing", 1
        elif invited_w1[i]:
            theme, stars = "team_collaboration", 5
        else:
            theme, stars = "reports_value" if u[i, 4] < 0.5 else "lonely_user", 3
        rows.append((i, True, sub_ts[i] + 45 * DAY, "review", stars, theme))
    rows = [r for r in rows if r[2] < DATA_END]
    rows.sort(key=lambda r: (r[2], r[0]))
    texts, with_pii, injected = [], [], []
    for k, (i, _identified, _ts, _source, _rating, theme) in enumerate(rows):
        text = writer.text(theme, int(headcount[i]))
        if k % 37 == 5:
            text = writer.with_pii(text, int(i))
            with_pii.append(f"F{k:08d}")
        if k % 211 == 17:
            text = text + " " + INJECTIONS[(k // 211) % len(INJECTIONS)]
            injected.append(f"F{k:08d}")
        texts.append(text)
    feedback = pd.DataFrame({
        "feedback_id": [f"F{k:08d}" for k in range(len(rows))],
        "customer_id": [customer_ids[r[0]] if r[1] else None for r in rows],
        "anonymous_id": [None if r[1] else anon[r[0]] for r in rows],
        "timestamp": pd.to_datetime([int(r[2] * 1000) for r in rows], unit="ms", utc=True),
        "source": [r[3] for r in rows],
        "rating": pd.array([r[4] for r in rows], dtype="Int64"),
        "text": texts,
        "theme": [r[5] for r in rows],  # the planted truth; ingest keeps it as a spare column
    })
    return feedback, injected, with_pii
