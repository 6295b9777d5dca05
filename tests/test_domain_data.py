"""The domain generators themselves: deterministic, well-formed, and their planted effects are
really in the raw frames. Measured here with plain pandas, apart from the generators' own helpers,
so a slip in those helpers cannot hide a missing effect."""

from __future__ import annotations

import json
import time
from datetime import date
from functools import cache

import pandas as pd
import pytest

from sample_data.domains import DOMAINS, generate_domain, write_domain

# The SaaS demo's vocabulary: the domains must share none of it.
SAAS_EVENTS = {
    "login", "report_created", "ad_click", "landing_view", "search_visit", "features_view",
    "pricing_view", "email_click", "referral_visit", "trial_started", "signup",
    "onboarding_started", "invoice_paid", "onboarding_completed", "first_report_created",
    "case_study_view", "plan_selected", "checkout_started", "trial_expired",
    "subscription_started", "invite_teammate", "subscription_cancelled", "payment_failed",
    "billing_page_view", "payment_error", "signup_error"}
# person, event name and time columns of each export, as the domain's tool writes them.
COLUMNS = {"shop": ("anonymous_id", "event", "event_time"),
           "subscription_app": ("distinct_id", "event_name", "time"),
           "b2b_pipeline": ("contact_id", "event_type", "created_at")}
ID_COLUMN = {"shop": "event_id", "subscription_app": "event_id", "b2b_pipeline": "id"}
TRUTH_KEYS = {"domain", "conversion_event", "main_funnel", "churn_event",
              "steps_after_conversion", "session_column", "sessions_per_person", "incident",
              "friction", "channel_column", "channel_conversion", "time_to_value"}
INCIDENT_KEYS = {"start", "end", "step_from", "step_to", "segment_column", "segment_value",
                 "co_moving_events", "rate_normal", "rate_during_in_segment"}


@cache
def _generated(name):
    """Each domain at its defaults, generated once for the whole module, and how long it took."""
    began = time.perf_counter()
    data = generate_domain(name)
    return data, time.perf_counter() - began


@pytest.fixture(scope="module", params=DOMAINS)
def domain(request):
    data, seconds = _generated(request.param)
    return request.param, data, seconds


def _frame(name, data):
    if data is _generated(name)[0]:
        return _default_frame(name).copy()
    return _read(name, data)


@cache
def _default_frame(name):
    return _read(name, _generated(name)[0])


def _read(name, data):
    events = data.files["events"].copy()
    person, event, at = COLUMNS[name]
    events["_p"], events["_e"] = events[person], events[event]
    events["_t"] = pd.to_datetime(events[at], utc=True)
    return events


def _first(events, name):
    rows = events[events["_e"] == name]
    return rows.groupby("_p")["_t"].min()


def _pair(events, a, b):
    """Per person who did `a`: its first time and whether `b` came after it."""
    first_a = _first(events, a)
    first_b = _first(events, b).reindex(first_a.index)
    return pd.DataFrame({"at": first_a, "passed": first_b.notna() & (first_b > first_a)})


def _during(at, incident):
    lo = pd.Timestamp(incident["start"], tz="UTC")
    hi = pd.Timestamp(incident["end"], tz="UTC") + pd.Timedelta(days=1)
    return (at >= lo) & (at < hi)


def _se(rate, n):
    """Standard error of a share measured on n people."""
    return (rate * (1 - rate) / max(n, 1)) ** 0.5


def _person_value(events, column):
    return events.groupby("_p")[column].first()


def test_the_api_names_three_domains_and_refuses_others():
    assert DOMAINS == ("shop", "subscription_app", "b2b_pipeline")
    with pytest.raises(ValueError, match="shop"):
        generate_domain("bakery")


def test_same_seed_same_data_other_seed_other_data():
    for name in DOMAINS:
        a, b = generate_domain(name, seed=3, people=600), generate_domain(name, seed=3, people=600)
        assert a.files.keys() == b.files.keys()
        for kind in a.files:
            pd.testing.assert_frame_equal(a.files[kind], b.files[kind])
        assert a.truth == b.truth
        c = generate_domain(name, seed=4, people=600)
        assert not a.files["events"].equals(c.files["events"])
        assert a.truth["people"] == 600


