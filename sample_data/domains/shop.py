"""An online fashion shop tracked the Segment/Mixpanel way: Title Case events, several visits each.

People visit a few times over days (each visit its own `session_id`), browse, view products, add
to cart, open checkout and pay. What is planted (see `truth`):

* main funnel Product Viewed -> Added To Cart -> Checkout Opened -> Order Completed; Home and
  Catalog views are common but optional, Payment Submitted only comes with card payments;
* an iOS incident: for three weeks the iOS payment sheet breaks, Checkout Opened -> Order
  Completed falls from 0.70 to 0.15 on iOS, with bursts of Payment Declined and support contacts;
* friction at Checkout Opened all along: Android payments decline (3-D Secure), so Android people
  leave checkout far more often, and those who leave were mostly declined (Payment Declined);
* the acquisition channel sets the chance of adding to cart, so conversion runs
  Newsletter > Organic > Affiliate > Google Ads > Meta Ads.

Nothing else moves over time: arrivals are uniform, and they stop two weeks before the export so
every checkout has had time to finish.
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
    rounded,
    session_starts,
    stamp,
)

PLATFORMS = ("iOS", "Android", "Web")
PLATFORM_SHARE = (0.35, 0.25, 0.40)
WALLET = ("apple_pay", "google_pay", "paypal")  # the one-tap method of each platform
CHANNELS = ("Newsletter", "Organic", "Affiliate", "Google Ads", "Meta Ads")  # best first
CHANNEL_SHARE = (0.13, 0.22, 0.15, 0.28, 0.22)
# Planted chance of ever completing an order, by channel, outside the incident.
CHANNEL_CONVERSION = {"Newsletter": 0.34, "Organic": 0.25, "Affiliate": 0.18,
                      "Google Ads": 0.12, "Meta Ads": 0.07}
VIEWER_SHARE = 0.70            # the rest bounce between home, catalog and search
CHECKOUT_GIVEN_CART = 0.85
CHECKOUT_SUCCESS = (0.70, 0.45, 0.70)  # by platform: Android's 3-D Secure declines
CARD_SHARE = 0.35              # only card payments show the Payment Submitted step
INCIDENT_START, INCIDENT_END = "2026-04-13", "2026-05-03"
INCIDENT_SUCCESS = 0.15
LAST_ARRIVAL = DATA_END - 14 * DAY
CATEGORIES = np.array(["Shoes", "Outerwear", "Bags", "Accessories", "Knitwear"], dtype=object)
PEOPLE = 5000

_MEAN_SUCCESS = float(np.dot(PLATFORM_SHARE, CHECKOUT_SUCCESS))
CART_GIVEN_VIEW = np.array([CHANNEL_CONVERSION[c] / (VIEWER_SHARE * CHECKOUT_GIVEN_CART
                                                     * _MEAN_SUCCESS) for c in CHANNELS])


def _browse(rng, log, person, session, start, dur, viewer, category) -> None:
    """A visit's browsing, at random moments inside it; a visit always shows something."""
    m = person.size
    home = rng.random(m) < 0.45
    catalog = rng.poisson(1.2, m)
    search = rng.poisson(0.5, m)
    product = rng.poisson(0.9, m) * viewer[person]
    home |= (catalog + search + product) == 0
    log.emit(person[home], "Home Viewed", start[home], session=session[home])
    for name, count in (("Catalog Viewed", catalog), ("Search Performed", search),
                        ("Product Viewed", product)):
        rows = np.repeat(np.arange(m), count)
        at = start[rows] + 20 + rng.random(rows.size) * dur[rows]
        # Mostly the person's favourite category, sometimes another.
        cat = np.where(rng.random(rows.size) < 0.7, category[person[rows]],
                       CATEGORIES[rng.integers(0, CATEGORIES.size, rows.size)])
        props = {"category": cat}
        if name == "Product Viewed":
            props["product_id"] = np.array([f"SKU-{v:05d}" for v in
                                            rng.integers(0, 40_000, rows.size)], dtype=object)
        log.emit(person[rows], name, at, session=session[rows], **props)


