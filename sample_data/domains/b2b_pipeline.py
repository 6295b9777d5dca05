"""A B2B sales pipeline as a CRM exports it: one row per stage change or marketing touch.

Contacts come in as leads from a source, qualify (MQL, then SQL after an SDR call), get an
opportunity, sometimes a formal proposal, and close won or lost; won accounts activate seats.
What is planted (see `truth`):

* main funnel Lead Created -> MQL -> SQL -> Opportunity Opened -> Closed Won; Proposal Sent is
  optional (formal proposals are for larger companies, well under half of won deals);
* an incident: for three weeks the EMEA SDR team is short-staffed, so EMEA MQL -> SQL falls
  from 0.55 to 0.08 and the unworked MQLs are recycled (Lead Recycled rises);
* friction at Opportunity Opened: deals that do not close mostly end Closed Lost, and 1000+
  companies stall there far more (procurement);
* the lead source sets the chances of qualifying and of winning: Partner > Webinar > Content >
  Outbound > Paid Search.

New leads stop three weeks before the export, so the pipeline of every lead has played out.
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
    sessions_by_inactivity,
    stamp,
)

SOURCES = ("Partner", "Webinar", "Content", "Outbound", "Paid Search")  # best first
SOURCE_SHARE = (0.12, 0.20, 0.20, 0.18, 0.30)
MQL_GIVEN_LEAD = np.array([0.80, 0.70, 0.60, 0.50, 0.40])
SQL_GIVEN_MQL = 0.55
OPP_GIVEN_SQL = 0.70
WON_GIVEN_OPP = np.array([0.60, 0.45, 0.40, 0.32, 0.20])
SIZES = ("1-50", "51-200", "201-1000", "1000+")
SIZE_SHARE = (0.35, 0.30, 0.20, 0.15)
SIZE_WIN_FACTOR = np.array([1.10, 1.00, 0.95, 0.35])  # big companies stall in procurement
PROPOSAL_BY_SIZE = np.array([0.05, 0.35, 0.90, 0.90])
DEAL_SIZE = np.array([6_000.0, 18_000.0, 45_000.0, 120_000.0])
SEATS_BY_SIZE = np.array([3.0, 8.0, 15.0, 25.0])
REGIONS = ("NA", "EMEA", "APAC", "LATAM")
REGION_SHARE = (0.35, 0.40, 0.15, 0.10)
REGION_COUNTRIES = {"NA": ["US", "CA"], "EMEA": ["GB", "DE", "FR", "NL", "SE"],
                    "APAC": ["AU", "JP", "SG", "IN"], "LATAM": ["BR", "MX", "CL"]}
INDUSTRIES = np.array(["Software", "Financial Services", "Healthcare", "Manufacturing",
                       "Retail", "Logistics", "Education"], dtype=object)
INCIDENT_START, INCIDENT_END = "2026-03-16", "2026-04-05"
INCIDENT_SQL_RATE = 0.08
LAST_ARRIVAL = DATA_END - 21 * DAY
PEOPLE = 4000

_SIZE_MIX = float(np.dot(SIZE_SHARE, SIZE_WIN_FACTOR))
CHANNEL_CONVERSION = {s: round(float(m * SQL_GIVEN_MQL * OPP_GIVEN_SQL * w * _SIZE_MIX), 4)
                      for s, m, w in zip(SOURCES, MQL_GIVEN_LEAD, WON_GIVEN_OPP)}
_FIRST = np.array(["Anna", "Ben", "Chloe", "David", "Elif", "Femi", "Greta", "Hiro", "Ines",
                   "Jonas", "Kira", "Luis", "Maya", "Nils", "Olga", "Priya", "Raul", "Sofia"])
_LAST = np.array(["Berg", "Costa", "Diaz", "Evans", "Fischer", "Garcia", "Haas", "Ito", "Jansen",
                  "Khan", "Lind", "Moreau", "Novak", "Okafor", "Park", "Rossi", "Silva"])
_STEM = np.array(["North", "Blue", "Iron", "Bright", "Silver", "Clear", "Red", "Summit", "Open",
                  "Pine", "Delta", "Nova", "Cedar", "Harbor", "Quartz", "Atlas"])
_TAIL = np.array(["wave", "stone", "field", "point", "works", "line", "gate", "bridge", "path"])
_SUFFIX = np.array(["Ltd", "Inc", "GmbH", "Group", "Systems", "Labs"])


def _days(rng, lo, hi, n) -> np.ndarray:
    return rng.uniform(lo, hi, n) * DAY


def generate(seed: int = 11, people: int = PEOPLE) -> DomainData:
    if people < 200:
        raise ValueError("The pipeline needs at least 200 contacts to show its planted effects")
    rng = np.random.default_rng(seed)
    n = people
    idx = np.arange(n)
    src = rng.choice(len(SOURCES), n, p=SOURCE_SHARE)
    size = rng.choice(len(SIZES), n, p=SIZE_SHARE)
    region = rng.choice(len(REGIONS), n, p=REGION_SHARE)
    # Leads arrive in office hours, Monday to Friday, as CRM records are made.
    day0 = np.floor(rng.uniform(START, LAST_ARRIVAL, n) / DAY) * DAY
    weekend = ((day0 / DAY + 3) % 7) >= 5  # epoch day 0 was a Thursday
    day0 = day0 - weekend * 2 * DAY
    lead_ts = np.maximum(day0, START) + rng.uniform(8, 18, n) * HOUR
    log = EventLog()

    log.emit(idx, "Lead Created", lead_ts)
    # The touch that made the lead, then nurture touches before qualification.
    web = src == 1
    log.emit(idx[web], "Webinar Attended", (lead_ts + _days(rng, 0.05, 2, n))[web])
    content = src == 2
    log.emit(idx[content], "Whitepaper Downloaded", (lead_ts + 2 * MINUTE)[content])
    mql = rng.random(n) < MQL_GIVEN_LEAD[src]
    mql_ts = lead_ts + _days(rng, 0.2, 3, n)
    window = np.where(mql, mql_ts, lead_ts + 5 * DAY) - lead_ts
    nurture_web = ~web & (rng.random(n) < 0.15)
    log.emit(idx[nurture_web], "Webinar Attended",
             (lead_ts + rng.uniform(0.1, 0.9, n) * window)[nurture_web])
    nurture_paper = ~content & (rng.random(n) < 0.25)
    log.emit(idx[nurture_paper], "Whitepaper Downloaded",
             (lead_ts + rng.uniform(0.1, 0.9, n) * window)[nurture_paper])
    log.emit(idx[mql], "MQL", mql_ts[mql])

    # --- SDR qualification: the EMEA gap -----------------------------------------------------
    gap = mql & (region == 1) & (mql_ts >= stamp(INCIDENT_START)) & (
        mql_ts < stamp(INCIDENT_END) + DAY)
    sql = mql & (rng.random(n) < np.where(gap, INCIDENT_SQL_RATE, SQL_GIVEN_MQL))
    sql_ts = mql_ts + _days(rng, 0.5, 4, n)
    demo = (sql & (rng.random(n) < 0.40)) | (mql & ~sql & (rng.random(n) < 0.03))
    demo_ts = mql_ts + rng.uniform(0.2, 0.6, n) * (sql_ts - mql_ts)
    log.emit(idx[demo], "Demo Requested", demo_ts[demo])
    log.emit(idx[sql], "SQL", sql_ts[sql])
    # MQLs nobody worked go back to nurture after the follow-up deadline.
    recycled = mql & ~sql & (rng.random(n) < np.where(gap, 0.95, 0.15))
    log.emit(idx[recycled], "Lead Recycled", (mql_ts + _days(rng, 2, 5, n))[recycled])

    # --- sales: opportunity, proposal, close ---------------------------------------------------
    opp = sql & (rng.random(n) < OPP_GIVEN_SQL)
    opp_ts = sql_ts + _days(rng, 0.5, 4, n)
    log.emit(idx[opp], "Opportunity Opened", opp_ts[opp])
    proposal = opp & (rng.random(n) < PROPOSAL_BY_SIZE[size])
    prop_ts = opp_ts + _days(rng, 1, 5, n)
    log.emit(idx[proposal], "Proposal Sent", prop_ts[proposal])
    close_ts = np.where(proposal, prop_ts, opp_ts + _days(rng, 1, 5, n)) + _days(rng, 2, 10, n)
    won = opp & (rng.random(n) < WON_GIVEN_OPP[src] * SIZE_WIN_FACTOR[size])
    amount = np.round(rng.lognormal(np.log(DEAL_SIZE[size]), 0.35) / 100) * 100
    log.emit(idx[won], "Closed Won", close_ts[won], amount=amount[won])
    lost = opp & ~won & (rng.random(n) < 0.85)  # the rest are still open, stalled
    reason = np.where(size == 3, np.where(rng.random(n) < 0.6, "No decision", "Budget"),
                      np.array(["Competitor", "Budget", "Timing", "No decision"], dtype=object)[
                          rng.integers(0, 4, n)]).astype(object)
    log.emit(idx[lost], "Closed Lost", close_ts[lost], lost_reason=reason[lost])

    # --- after the win: seats come alive over the first month ---------------------------------
    seats = np.where(won, 1 + rng.poisson(SEATS_BY_SIZE[size]), 0)
    sp = np.repeat(idx, seats)
    log.emit(sp, "Seat Activated", close_ts[sp] + _days(rng, 0.5, 30, sp.size))

    cols = log.collect()
    person = cols["person"]
    contact = np.array([f"003{seed:02d}{i:08d}" for i in idx], dtype=object)
    events = pd.DataFrame({
        "id": np.arange(100_001, 100_001 + person.size),
        "contact_id": contact[person],
        "created_at": iso(cols["ts"]),
        "event_type": cols["event"],
        "source": np.array(SOURCES, dtype=object)[src[person]],
        "region": np.array(REGIONS, dtype=object)[region[person]],
        "company_size": np.array(SIZES, dtype=object)[size[person]],
        "amount": cols["amount"],
        "lost_reason": cols["lost_reason"],
    })
    customers = _contacts(rng, contact, region)
    return DomainData("b2b_pipeline", {"events": events, "customers": customers},
                      _truth(events, n))


def _contacts(rng, contact, region) -> pd.DataFrame:
    n = contact.size
    stem, tail, suffix = (rng.integers(0, a.size, n) for a in (_STEM, _TAIL, _SUFFIX))
    company = np.char.add(np.char.add(_STEM[stem], _TAIL[tail]), np.char.add(" ", _SUFFIX[suffix]))
    slug = np.char.lower(np.char.add(_STEM[stem], _TAIL[tail]))
    first, last = _FIRST[rng.integers(0, _FIRST.size, n)], _LAST[rng.integers(0, _LAST.size, n)]
    country = np.empty(n, dtype=object)
    for r, name in enumerate(REGIONS):
        here = region == r
        options = np.array(REGION_COUNTRIES[name], dtype=object)
        country[here] = options[rng.integers(0, options.size, int(here.sum()))]
    email = [f"{f.lower()}.{la.lower()}{i}@{s}.example.com"
             for i, (f, la, s) in enumerate(zip(first, last, slug))]
    return pd.DataFrame({"contact_id": contact, "company": company.astype(object),
                         "industry": INDUSTRIES[rng.integers(0, INDUSTRIES.size, n)],
                         "country": country, "email": email})


def _truth(events: pd.DataFrame, people: int) -> dict:
    key = ["contact_id", "event_type", "created_at"]
    per = events.groupby("contact_id").first()
    q = pair_outcome(events, *key, "MQL", "SQL")
    q["region"] = per["region"].reindex(q.index)
    during = in_window(q["at"], INCIDENT_START, INCIDENT_END)
    emea = q["region"] == "EMEA"
    opp = pair_outcome(events, *key, "Opportunity Opened", "Closed Won")
    opp["size"] = per["company_size"].reindex(opp.index)
    lost = events.loc[events["event_type"] == "Closed Lost", "contact_id"].unique()
    opp["lost"] = opp.index.isin(lost)
    won = events.loc[events["event_type"] == "Closed Won", "contact_id"].unique()
    proposed = events.loc[events["event_type"] == "Proposal Sent", "contact_id"].unique()
    conv = per.assign(c=per.index.isin(won)).groupby("source")["c"].mean()
    return {
        "domain": "b2b_pipeline",
        "people": people,
        "events": len(events),
        "person_column": "contact_id",
        "conversion_event": "Closed Won",
        "revenue_column": "amount",
        "main_funnel": ["Lead Created", "MQL", "SQL", "Opportunity Opened", "Closed Won"],
        "optional_steps": {
            "Proposal Sent": "not in the main funnel: share of won deals with one "
                             f"{rounded(np.isin(won, proposed).mean())}",
            "Demo Requested": "about 0.4 of SQLs, between MQL and SQL"},
        "proposal_sent_in_main_funnel": False,
        "churn_event": None,
        "terminal_loss_event": "Closed Lost",
        "steps_after_conversion": ["Seat Activated"],
        "session_column": None,
        "session_rule": "a new session after 30 minutes without an event",
        "sessions_per_person": rounded(sessions_by_inactivity(events, "contact_id",
                                                              "created_at")),
        "incident": {
            "start": INCIDENT_START, "end": INCIDENT_END,
            "step_from": "MQL", "step_to": "SQL",
            "segment_column": "region", "segment_value": "EMEA",
            "co_moving_events": ["Lead Recycled"],
            "rate_normal": rounded(q.loc[emea & ~during, "passed"].mean()),
            "rate_during_in_segment": rounded(q.loc[emea & during, "passed"].mean()),
            "rate_normal_all": rounded(q.loc[~during, "passed"].mean()),
            "rate_during_all": rounded(q.loc[during, "passed"].mean()),
            "planted_rate": {"normal": SQL_GIVEN_MQL, "during": INCIDENT_SQL_RATE},
            "cause": "the EMEA SDR team is short-staffed; dated by the MQL",
        },
        "friction": {
            "step": "Opportunity Opened", "next_step": "Closed Won",
            "leavers_do": ["Closed Lost"],
            "segment_column": "company_size", "segment_value": "1000+",
            "lost_share_leavers": rounded(opp.loc[~opp["passed"], "lost"].mean()),
            "stall_rate_by_company_size": {s: rounded(1 - v) for s, v in
                                           opp.groupby("size")["passed"].mean().items()},
        },
        "channel_column": "source",
        "channel_conversion": dict(CHANNEL_CONVERSION),
        "channel_conversion_measured": {s: rounded(conv[s]) for s in SOURCES},
        "time_to_value": {"from": "Lead Created", "to": "Closed Won",
                          "median_days": median_days(events, *key, "Lead Created",
                                                     "Closed Won"),
                          "planted": "sum of uniform stage gaps (days): Lead->MQL 0.2-3, "
                                     "MQL->SQL 0.5-4, SQL->Opportunity 0.5-4, Opportunity->"
                                     "Proposal 1-5 (or 1-5 without), then 2-10 to close"},
    }