def test_size_speed_and_shape_at_the_defaults(domain):
    name, data, seconds = domain
    events = data.files["events"]
    assert seconds < 3.0
    assert 3000 <= data.truth["people"] <= 5000
    assert 10_000 <= len(events) <= 150_000
    assert events[ID_COLUMN[name]].is_unique and events[ID_COLUMN[name]].notna().all()
    at = events[COLUMNS[name][2]]
    assert at.str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z").all()
    assert at.min() >= "2026-02-09" and at.max() < "2026-06-29"
    # Each person's events are strictly ordered in time: nothing rests on a tie-breaker.
    ev = _frame(name, data).sort_values(["_p", "_t"])
    assert (ev.groupby("_p")["_t"].diff().dropna() > pd.Timedelta(0)).all()


def test_the_vocabulary_is_the_domains_own(domain):
    name, data, _ = domain
    names = set(data.files["events"][COLUMNS[name][1]].unique())
    assert not names & SAAS_EVENTS
    assert not {n.lower().replace(" ", "_") for n in names} & SAAS_EVENTS
    assert not set(data.files["events"].columns) & {"customer_id", "timestamp", "channel",
                                                    "device", "properties"}


def test_files_and_truth_are_written(domain, tmp_path):
    name, data, _ = domain
    paths = write_domain(name, tmp_path, seed=5, people=800)
    assert set(paths) == set(data.files) | {"truth"}
    truth = json.loads(paths["truth"].read_text(encoding="utf-8"))
    assert set(truth) == set(data.truth) and truth["people"] == 800 and truth["seed"] == 5
    read = pd.read_csv(paths["events"])
    assert len(read) == truth["events"]
    assert list(read.columns) == list(data.files["events"].columns)
    if "customers" in paths:
        customers = pd.read_csv(paths["customers"])
        assert list(customers.columns) == list(data.files["customers"].columns)
        assert len(customers) > 0


def test_truth_has_every_key_and_agrees_with_itself(domain):
    name, data, _ = domain
    truth = data.truth
    assert TRUTH_KEYS <= set(truth) and truth["domain"] == name
    assert INCIDENT_KEYS <= set(truth["incident"])
    assert truth["main_funnel"][-1] == truth["conversion_event"]
    names = set(data.files["events"][COLUMNS[name][1]])
    for step in [*truth["main_funnel"], *truth["steps_after_conversion"],
                 *truth["incident"]["co_moving_events"], *truth["friction"]["leavers_do"]]:
        assert step in names, step
    start, end = (date.fromisoformat(truth["incident"][k]) for k in ("start", "end"))
    assert start.weekday() == 0 and end.weekday() == 6
    probabilities = list(truth["channel_conversion"].values())
    assert probabilities == sorted(probabilities, reverse=True)
    for column in (truth["channel_column"], truth["incident"]["segment_column"],
                   truth["friction"]["segment_column"]):
        assert column in data.files["events"].columns


def test_the_main_funnel_is_what_converters_pass_in_order(domain):
    name, data, _ = domain
    events, truth = _frame(name, data), data.truth
    converted = _first(events, truth["conversion_event"])
    firsts = [_first(events, step).reindex(converted.index) for step in truth["main_funnel"]]
    for step, at in zip(truth["main_funnel"], firsts):
        assert (at.notna() & (at <= converted)).mean() >= 0.9, step
    medians = [(at - converted).dt.total_seconds().median() for at in firsts]
    assert medians == sorted(medians)
    # Optional steps stay optional: fewer than half of the converters pass them.
    for step in truth.get("optional_steps", {}):
        if step in ("Home Viewed", "Catalog Viewed", "onboarding_viewed"):
            continue  # common but not required: shown to many, needed by none
        before = _first(events, step).reindex(converted.index)
        assert (before.notna() & (before < converted)).mean() < 0.5, step


