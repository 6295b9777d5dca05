"""A realistic, deterministic B2B SaaS journey with planted truths.

People arrive through marketing touches, look at pricing, sign up for a trial, onboard, maybe
invite teammates, pay, use the product, raise tickets, and renew or churn. Behaviour depends on
a few hidden causes, and those causes are the "planted truths" written to manifest.json, which
the tests use to check that the analytics recover them:

* pricing -> signup conversion is much lower on mobile (the pricing table breaks on phones);
* inviting a teammate in the first week roughly doubles 90-day retention;
* starter-plan customers paying monthly hit billing failures, churn far more, and their tickets
  talk about billing;
* each acquisition channel adds a known amount to the chance of reaching pricing (and so of
  converting): referral > email > organic search > paid search > paid social > display;
* one week (a broken signup form) in which pricing -> signup conversion collapses.

Everything is vectorised with numpy, so a million people generate in well under a minute.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sample_data.demo_feedback import feedback_rows
from sample_data.demo_manifest import manifest as build_manifest
from sample_data.generator_constants import (
    CHANNEL_CONTRIBUTION,
    CHANNEL_SHARE,
    CHANNELS,
    CHECKOUT_SUCCESS,
    COUNTRIES,
    COUNTRY_SHARE,
    DATA_END,
    DAY,
    HOUR,
    LAST_ARRIVAL,
    LATE_LIFETIME_DAYS,
    MINUTE,
    MOBILE_SHARE,
    OUTAGE_END,
    OUTAGE_START,
    PLAN_PRICE,
    PRICING_BASE,
    RETENTION_90D,
    SIGNUP_FORM_FAILURE_IN_OUTAGE,
    SIGNUP_GIVEN_PRICING,
    SIZE_SHARE,
    SIZES,
    START,
    TOUCH_EVENT,
)


@dataclass
class DemoData:
    events: pd.DataFrame
    customers: pd.DataFrame
    feedback: pd.DataFrame
    manifest: dict


class _EventLog:
    """Collects event columns per event type, then concatenates once."""

    def __init__(self, device: np.ndarray, anon: np.ndarray) -> None:
        self.device = device
        self.anon = anon
        self.parts: list[dict[str, np.ndarray]] = []

    def emit(self, people: np.ndarray, name: str, ts: np.ndarray, *, identified: bool,
             channel: np.ndarray | None = None, props: np.ndarray | None = None) -> None:
        people = np.asarray(people, dtype=np.int64)
        if people.size == 0:
            return
        self.parts.append({
            "person": people,
            "ts": np.asarray(ts, dtype=np.float64),
            "event_name": np.full(people.size, name, dtype=object),
            "identified": np.full(people.size, identified),
            "channel": channel if channel is not None else np.full(people.size, None, object),
            "properties": props if props is not None else np.full(people.size, None, object),
        })

    def frame(self, customer_ids: np.ndarray) -> pd.DataFrame:
        cols = {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}
        # The export is taken at DATA_END: nothing after it has happened yet.
        keep = cols["ts"] <= DATA_END
        cols = {k: v[keep] for k, v in cols.items()}
        order = np.lexsort((cols["ts"], cols["person"]))
        cols = {k: v[order] for k, v in cols.items()}
        person = cols["person"]
        customer = np.where(cols["identified"], customer_ids[person], None)
        # Signed-up people keep their anonymous id on the signup event only (the identify call),
        # which is how the store learns the anonymous id -> customer id link.
        is_signup = cols["event_name"] == "signup"
        anon = np.where(~cols["identified"] | is_signup, self.anon[person], None)
        ts = pd.to_datetime((cols["ts"] * 1000).astype(np.int64), unit="ms", utc=True)
        return pd.DataFrame({
            "event_id": [f"E{i:010d}" for i in range(person.size)],
            "customer_id": customer,
            "anonymous_id": anon,
            "timestamp": ts,
            "event_name": cols["event_name"],
            "channel": cols["channel"],
            "device": self.device[person],
            "properties": cols["properties"],
        })


def generate(people: int = 5000, seed: int = 7) -> DemoData:
    if people < 50:
        raise ValueError("The demo needs at least 50 people to show anything")
    rng = np.random.default_rng(seed)
    n = people
    idx = np.arange(n)
    device = np.where(rng.random(n) < MOBILE_SHARE, "mobile", "desktop").astype(object)
    size_i = rng.choice(len(SIZES), n, p=SIZE_SHARE)
    country = np.array(COUNTRIES, dtype=object)[rng.choice(len(COUNTRIES), n, p=COUNTRY_SHARE)]
    anon = np.array([f"anon-{seed:x}-{i:07x}" for i in idx], dtype=object)
    customer_ids = np.array([f"C{i:07d}" for i in idx], dtype=object)
    log = _EventLog(device, anon)

    # --- awareness: 1-4 marketing touches, a few days apart -----------------------------------
    touches = rng.choice([1, 2, 3, 4], n, p=[0.45, 0.3, 0.15, 0.1])
    touch_channel = rng.choice(len(CHANNELS), (n, 4), p=CHANNEL_SHARE)
    t0 = rng.uniform(START, LAST_ARRIVAL, n)
    gaps = rng.uniform(0.3 * DAY, 5 * DAY, (n, 4))
    gaps[:, 0] = 0.0
    touch_ts = t0[:, None] + np.cumsum(gaps, axis=1)
    touched = np.zeros((n, len(CHANNELS)), dtype=bool)
    channel_names = np.array(CHANNELS, dtype=object)
    for j in range(4):
        active = touches > j
        touched[idx[active], touch_channel[active, j]] = True
        for c, name in enumerate(CHANNELS):
            who = idx[active & (touch_channel[:, j] == c)]
            log.emit(who, TOUCH_EVENT[name], touch_ts[who, j], identified=False,
                     channel=np.full(who.size, name, dtype=object))
    first_channel = channel_names[touch_channel[:, 0]]
    last_touch = touch_ts[idx, touches - 1]
    log.emit(idx, "landing_view", t0 + rng.uniform(5, 60, n), identified=False,
             channel=first_channel.copy())

    # --- consideration ---------------------------------------------------------------------
    contribution = np.array([CHANNEL_CONTRIBUTION[c] for c in CHANNELS])
    p_pricing = np.clip(PRICING_BASE + touched.astype(float) @ contribution, 0, 0.95)
    saw_pricing = rng.random(n) < p_pricing
    pricing_ts = last_touch + rng.uniform(2 * MINUTE, 2 * HOUR, n)
    features = rng.random(n) < np.where(saw_pricing, 0.6, 0.25)
    log.emit(idx[features], "features_view",
             np.where(saw_pricing, pricing_ts - rng.uniform(MINUTE, 30 * MINUTE, n),
                      last_touch + rng.uniform(MINUTE, HOUR, n))[features], identified=False)
    case_study = saw_pricing & (rng.random(n) < 0.2)
    log.emit(idx[case_study], "case_study_view", pricing_ts[case_study] + 5 * MINUTE,
             identified=False)
    log.emit(idx[saw_pricing], "pricing_view", pricing_ts[saw_pricing], identified=False)

    # --- evaluation: signup, trial, onboarding, invites, activation ------------------------
    p_signup = np.where(device == "mobile", SIGNUP_GIVEN_PRICING["mobile"],
                        SIGNUP_GIVEN_PRICING["desktop"])
    signed = saw_pricing & (rng.random(n) < p_signup)
    signup_ts = pricing_ts + rng.uniform(5 * MINUTE, 3 * DAY, n)
    in_outage = (signup_ts >= OUTAGE_START) & (signup_ts < OUTAGE_END)
    signup_failed = signed & in_outage & (rng.random(n) < SIGNUP_FORM_FAILURE_IN_OUTAGE)
    log.emit(idx[signup_failed], "signup_error", signup_ts[signup_failed], identified=False)
    signed &= ~signup_failed
    s = idx[signed]
    log.emit(s, "signup", signup_ts[s], identified=True)
    log.emit(s, "trial_started", signup_ts[s] + 1, identified=True)
    onb_start = signed & (rng.random(n) < 0.9)
    onb_start_ts = signup_ts + rng.uniform(MINUTE, 30 * MINUTE, n)
    log.emit(idx[onb_start], "onboarding_started", onb_start_ts[onb_start], identified=True)
    onb_done = onb_start & (rng.random(n) < 0.8)
    onb_done_ts = onb_start_ts + rng.uniform(10 * MINUTE, 2 * DAY, n)
    log.emit(idx[onb_done], "onboarding_completed", onb_done_ts[onb_done], identified=True)
    p_invite = np.where(size_i == 0, 0.2, 0.45)
    invited_w1 = onb_done & (rng.random(n) < p_invite)
    invite_ts = np.maximum(signup_ts + rng.uniform(0.5 * DAY, 6.5 * DAY, n), onb_done_ts + MINUTE)
    invited_w1 &= invite_ts < signup_ts + 7 * DAY
    log.emit(idx[invited_w1], "invite_teammate", invite_ts[invited_w1], identified=True)
    # Some invite later; a late invite carries no retention effect (week one is what matters).
    invited_late = onb_done & ~invited_w1 & (rng.random(n) < 0.12)
    late_invite_ts = signup_ts + rng.uniform(9 * DAY, 30 * DAY, n)
    activated = onb_done & (rng.random(n) < 0.8)
    activation_ts = onb_done_ts + rng.uniform(HOUR, 3 * DAY, n)
    log.emit(idx[activated], "first_report_created", activation_ts[activated], identified=True)
    chat = signed & (rng.random(n) < 0.08)

    # --- purchase ----------------------------------------------------------------------------
    p_pay = np.where(activated & invited_w1, 0.75, np.where(activated, 0.6, 0.2))
    wants_pay = signed & (rng.random(n) < p_pay)
    plan_ts = signup_ts + rng.uniform(7 * DAY, 14 * DAY, n)
    checkout_ts = plan_ts + rng.uniform(MINUTE, 10 * MINUTE, n)
    paid = wants_pay & (rng.random(n) < CHECKOUT_SUCCESS) & (checkout_ts < DATA_END)
    wants_pay &= checkout_ts < DATA_END
    checkout_failed = wants_pay & ~paid
    plan_draw = rng.random(n)
    plan = np.select(
        [size_i == 0, size_i == 1, size_i == 2],
        [np.where(plan_draw < 0.75, "starter", "team"),
         np.where(plan_draw < 0.15, "starter", np.where(plan_draw < 0.85, "team", "business")),
         np.where(plan_draw < 0.4, "team", "business")],
        "business").astype(object)
    monthly = rng.random(n) < np.where(plan == "starter", 0.85, 0.55)
    log.emit(idx[wants_pay], "plan_selected", plan_ts[wants_pay], identified=True,
             props=np.array([json.dumps({"plan": p}) for p in plan[wants_pay]], dtype=object))
    log.emit(idx[wants_pay], "checkout_started", checkout_ts[wants_pay], identified=True)
    log.emit(idx[checkout_failed], "payment_error", checkout_ts[checkout_failed] + 30,
             identified=True)
    sub_ts = checkout_ts + rng.uniform(30, 5 * MINUTE, n)
    log.emit(idx[paid], "subscription_started", sub_ts[paid], identified=True,
             props=np.array([json.dumps({"plan": p, "billing": "monthly" if m else "annual"})
                             for p, m in zip(plan[paid], monthly[paid])], dtype=object))
    trial_over = signed & ~paid
    log.emit(idx[trial_over], "trial_expired", signup_ts[trial_over] + 14 * DAY, identified=True)
    log.emit(idx[invited_late], "invite_teammate", late_invite_ts[invited_late], identified=True)

    # --- retention: usage, billing trouble, churn -------------------------------------------
    billing_trouble = paid & (rng.random(n) < np.where((plan == "starter") & monthly, 0.8, 0.04))
    p90 = np.where(billing_trouble, RETENTION_90D["billing_trouble"],
                   np.where(invited_w1, RETENTION_90D["invited_week_one"],
                            RETENTION_90D["not_invited"]))
    early_churn = rng.random(n) > p90
    lifetime_days = np.where(early_churn, rng.uniform(7, 90, n),
                             90 + rng.exponential(LATE_LIFETIME_DAYS, n))
    churn_ts = sub_ts + lifetime_days * DAY
    churned = paid & (churn_ts < DATA_END)
    log.emit(idx[churned], "subscription_cancelled", churn_ts[churned], identified=True)
    active_end = np.where(churned, churn_ts, DATA_END)
    active_days = np.where(paid, np.maximum(active_end - sub_ts, 0) / DAY, 0.0)
    per_week = rng.choice([1, 2, 3], n) * np.where(invited_w1, 2, 1)
    n_sessions = np.where(paid, np.floor(active_days / 7 * per_week), 0).astype(np.int64)
    who = np.repeat(idx, n_sessions)
    when = sub_ts[who] + rng.random(who.size) * (active_end[who] - sub_ts[who])
    log.emit(who, "login", when, identified=True)
    makes_report = rng.random(who.size) < 0.5
    log.emit(who[makes_report], "report_created", when[makes_report] + rng.uniform(
        MINUTE, HOUR, int(makes_report.sum())), identified=True)
    n_invoices = np.where(paid & monthly, np.floor(active_days / 30), 0).astype(np.int64)
    who = np.repeat(idx, n_invoices)
    k = np.concatenate([np.arange(c) for c in n_invoices[n_invoices > 0]]) if who.size else who
    log.emit(who, "invoice_paid", sub_ts[who] + (k + 1) * 30 * DAY, identified=True)
    n_failures = np.where(billing_trouble, rng.integers(1, 4, n), 0)
    who = np.repeat(idx, n_failures)
    span = np.maximum(active_end[who] - sub_ts[who], HOUR)
    fail_ts = sub_ts[who] + rng.random(who.size) * span
    log.emit(who, "payment_failed", fail_ts, identified=True)
    log.emit(who, "billing_page_view", fail_ts + rng.uniform(MINUTE, DAY, who.size),
             identified=True)

    events = log.frame(customer_ids)

    # --- customers (the CRM export) ------------------------------------------------------------
    months_paid = np.where(monthly, np.maximum(np.ceil(active_days / 30), 1), 12)
    revenue = np.where(paid, months_paid * np.array([PLAN_PRICE[p] for p in plan]), 0.0)
    opted_out = rng.random(n) < 0.05
    customers = pd.DataFrame({
        "customer_id": customer_ids[s],
        "signup_at": pd.to_datetime((signup_ts[s] * 1000).astype(np.int64), unit="ms", utc=True),
        "plan": np.where(paid[s], plan[s], "trial"),
        "billing_period": np.where(paid[s], np.where(monthly[s], "monthly", "annual"), None),
        "country": country[s],
        "company_size": np.array(SIZES, dtype=object)[size_i[s]],
        "lead_source": first_channel[s],
        "email": [f"user{i}@example.com" for i in s],
        "revenue": np.round(revenue[s], 2),
        "churned": churned[s],
        "opted_out": opted_out[s],
    })

    feedback, injected, with_pii = feedback_rows(
        rng, n, saw_pricing, signed, device, size_i, billing_trouble, checkout_failed, in_outage,
        paid, churned, invited_w1, onb_start, onb_done, chat, pricing_ts, signup_ts, sub_ts,
        active_end, signup_failed, checkout_ts, anon, customer_ids)

    manifest = build_manifest(people=n, seed=seed, device=device, saw_pricing=saw_pricing,
                         signed=signed, paid=paid, invited_w1=invited_w1, sub_ts=sub_ts,
                         churn_ts=churn_ts, churned=churned, plan=plan, monthly=monthly,
                         billing_trouble=billing_trouble, first_channel=first_channel,
                         touched=touched, in_outage=in_outage, signup_failed=signup_failed,
                         events=events, customers=customers, feedback=feedback,
                         injected=injected, with_pii=with_pii)
    return DemoData(events=events, customers=customers, feedback=feedback, manifest=manifest)


def write_demo_files(data: DemoData, folder: Path, fmt: str = "parquet") -> dict[str, Path]:
    """Write the three exports and the manifest; returns the paths by kind."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for kind, frame in (("events", data.events), ("customers", data.customers),
                        ("feedback", data.feedback)):
        path = folder / f"{kind}.{fmt}"
        if fmt == "parquet":
            frame.to_parquet(path, index=False)
        else:
            out = frame.copy()
            for col in out.columns:
                if isinstance(out[col].dtype, pd.DatetimeTZDtype):
                    out[col] = out[col].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            out.to_csv(path, index=False)
        paths[kind] = path
    (folder / "manifest.json").write_text(json.dumps(data.manifest, indent=2))
    paths["manifest"] = folder / "manifest.json"
    return paths


def main() -> None:
    """`python -m sample_data.generator --out DIR`: write the demo exports without loading them."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    args = parser.parse_args()
    paths = write_demo_files(generate(args.people, args.seed), args.out, args.format)
    for kind, path in paths.items():
        print(f"{kind}: {path}")


if __name__ == "__main__":
    main()