def generate(seed: int = 11, people: int = PEOPLE) -> DomainData:
    if people < 200:
        raise ValueError("The shop needs at least 200 people to show its planted effects")
    rng = np.random.default_rng(seed)
    n = people
    idx = np.arange(n)
    plat = rng.choice(len(PLATFORMS), n, p=PLATFORM_SHARE)
    chan = rng.choice(len(CHANNELS), n, p=CHANNEL_SHARE)
    category = CATEGORIES[rng.integers(0, CATEGORIES.size, n)]
    t0 = rng.uniform(START, LAST_ARRIVAL, n)
    viewer = rng.random(n) < VIEWER_SHARE
    cart = viewer & (rng.random(n) < CART_GIVEN_VIEW[chan])
    opened = cart & (rng.random(n) < CHECKOUT_GIVEN_CART)
    log = EventLog()

    # --- visits before and up to the buying decision (the last of them) -------------------
    n_pre = 1 + rng.poisson(1.3, n)
    p_of, k_of, s_start = session_starts(rng, t0, n_pre, 2 * HOUR, 1.5 * DAY)
    s_dur = rng.uniform(3, 18, p_of.size) * MINUTE
    s_id = np.arange(p_of.size)
    _browse(rng, log, p_of, s_id, s_start, s_dur, viewer, category)
    last = k_of == n_pre[p_of] - 1
    decide_session = np.empty(n, np.int64)
    decide_session[p_of[last]] = s_id[last]
    decide_end = np.empty(n)
    decide_end[p_of[last]] = (s_start + s_dur)[last]

    # --- the buying visit: cart, checkout, payment ------------------------------------------
    pv_ts = decide_end + rng.uniform(10, 60, n)
    atc_ts = pv_ts + rng.uniform(30, 180, n)
    co_ts = atc_ts + rng.uniform(60, 300, n)
    card = rng.random(n) < CARD_SHARE
    submit_ts = co_ts + rng.uniform(60, 240, n)
    method = np.where(card, "card", np.array(WALLET, dtype=object)[plat]).astype(object)
    incident = opened & (plat == 0) & (co_ts >= stamp(INCIDENT_START)) & (
        co_ts < stamp(INCIDENT_END) + DAY)
    p_success = np.where(incident, INCIDENT_SUCCESS, np.array(CHECKOUT_SUCCESS)[plat])
    success = opened & (rng.random(n) < p_success)
    fail = opened & ~success
    oc_ts = np.where(card, submit_ts, co_ts + rng.uniform(60, 200, n)) + rng.uniform(10, 60, n)
    order_value = np.round(rng.lognormal(np.log(62), 0.5, n), 2)
    sess = decide_session
    c = idx[cart]
    log.emit(c, "Product Viewed", pv_ts[c], session=sess[c], category=category[c],
             product_id=np.array([f"SKU-{v:05d}" for v in rng.integers(0, 40_000, c.size)],
                                 dtype=object))
    log.emit(c, "Added To Cart", atc_ts[c], session=sess[c], category=category[c])
    o = idx[opened]
    log.emit(o, "Checkout Opened", co_ts[o], session=sess[o])
    submitted = idx[opened & card]
    log.emit(submitted, "Payment Submitted", submit_ts[submitted], session=sess[submitted],
             payment_method=method[submitted])
    w = idx[success]
    log.emit(w, "Order Completed", oc_ts[w], session=sess[w], order_value=order_value[w],
             payment_method=method[w], category=category[w])

    # Payment errors: bursts in the incident, most Android leavers, some others; a retry that
    # went through leaves one error behind before the order.
    draw = rng.random(n)
    n_err = np.select(
        [fail & incident, fail & (plat == 1), fail, success],
        [rng.integers(2, 5, n), (draw < 0.90) * rng.integers(1, 4, n), (draw < 0.45) * 1,
         (draw < 0.05) * 1], 0)
    e_person = np.repeat(idx, n_err)
    after = np.where(card, submit_ts, co_ts)[e_person]
    e_ts = np.where(success[e_person], after + (oc_ts[e_person] - after) * rng.uniform(
        0.2, 0.8, e_person.size), after + rng.uniform(20, 600, e_person.size))
    code = np.select([incident[e_person], plat[e_person] == 1],
                     ["payment_sheet_timeout", "3ds_authentication_failed"], "card_declined")
    log.emit(e_person, "Payment Declined", e_ts, session=sess[e_person],
             error_code=code.astype(object), payment_method=method[e_person])
    support = fail & (rng.random(n) < np.where(incident, 0.30, 0.01))
    s = idx[support]
    log.emit(s, "Contacted Support", co_ts[s] + rng.uniform(12, 25, s.size) * MINUTE,
             session=sess[s])

    # --- later visits: buyers come back to browse and review, some leavers browse again ------
    n_post = np.where(success, 1 + rng.poisson(2.0, n), np.where(cart, rng.poisson(0.8, n), 0))
    q_of, qk, q_start = session_starts(rng, decide_end + 2 * HOUR + rng.exponential(
        1.5 * DAY, n), n_post, 2 * HOUR, 2.0 * DAY)
    q_dur = rng.uniform(3, 15, q_of.size) * MINUTE
    q_id = s_id.size + np.arange(q_of.size)
    _browse(rng, log, q_of, q_id, q_start, q_dur, viewer, category)
    first_post = (qk == 0) & success[q_of]
    review = first_post & (rng.random(q_of.size) < 0.25)
    log.emit(q_of[review], "Review Written", (q_start + q_dur)[review], session=q_id[review],
             category=category[q_of[review]])
    returned = first_post & (rng.random(q_of.size) < 0.08)
    ret_ts = (q_start + q_dur)[returned] + rng.uniform(30, 120, int(returned.sum()))
    asks = returned & (rng.random(q_of.size) < 0.3)
    log.emit(q_of[asks], "Contacted Support", (q_start + q_dur)[asks], session=q_id[asks])
    log.emit(q_of[returned], "Order Returned", ret_ts, session=q_id[returned],
             refund_amount=order_value[q_of[returned]])

    events = _frame(rng, log, seed, plat, chan, opened, co_ts)
    return DomainData("shop", {"events": events}, _truth(events, n))