def test_steps_after_conversion_come_after_it(domain):
    name, data, _ = domain
    events, truth = _frame(name, data), data.truth
    converted = events["_p"].map(_first(events, truth["conversion_event"]))
    for step in truth["steps_after_conversion"]:
        rows = events["_e"] == step
        assert (events.loc[rows, "_t"] > converted[rows]).mean() > 0.7, step
    churn = truth["churn_event"]
    if churn:
        rows = events["_e"] == churn
        assert (events.loc[rows, "_t"] > converted[rows]).all()


def test_the_incident_moves_its_step_in_its_segment_and_its_window(domain):
    name, data, _ = domain
    events, incident = _frame(name, data), data.truth["incident"]
    pair = _pair(events, incident["step_from"], incident["step_to"])
    during = _during(pair["at"], incident)
    segment = _person_value(events, incident["segment_column"]).reindex(pair.index)
    inside = segment == incident["segment_value"]
    normal, broken = pair.loc[inside & ~during, "passed"].mean(), pair.loc[
        inside & during, "passed"].mean()
    assert normal - broken >= 0.30
    assert (normal, broken) == pytest.approx((incident["rate_normal"],
                                              incident["rate_during_in_segment"]), abs=1e-4)
    assert pair.loc[~during, "passed"].mean() - pair.loc[during, "passed"].mean() >= 0.10
    # Outside the segment nothing happened.
    other = pair.loc[~inside & during, "passed"]
    other_normal = pair.loc[~inside & ~during, "passed"].mean()
    assert abs(other.mean() - other_normal) < max(0.08, 3 * _se(other_normal, len(other)))
    # The co-moving events are several times as frequent per day in the window.
    ev_during = _during(events["_t"], incident)
    days_in = (pd.Timestamp(incident["end"]) - pd.Timestamp(incident["start"])).days + 1
    span = (events["_t"].max() - events["_t"].min()).days + 1
    for e in incident["co_moving_events"]:
        rows = events["_e"] == e
        rate_in = (rows & ev_during).sum() / days_in
        rate_out = (rows & ~ev_during).sum() / (span - days_in)
        assert rate_in > 2 * rate_out, e


def test_other_step_rates_stay_level_week_to_week(domain):
    """No trend anywhere else: the first and second halves agree on every funnel pair."""
    name, data, _ = domain
    events, truth = _frame(name, data), data.truth
    incident = truth["incident"]
    funnel = truth["main_funnel"]
    for a, b in zip(funnel, funnel[1:]):
        pair = _pair(events, a, b)
        pair = pair[~_during(pair["at"], incident)] if (a, b) == (
            incident["step_from"], incident["step_to"]) else pair
        mid = pair["at"].median()
        early, late = pair.loc[pair["at"] < mid, "passed"], pair.loc[pair["at"] >= mid, "passed"]
        tolerance = max(0.06, 4 * _se(pair["passed"].mean(), len(pair) / 2) * 2 ** 0.5)
        assert abs(early.mean() - late.mean()) < tolerance, (a, b, early.mean(), late.mean())


def test_friction_leavers_do_the_planted_thing_most_in_the_planted_segment(domain):
    name, data, _ = domain
    events, friction = _frame(name, data), data.truth["friction"]
    incident = data.truth["incident"]
    pair = _pair(events, friction["step"], friction["next_step"])
    pair = pair[~_during(pair["at"], incident)]
    for e in friction["leavers_do"]:
        did = pair.index.isin(events.loc[events["_e"] == e, "_p"].unique())
        assert did[~pair["passed"].to_numpy()].mean() > 0.5
        assert did[~pair["passed"].to_numpy()].mean() > 3 * did[pair["passed"].to_numpy()].mean()
    segment = _person_value(events, friction["segment_column"]).reindex(pair.index)
    leave = 1 - pair.groupby(segment)["passed"].mean()
    assert leave.idxmax() == friction["segment_value"]
    assert leave.max() - leave.drop(friction["segment_value"]).max() >= 0.1


