"""A fitness app tracked the Amplitude/Firebase way: snake_case events, no session column.

People install from an ad or the store, create an account, meet the paywall, start a three-day
trial and are billed at its end. Subscribers come back every few days to work out. Activity comes
in bursts of a few events minutes apart, hours or days between bursts, so a 30-minute inactivity
rule recovers the visits. What is planted (see `truth`):

* main funnel app_launched -> account_created -> paywall_shown -> trial_begun ->
  subscription_purchased (onboarding_viewed is common but optional);
* a pricing test over the whole period: price_variant A (9.99) or B (14.99), 50/50, and B turns
  trials into purchases far less often (0.35 against 0.55) and cancels sooner;
* an incident: Android's release 4.2.0 ships with a broken paywall for two weeks (4.2.1 fixes
  it): paywall_shown -> trial_begun collapses on Android, app_crashed and restore_failed rise;
* friction at the paywall: TikTok installs dismiss it most;
* utm_source sets the chances of an account and of a trial: organic converts best, TikTok worst.

New installs stop a week before the export so every trial has run its course.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sample_data.domains._common import (
    DATA_END,
    DAY,
    HOUR,
    MINUTE,
    START,
    DomainData,
    EventLog,
    in_window,
    iso,
    median_days,
    pair_outcome,
    rank_within,
    rounded,
    session_starts,
    sessions_by_inactivity,
    stamp,
)

OS = ("ios", "android")
OS_SHARE = (0.5, 0.5)
SOURCES = ("organic", "influencer", "google_uac", "facebook", "tiktok")  # best first
SOURCE_SHARE = (0.20, 0.12, 0.20, 0.18, 0.30)
ACCOUNT_GIVEN_LAUNCH = np.array([0.75, 0.65, 0.60, 0.55, 0.45])
PAYWALL_GIVEN_ACCOUNT = 0.90
TRIAL_GIVEN_PAYWALL = np.array([0.62, 0.52, 0.45, 0.40, 0.20])
VARIANTS = ("A", "B")
PRICE = {"A": 9.99, "B": 14.99}
PURCHASE_GIVEN_TRIAL = {"A": 0.55, "B": 0.35}
LIFETIME_DAYS = {"A": 120.0, "B": 50.0}  # mean of an exponential subscription lifetime
TRIAL_DAYS = 3.0
RENEWAL_DAYS = 30.0
INCIDENT_START, INCIDENT_END = "2026-05-11", "2026-05-24"
INCIDENT_TRIAL_FACTOR = 0.10     # what is left of the trial rate on the broken paywall
LAST_ARRIVAL = DATA_END - 7 * DAY
COUNTRIES = np.array(["US", "GB", "DE", "BR", "CA", "AU", "FR", "MX"], dtype=object)
COUNTRY_SHARE = (0.42, 0.12, 0.1, 0.1, 0.08, 0.07, 0.06, 0.05)
WORKOUTS = np.array(["strength", "yoga", "hiit", "run", "mobility"], dtype=object)
PEOPLE = 5000

_PURCHASE_MEAN = float(np.mean(list(PURCHASE_GIVEN_TRIAL.values())))
CHANNEL_CONVERSION = {s: round(float(a * PAYWALL_GIVEN_ACCOUNT * t * _PURCHASE_MEAN), 4)
                      for s, a, t in zip(SOURCES, ACCOUNT_GIVEN_LAUNCH, TRIAL_GIVEN_PAYWALL)}
_T_START, _T_END = stamp(INCIDENT_START), stamp(INCIDENT_END) + DAY


def _version(android: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """4.1.3 everywhere, then 4.2.1; Android users were forced onto 4.2.0 in between."""
    broken = android & (ts >= _T_START) & (ts < _T_END)
    return np.where(broken, "4.2.0", np.where(ts < _T_END, "4.1.3", "4.2.1")).astype(object)


def _workouts(rng, log, person, at, p_first, p_second) -> None:
    one = rng.random(person.size) < p_first
    first_ts = at + rng.uniform(3, 12, person.size) * MINUTE
    log.emit(person[one], "workout_completed", first_ts[one],
             workout_type=WORKOUTS[rng.integers(0, WORKOUTS.size, int(one.sum()))])
    two = one & (rng.random(person.size) < p_second)
    log.emit(person[two], "workout_completed",
             first_ts[two] + rng.uniform(10, 25, int(two.sum())) * MINUTE,
             workout_type=WORKOUTS[rng.integers(0, WORKOUTS.size, int(two.sum()))])


def generate(seed: int = 11, people: int = PEOPLE) -> DomainData:
    if people < 200:
        raise ValueError("The app needs at least 200 people to show its planted effects")
    rng = np.random.default_rng(seed)
    n = people
    idx = np.arange(n)
    android = rng.random(n) < OS_SHARE[1]
    src = rng.choice(len(SOURCES), n, p=SOURCE_SHARE)
    variant = np.array(VARIANTS, dtype=object)[rng.integers(0, 2, n)]
    t0 = rng.uniform(START, LAST_ARRIVAL, n)
    log = EventLog()

    # --- the first visit: launch, onboarding, account, paywall, trial -----------------------
    log.emit(idx, "app_launched", t0)
    onboard = rng.random(n) < 0.75
    log.emit(idx[onboard], "onboarding_viewed", t0[onboard] + rng.uniform(20, 90, n)[onboard])
    account = rng.random(n) < ACCOUNT_GIVEN_LAUNCH[src]
    acc_ts = t0 + rng.uniform(2, 5, n) * MINUTE
    log.emit(idx[account], "account_created", acc_ts[account])
    paywall = account & (rng.random(n) < PAYWALL_GIVEN_ACCOUNT)
    pw_ts = acc_ts + rng.uniform(10, 60, n)
    log.emit(idx[paywall], "paywall_shown", pw_ts[paywall])
    broken = paywall & android & (pw_ts >= _T_START) & (pw_ts < _T_END)
    p_trial = TRIAL_GIVEN_PAYWALL[src] * np.where(broken, INCIDENT_TRIAL_FACTOR, 1.0)
    trial = paywall & (rng.random(n) < p_trial)
    trial_ts = pw_ts + rng.uniform(20, 90, n)
    log.emit(idx[trial], "trial_begun", trial_ts[trial])
    left = paywall & ~trial
    dismissed = left & (rng.random(n) < 0.92)
    log.emit(idx[dismissed], "paywall_dismissed", (pw_ts + rng.uniform(5, 30, n))[dismissed])
    crashed = left & broken & (rng.random(n) < 0.6)
    log.emit(idx[crashed], "app_crashed", (pw_ts + rng.uniform(5, 40, n))[crashed])
    # Restoring a purchase is what people try when the paywall misbehaves; a few always do.
    restore = left & (rng.random(n) < np.where(broken, 0.45, 0.03))
    log.emit(idx[restore], "restore_failed", (pw_ts + rng.uniform(60, 180, n))[restore])
    # Few work out during the trial: the workouts are what subscribers come back for.
    trial_workout = trial & (rng.random(n) < 0.15)
    log.emit(idx[trial_workout], "workout_completed",
             (trial_ts + rng.uniform(2, 10, n) * MINUTE)[trial_workout],
             workout_type=WORKOUTS[rng.integers(0, WORKOUTS.size, int(trial_workout.sum()))])

    # --- the trial: a visit or two, then the store bills (or the trial lapses) ---------------
    tp, _, t_start = session_starts(rng, trial_ts + 4 * HOUR + rng.exponential(0.5 * DAY, n),
                                    np.where(trial, rng.poisson(0.4, n), 0), 3 * HOUR,
                                    0.7 * DAY)
    log.emit(tp, "app_launched", t_start)
    _workouts(rng, log, tp, t_start, 0.5, 0.0)
    buy = trial & (rng.random(n) < np.where(variant == "A", PURCHASE_GIVEN_TRIAL["A"],
                                            PURCHASE_GIVEN_TRIAL["B"]))
    buy_ts = trial_ts + TRIAL_DAYS * DAY + rng.uniform(0, 2, n) * HOUR
    price = np.where(variant == "A", PRICE["A"], PRICE["B"]).astype(object)
    b = idx[buy]
    log.emit(b, "subscription_purchased", buy_ts[b], price=price[b], currency="USD")

    # --- subscribers: renewals, workouts every few days, cancellation -----------------------
    life = rng.exponential(np.where(variant == "A", LIFETIME_DAYS["A"], LIFETIME_DAYS["B"]))
    cancel_ts = buy_ts + life * DAY
    canceled = buy & (cancel_ts <= DATA_END)
    active_end = np.where(canceled, cancel_ts, DATA_END)
    c = idx[canceled]
    log.emit(c, "subscription_canceled", cancel_ts[c])
    renewals = np.where(buy, np.floor(np.maximum(active_end - buy_ts, 0) / (RENEWAL_DAYS * DAY)),
                        0).astype(np.int64)
    rp = np.repeat(idx, renewals)
    rk = rank_within(rp)
    log.emit(rp, "subscription_renewed", buy_ts[rp] + (rk + 1) * RENEWAL_DAYS * DAY,
             price=price[rp], currency="USD")
    span = np.maximum(active_end - buy_ts, 0) / DAY
    sp, _, s_start = session_starts(rng, buy_ts + 6 * HOUR + rng.exponential(DAY, n),
                                    np.where(buy, np.ceil(span / 2.0).astype(np.int64) + 2, 0),
                                    3 * HOUR, 2.2 * DAY)
    keep = s_start < active_end[sp]
    sp, s_start = sp[keep], s_start[keep]
    log.emit(sp, "app_launched", s_start)
    _workouts(rng, log, sp, s_start, 0.85, 0.15)

    # --- everyone else drops by now and then: the paywall again, a free workout --------------
    returns = np.where(account & ~trial, rng.poisson(1.5, n),
                       np.where(~account, rng.poisson(0.6, n), 0))
    op, _, o_start = session_starts(rng, t0 + 6 * HOUR + rng.exponential(3 * DAY, n), returns,
                                    6 * HOUR, 4 * DAY)
    log.emit(op, "app_launched", o_start)
    # Only those who already turned the paywall down meet it again (the trial is offered once).
    again = (paywall & ~trial)[op] & (rng.random(op.size) < 0.6)
    log.emit(op[again], "paywall_shown", o_start[again] + rng.uniform(10, 60, int(again.sum())))
    bust = again & android[op] & (o_start >= _T_START) & (o_start < _T_END) & (
        rng.random(op.size) < 0.6)
    log.emit(op[bust], "app_crashed", o_start[bust] + 70)
    shut = again & ~bust & (rng.random(op.size) < 0.9)
    log.emit(op[shut], "paywall_dismissed", o_start[shut] + 90)
    free = account[op] & (rng.random(op.size) < 0.3)
    _workouts(rng, log, op[free], o_start[free] + 2 * MINUTE, 1.0, 0.0)
    look = ~account[op] & (rng.random(op.size) < 0.3)
    log.emit(op[look], "onboarding_viewed", o_start[look] + 40)
    # A crash now and then on any platform, whatever the release.
    every = np.concatenate([tp, sp, op])
    at = np.concatenate([t_start, s_start, o_start])
    oops = rng.random(every.size) < 0.01
    log.emit(every[oops], "app_crashed", at[oops] + rng.uniform(30, 300, int(oops.sum())))

    events = _frame(rng, log, android, src, variant)
    ids = np.array([f"{h:012x}" for h in rng.integers(0, 2**48, n)], dtype=object)
    events["distinct_id"] = ids[events.pop("_person").to_numpy()]
    made = account & (acc_ts <= DATA_END)
    country = COUNTRIES[rng.choice(COUNTRIES.size, n, p=COUNTRY_SHARE)]
    customers = pd.DataFrame({"distinct_id": ids[made], "created_at": iso(acc_ts[made]),
                              "country": country[made]}).sort_values("created_at",
                                                                     ignore_index=True)
    events = events[["event_id", "distinct_id", "time", "event_name", "os", "utm_source",
                     "app_version", "price_variant", "price", "currency", "workout_type"]]
    return DomainData("subscription_app", {"events": events, "customers": customers},
                      _truth(events, n))


def _frame(rng, log, android, src, variant) -> pd.DataFrame:
    cols = log.collect()
    person, ts = cols["person"], cols["ts"]
    words = rng.integers(0, 2**32, size=(person.size, 4))
    return pd.DataFrame({
        "event_id": [f"{a:08x}-{b >> 16:04x}-4{b & 0xfff:03x}-{c >> 16:04x}-{c & 0xffff:04x}"
                     f"{d:08x}" for a, b, c, d in words],
        "_person": person,
        "time": iso(ts),
        "event_name": cols["event"],
        "os": np.where(android[person], "android", "ios").astype(object),
        "utm_source": np.array(SOURCES, dtype=object)[src[person]],
        "app_version": _version(android[person], ts),
        "price_variant": variant[person],
        "price": cols["price"],
        "currency": cols["currency"],
        "workout_type": cols["workout_type"],
    })


def _truth(events: pd.DataFrame, people: int) -> dict:
    key = ["distinct_id", "event_name", "time"]
    per = events.groupby("distinct_id").first()
    pw = pair_outcome(events, *key, "paywall_shown", "trial_begun")
    pw["os"] = per["os"].reindex(pw.index)
    pw["source"] = per["utm_source"].reindex(pw.index)
    during = in_window(pw["at"], INCIDENT_START, INCIDENT_END)
    android = pw["os"] == "android"
    outside = pw[~during]
    trial = pair_outcome(events, *key, "trial_begun", "subscription_purchased")
    trial["variant"] = per["price_variant"].reindex(trial.index)
    bought = events.loc[events["event_name"] == "subscription_purchased", "distinct_id"].unique()
    quit_ = events.loc[events["event_name"] == "subscription_canceled", "distinct_id"].unique()
    buyers = per.loc[per.index.isin(bought)]
    canceled = buyers.assign(c=buyers.index.isin(quit_)).groupby("price_variant")["c"].mean()
    conv = per.assign(c=per.index.isin(bought)).groupby("utm_source")["c"].mean()
    conv_at = pd.to_datetime(events.loc[events["event_name"] == "subscription_purchased"]
                             .set_index("distinct_id")["time"], utc=True)
    after = pd.to_datetime(events["time"], utc=True) > events["distinct_id"].map(conv_at)
    after_share = after.groupby(events["event_name"]).mean()
    dismissed = events.loc[events["event_name"] == "paywall_dismissed", "distinct_id"].unique()
    outside = outside.assign(dismissed=outside.index.isin(dismissed))
    return {
        "domain": "subscription_app",
        "people": people,
        "events": len(events),
        "person_column": "distinct_id",
        "conversion_event": "subscription_purchased",
        "revenue_column": "price",
        "main_funnel": ["app_launched", "account_created", "paywall_shown", "trial_begun",
                        "subscription_purchased"],
        "optional_steps": {"onboarding_viewed": "shown to about 0.75 on the first launch"},
        "churn_event": "subscription_canceled",
        "steps_after_conversion": ["subscription_renewed", "subscription_canceled",
                                   "workout_completed"],
        "share_after_conversion": {e: rounded(after_share[e]) for e in
                                   ("subscription_renewed", "subscription_canceled",
                                    "workout_completed", "app_launched")},
        "session_column": None,
        "session_rule": "a new session after 30 minutes without an event",
        "sessions_per_person": rounded(sessions_by_inactivity(events, "distinct_id", "time")),
        "incident": {
            "start": INCIDENT_START, "end": INCIDENT_END,
            "step_from": "paywall_shown", "step_to": "trial_begun",
            "segment_column": "os", "segment_value": "android",
            "co_moving_events": ["app_crashed", "restore_failed"],
            "rate_normal": rounded(pw.loc[android & ~during, "passed"].mean()),
            "rate_during_in_segment": rounded(pw.loc[android & during, "passed"].mean()),
            "rate_normal_all": rounded(pw.loc[~during, "passed"].mean()),
            "rate_during_all": rounded(pw.loc[during, "passed"].mean()),
            "planted_factor": INCIDENT_TRIAL_FACTOR,
            "cause": "Android release 4.2.0 (app_version), every Android user on it in the "
                     "window; 4.2.1 fixed it",
        },
        "release": {"app_version_column": "app_version", "broken_version": "4.2.0",
                    "os": "android", "fixed_in": "4.2.1", "before": "4.1.3"},
        "friction": {
            "step": "paywall_shown", "next_step": "trial_begun",
            "leavers_do": ["paywall_dismissed"],
            "segment_column": "utm_source", "segment_value": "tiktok",
            "dismissed_share_leavers": rounded(outside.loc[~outside["passed"], "dismissed"]
                                               .mean()),
            "dismissed_share_passers": rounded(outside.loc[outside["passed"], "dismissed"]
                                               .mean()),
            "leave_rate_by_source": {s: rounded(1 - v) for s, v in
                                     outside.groupby("source")["passed"].mean().items()},
            "planted_trial_rate": dict(zip(SOURCES, TRIAL_GIVEN_PAYWALL.tolist())),
        },
        "channel_column": "utm_source",
        "channel_conversion": dict(CHANNEL_CONVERSION),
        "channel_conversion_measured": {s: rounded(conv[s]) for s in SOURCES},
        "time_to_value": {"from": "app_launched", "to": "subscription_purchased",
                          "median_days": median_days(events, *key, "app_launched",
                                                     "subscription_purchased")},
        "pricing_test": {
            "column": "price_variant", "start": "2026-02-09", "split": {"A": 0.5, "B": 0.5},
            "price": dict(PRICE), "step_from": "trial_begun", "step_to":
            "subscription_purchased", "planted_rate": dict(PURCHASE_GIVEN_TRIAL),
            "measured_rate": {v: rounded(r) for v, r in
                              trial.groupby("variant")["passed"].mean().items()},
            "note": "randomised from the first day of the data, so the mix never changes",
        },
        "churn": {"event": "subscription_canceled", "segment_column": "price_variant",
                  "higher_for": "B", "mean_lifetime_days": dict(LIFETIME_DAYS),
                  "canceled_share_of_subscribers": {v: rounded(r) for v, r in
                                                    canceled.items()}},
        "trial_days": TRIAL_DAYS,
    }