def _frame(rng, log, seed, plat, chan, opened, co_ts) -> pd.DataFrame:
    cols = log.collect()
    person, ts = cols["person"], cols["ts"]
    m = person.size
    anon = np.array([f"{seed:02x}{p:06x}-anon" for p in range(plat.size)], dtype=object)
    users = np.array([f"u_{seed}_{p:06d}" for p in range(plat.size)], dtype=object)
    # People sign in at checkout: from then on their events carry the user id too.
    known = opened[person] & (ts >= co_ts[person] - 0.5)
    # Session ids are opaque, as exports write them: a shuffled number per visit.
    visits = int(cols["session"].max()) + 1
    code = rng.permutation(visits)
    hexes = rng.integers(0, 2**62, size=(m, 2))
    return pd.DataFrame({
        "event_id": [f"{a:016x}{b:016x}" for a, b in hexes],
        "user_id": np.where(known, users[person], None),
        "anonymous_id": anon[person],
        "event_time": iso(ts),
        "event": cols["event"],
        "session_id": [f"sess_{v:07d}" for v in code[cols["session"].astype(np.int64)]],
        "platform": np.array(PLATFORMS, dtype=object)[plat[person]],
        "acquisition_channel": np.array(CHANNELS, dtype=object)[chan[person]],
        "category": cols["category"],
        "product_id": cols["product_id"],
        "order_value": cols["order_value"],
        "payment_method": cols["payment_method"],
        "error_code": cols["error_code"],
        "refund_amount": cols["refund_amount"],
    })