def test_channels_convert_in_the_planted_order(domain):
    name, data, _ = domain
    events, truth = _frame(name, data), data.truth
    channel = _person_value(events, truth["channel_column"])
    converted = channel.index.isin(_first(events, truth["conversion_event"]).index)
    measured = pd.Series(converted, index=channel.index).groupby(channel).mean()
    planted = list(truth["channel_conversion"])
    assert set(measured.index) == set(planted)
    assert measured.idxmax() == planted[0] and measured.idxmin() == planted[-1]
    assert measured[planted[0]] > 2 * measured[planted[-1]]
    # Spearman's rho, as the correlation of the ranks.
    planted_rank = pd.Series(range(1, len(planted) + 1), index=planted, dtype=float)
    assert measured.rank(ascending=False).corr(planted_rank) >= 0.8


def test_sessions_and_time_to_value_match_the_truth(domain):
    name, data, _ = domain
    events, truth = _frame(name, data), data.truth
    if truth["session_column"]:
        column = truth["session_column"]
        assert events.groupby(column)["_p"].nunique().max() == 1  # a visit is one person's
        assert events.groupby("_p")[column].nunique().mean() == pytest.approx(
            truth["sessions_per_person"], abs=1e-3)
        assert truth["sessions_per_person"] > 2
        # Visits are what a 30-minute rule would find too.
        ordered = events.sort_values(["_p", "_t"])
        gap = ordered.groupby("_p")["_t"].diff()
        new_visit = ordered[column] != ordered.groupby("_p")[column].shift()
        assert (gap[new_visit & gap.notna()] > pd.Timedelta(minutes=30)).all()
        assert (gap[~new_visit] <= pd.Timedelta(minutes=30)).all()
    else:
        ordered = events.sort_values(["_p", "_t"])
        gap = ordered.groupby("_p")["_t"].diff()
        starts = gap.isna() | (gap > pd.Timedelta(minutes=30))
        assert starts.sum() / ordered["_p"].nunique() == pytest.approx(
            truth["sessions_per_person"], abs=1e-3)
    ttv = truth["time_to_value"]
    a, b = _first(events, ttv["from"]), _first(events, ttv["to"])
    days = ((b - a.reindex(b.index)).dt.total_seconds() / 86_400).median()
    assert days == pytest.approx(ttv["median_days"], abs=1e-3)


def test_the_app_pricing_test_and_the_broken_release():
    data = _generated("subscription_app")[0]
    events, truth = _frame("subscription_app", data), data.truth
    test = truth["pricing_test"]
    variant = _person_value(events, "price_variant")
    assert variant.value_counts(normalize=True).between(0.45, 0.55).all()
    pair = _pair(events, test["step_from"], test["step_to"])
    by = pair.groupby(variant.reindex(pair.index))["passed"].mean()
    assert by["A"] - by["B"] >= 0.12
    paid = events[events["_e"] == "subscription_purchased"]
    assert set(paid.groupby("price_variant")["price"].first()) == {9.99, 14.99}
    churn = truth["churn"]
    assert churn["canceled_share_of_subscribers"]["B"] > churn[
        "canceled_share_of_subscribers"]["A"] + 0.1
    broken = events[events["app_version"] == "4.2.0"]
    assert set(broken["os"]) == {"android"} and _during(broken["_t"], truth["incident"]).all()
    assert set(data.files["customers"].columns) == {"distinct_id", "created_at", "country"}


def test_the_pipeline_closes_once_and_big_companies_stall():
    data = _generated("b2b_pipeline")[0]
    events = _frame("b2b_pipeline", data)
    won = set(events.loc[events["_e"] == "Closed Won", "_p"])
    lost = set(events.loc[events["_e"] == "Closed Lost", "_p"])
    assert not won & lost
    assert events.loc[events["_e"] == "Closed Won", "amount"].notna().all()
    customers = data.files["customers"]
    assert set(customers.columns) == {"contact_id", "company", "industry", "country", "email"}
    assert set(events["contact_id"]) <= set(customers["contact_id"])
    assert data.truth["friction"]["stall_rate_by_company_size"]["1000+"] == max(
        data.truth["friction"]["stall_rate_by_company_size"].values())