def _truth(events: pd.DataFrame, people: int) -> dict:
    key = ["anonymous_id", "event", "event_time"]
    per = events.groupby("anonymous_id").first()
    pair = pair_outcome(events, *key, "Checkout Opened", "Order Completed")
    pair["platform"] = per["platform"].reindex(pair.index)
    during = in_window(pair["at"], INCIDENT_START, INCIDENT_END)
    ios = pair["platform"] == "iOS"
    after_co = events.merge(pair["at"].rename("co_at"), left_on="anonymous_id", right_index=True)
    errored = after_co.loc[(after_co["event"] == "Payment Declined") & (
        pd.to_datetime(after_co["event_time"], utc=True) > after_co["co_at"]), "anonymous_id"]
    pair["error"] = pair.index.isin(errored.unique())
    outside = pair[~during]
    converted = events.loc[events["event"] == "Order Completed", "anonymous_id"].unique()
    by_channel = per["acquisition_channel"].to_frame().assign(
        converted=per.index.isin(converted)).groupby("acquisition_channel")["converted"].mean()
    conv_at = pd.to_datetime(events.loc[events["event"] == "Order Completed"].set_index(
        "anonymous_id")["event_time"], utc=True)
    at = pd.to_datetime(events["event_time"], utc=True)
    after = at > events["anonymous_id"].map(conv_at)
    after_share = after.groupby(events["event"]).mean()
    return {
        "domain": "shop",
        "people": people,
        "events": len(events),
        "person_column": "anonymous_id (user_id too, from Checkout Opened on)",
        "conversion_event": "Order Completed",
        "revenue_column": "order_value",
        "main_funnel": ["Product Viewed", "Added To Cart", "Checkout Opened", "Order Completed"],
        "optional_steps": {"Payment Submitted": "card payments only ("
                           f"{rounded(CARD_SHARE, 2)} of checkouts)",
                           "Home Viewed": "common, not required",
                           "Catalog Viewed": "common, not required"},
        "churn_event": None,
        "steps_after_conversion": ["Review Written", "Order Returned"],
        "share_after_conversion": {e: rounded(after_share[e]) for e in
                                   ("Review Written", "Order Returned", "Catalog Viewed",
                                    "Home Viewed")},
        "session_column": "session_id",
        "sessions_per_person": rounded(events.groupby("anonymous_id")["session_id"]
                                       .nunique().mean()),
        "incident": {
            "start": INCIDENT_START, "end": INCIDENT_END,
            "step_from": "Checkout Opened", "step_to": "Order Completed",
            "segment_column": "platform", "segment_value": "iOS",
            "co_moving_events": ["Payment Declined", "Contacted Support"],
            "rate_normal": rounded(pair.loc[ios & ~during, "passed"].mean()),
            "rate_during_in_segment": rounded(pair.loc[ios & during, "passed"].mean()),
            "rate_normal_all": rounded(pair.loc[~during, "passed"].mean()),
            "rate_during_all": rounded(pair.loc[during, "passed"].mean()),
            "planted_success": {"normal": CHECKOUT_SUCCESS[0], "during": INCIDENT_SUCCESS},
            "cause": "the iOS payment sheet times out (error_code payment_sheet_timeout)",
        },
        "friction": {
            "step": "Checkout Opened", "next_step": "Order Completed",
            "leavers_do": ["Payment Declined"],
            "segment_column": "platform", "segment_value": "Android",
            "error_share_leavers": rounded(outside.loc[~outside["passed"], "error"].mean()),
            "error_share_passers": rounded(outside.loc[outside["passed"], "error"].mean()),
            "leave_rate_by_platform": {p: rounded(1 - v) for p, v in
                                       outside.groupby("platform")["passed"].mean().items()},
            "cause": "Android card payments fail 3-D Secure (error_code "
                     "3ds_authentication_failed); measured outside the incident",
        },
        "channel_column": "acquisition_channel",
        "channel_conversion": dict(CHANNEL_CONVERSION),
        "channel_conversion_measured": {c: rounded(by_channel[c]) for c in CHANNELS},
        "time_to_value": {"from": "Product Viewed", "to": "Order Completed",
                          "median_days": median_days(events, *key, "Product Viewed",
                                                     "Order Completed")},
        "platform_share": dict(zip(PLATFORMS, PLATFORM_SHARE)),
    }
