"""Reading a question into a frame: hand-made vocabularies in three naming styles, no store."""

from __future__ import annotations

from datetime import date

import pytest

from agent.frame import Vocabulary, read_frame
from agent.periods import read_period

END = date(2026, 10, 31)  # a Saturday


def saas() -> Vocabulary:
    events = ["landing_view", "pricing_view", "signup", "trial_started", "onboarding_started",
              "first_report_created", "checkout_started", "subscription_started",
              "subscription_cancelled", "invite_teammate"]
    return Vocabulary(events=events, popularity={e: 100 - i for i, e in enumerate(events)},
                      end=END, conversion="subscription_started",
                      churn="subscription_cancelled", key_steps=events[:8],
                      stage_steps={"activation": "onboarding_started"},
                      devices=["desktop", "mobile"],
                      channels=["email", "organic_search", "paid_social", "referral"],
                      attribute_values={"plan": ["business", "starter", "team"],
                                        "company_size": ["1-10", "11-50", "201+", "51-200"],
                                        "country": ["DE", "US"]})


def shop() -> Vocabulary:
    events = ["Home Viewed", "Product Viewed", "Added To Cart", "Checkout Opened",
              "Payment Declined", "Order Completed", "Order Returned"]
    return Vocabulary(events=events, popularity={e: 100 - i for i, e in enumerate(events)},
                      end=date(2026, 6, 27), conversion="Order Completed", churn=None,
                      key_steps=events[1:4] + ["Order Completed"], stage_steps={},
                      devices=["Web", "iOS", "Android"],
                      channels=["Organic", "Google Ads", "Meta Ads", "Newsletter"],
                      attribute_values={"payment_method": ["apple_pay", "card", "paypal"]})


def b2b() -> Vocabulary:
    events = ["Lead Created", "MQL", "SQL", "Demo Requested", "Opportunity Opened",
              "Proposal Sent", "Closed Won", "Closed Lost"]
    return Vocabulary(events=events, popularity={e: 100 - i for i, e in enumerate(events)},
                      end=date(2026, 6, 28), conversion="Closed Won", churn=None,
                      key_steps=["Lead Created", "MQL", "SQL", "Opportunity Opened",
                                 "Closed Won"], stage_steps={}, devices=[],
                      channels=["Webinar", "Paid Search", "Partner"],
                      attribute_values={"region": ["APAC", "EMEA", "NA"],
                                        "company_size": ["1-50", "1000+", "201-1000"]})


@pytest.mark.parametrize("question, since, until", [
    ("why did signups drop in August?", "2026-08-01", "2026-08-31"),
    ("what happened in early June", "2026-06-01", "2026-06-10"),
    ("mid-march conversion", "2026-03-11", "2026-03-20"),
    ("late aug", "2026-08-21", "2026-08-31"),
    ("the past 30 days", "2026-10-02", "2026-10-31"),
    ("last 2 weeks", "2026-10-18", "2026-10-31"),
    ("Q3 churn", "2026-07-01", "2026-09-30"),
    ("Q4", "2026-10-01", "2026-10-31"),  # clipped at the data's end
    ("last quarter", "2026-07-01", "2026-09-30"),
    ("this year", "2026-01-01", "2026-10-31"),
    # The data end on 31 October: October is complete, so it is "last month".
    ("last month", "2026-10-01", "2026-10-31"),
    ("11-24 May", "2026-05-11", "2026-05-24"),
    ("between May 11 and May 24", "2026-05-11", "2026-05-24"),
    ("last week", "2026-10-19", "2026-10-25"),  # the last full week, Monday to Sunday
    ("in November", "2025-11-01", "2025-11-30"),  # the latest November by the data's end
    ("since April", "2026-04-01", "2026-10-31"),
    ("between 2026-03-01 and 2026-03-15", "2026-03-01", "2026-03-15"),
    ("the week of 17 August", "2026-08-17", "2026-08-23"),
    ("signups since August 17", "2026-08-17", "2026-10-31"),  # to the data's end
    ("what happened after the 17th of August", "2026-08-17", "2026-10-31"),
    ("signups on 17 August", "2026-08-17", "2026-08-17"),
])
def test_periods_are_read_relative_to_the_data_end(question, since, until):
    period = read_period(question, END)
    assert (period.since.isoformat(), period.until.isoformat()) == (since, until)


def test_may_the_verb_is_no_month():
    assert read_period("which customers may churn soon?", END) is None
    assert read_period("what happened in may", END).since == date(2026, 5, 1)


@pytest.mark.parametrize("vocabulary, question, steps", [
    (saas, "how many trials go on to paying?", ["trial_started", "subscription_started"]),
    (saas, "conversion from the pricing page to sign-up", ["pricing_view", "signup"]),
    (saas, "how long from signup to the first report", ["signup", "first_report_created"]),
    (saas, "where do people stall in activation", ["onboarding_started"]),
    (shop, "what share of people who added to basket reach the checkout step",
     ["Added To Cart", "Checkout Opened"]),
    (shop, "product views to orders", ["Product Viewed", "Order Completed"]),
    (b2b, "MQL to SQL rate", ["MQL", "SQL"]),
    (b2b, "how many opps turn into won deals", ["Opportunity Opened", "Closed Won"]),
])
def test_loose_words_resolve_to_the_stores_own_events(vocabulary, question, steps):
    assert read_frame(question, vocabulary()).steps == steps


def test_the_population_period_and_kind_of_answer():
    frame = read_frame("What do churned customers complain about in Q3?", saas())
    assert frame.asks == "feedback"
    assert frame.population == {"did": ["subscription_cancelled"]}
    assert frame.period["since"] == "2026-07-01"
    assert frame.steps == []  # 'churned' names the population, not a step
    assert "churned" in frame.population_label
    email = read_frame("where do people from email drop off?", saas())
    assert email.filters() == {"channel": "email"}
    big = read_frame("enterprise customers' conversion", b2b())
    assert big.population["where"] == {"company_size": "1000+"}
    emea = read_frame("why did MQL to SQL fall for EMEA in March", b2b())
    assert emea.asks == "reason_change" and emea.population["where"] == {"region": "EMEA"}


def test_before_and_after_a_day_is_two_periods_that_meet():
    for question in ("show me the journey before and after 17 August",
                     "the journey map since 2026-08-17 compared to before",
                     "journey before vs after August 17"):
        frame = read_frame(question, saas())
        assert frame.split_at == "2026-08-17", question
        assert "before vs from 2026-08-17" in frame.said()
    assert read_frame("signups since 17 August", saas()).split_at is None


def test_comparisons_become_a_breakdown_of_both_sides():
    frame = read_frame("iOS vs Android checkout conversion", shop())
    assert (frame.by, frame.compare) == ("device", ["iOS", "Android"])
    assert "device" not in frame.population  # both sides are wanted
    channels = read_frame("email versus organic search signups", saas())
    assert channels.by == "channel" and set(channels.compare) == {"email", "organic_search"}
    assert read_frame("funnel by plan", saas()).by == "plan"
    assert read_frame("conversion per region", b2b()).by == "region"


def test_what_is_asked():
    cases = {"which customers should we call this week?": "people",
             "what should we do next for customer C0000123?": "customer",
             "how long does it take to create a first report?": "duration",
             "which channel should get next quarter's budget?": "budget",
             "anything unusual recently?": "change",
             "why did orders drop in late April?": "reason_change",
             "what counts as a conversion here?": "model",
             "how many people signed up last month?": "count"}
    for question, asks in cases.items():
        assert read_frame(question, saas()).asks == asks, question
    assert read_frame("next for C0000123 please", saas()).customer_ids == ["C0000123"]
    assert read_frame("what happened in Q3 2026", saas()).customer_ids == []


def test_misspelt_words_are_read_as_the_data_words():
    from agent.spelling import correct, known_words

    known = known_words(["signup", "Order Completed"], ["Affiliate", "iOS"])
    text, notes = correct("whats the conversoin rate from affilate links in augst?", known)
    assert text == "whats the conversion rate from affiliate links in august?"
    assert len(notes) == 3
    # Words that are fine stay as they are, tenses of the data's words included.
    for fine in ("which customers should we call this week?", "people who create an order"):
        assert correct(fine, known) == (fine, [])


def test_english_words_are_not_misspelt_data_words():
    """"remembers" is a word, not "members"; a swap into a data word is still a typo."""
    from agent.spelling import correct, data_words, known_words

    events, values = ["trial_started", "signup"], ["team", "members"]
    known, data = known_words(events, values), data_words(events, values)
    assert correct("nobody on the team remembers it", known, data)[0] == (
        "nobody on the team remembers it")
    assert correct("trail to paid conversion", known, data)[0] == "trial to paid conversion"
    # A plural swapped into a data word, and a misspelt word of a question about a change.
    assert correct("why did trails colapse", known, data)[0] == "why did trials collapse"
    # The fewest edits among the close words: conversion, not converting.
    assert correct("checkout convertion", known, data)[0] == "checkout conversion"
    assert correct("does it make a diffrence", known, data)[0] == "does it make a difference"


def test_everyday_words_are_not_values_or_channels():
    """"nobody on the team" is no plan = team; "show up to webinars" is the step, not the
    Webinar channel, whose own leads ("webinar leads") still are."""
    f = read_frame("nobody on the team remembers launching anything: why did signups drop?",
                   saas())
    assert "where" not in f.population
    assert read_frame("churn for customers on the team plan", saas()).population["where"] == {
        "plan": "team"}
    b2b = Vocabulary(events=["Lead Created", "MQL", "SQL", "Webinar Attended", "Lead Recycled"],
                     popularity={}, end=END, conversion="SQL", churn=None, key_steps=[],
                     stage_steps={}, devices=[], channels=["Webinar", "Paid Search"],
                     attribute_values={})
    f = read_frame("MQLs that never made it to SQL: did they show up to webinars?", b2b)
    assert "channel" not in f.population
    assert read_frame("MQL to SQL for webinar leads", b2b).population["channel"] == ["Webinar"]
    f = read_frame("MQL to SQL funnel excluding leads that got recycled", b2b)
    assert f.exclude == ["Lead Recycled"] and f.steps == ["MQL", "SQL"]


@pytest.mark.parametrize("question, asks, steps, extra", [
    # Words that belong to a value are not steps; a step word is not a value.
    ("paid social vs referral, which converts better?", "comparison",
     ["subscription_started"], lambda f: f.by == "channel"),
    ("how many trials turn into paying customers?", "count",
     ["trial_started", "subscription_started"], lambda f: not f.population),
    ("Which plan has the worst churn?", "answer", ["subscription_cancelled"],
     lambda f: f.by == "plan"),
    ("Do German customers churn more than others?", "comparison", ["subscription_cancelled"],
     lambda f: f.by == "country" and f.compare == ["DE"]),
    ("who churned last quarter?", "list", [],
     lambda f: f.population["did"] == ["subscription_cancelled"]),
    ("of new signups, how many finish onboarding?", "count", ["signup", "onboarding_started"],
     lambda f: f.period is None),
    ("what happens to people who get a payment error?", "next", [], lambda f: True),
    ("which paths lead to a paid subscription?", "paths", ["subscription_started"],
     lambda f: True),
    ("where do deals get stuck?", "dropoff", [], lambda f: True),
    ("what should we do next for contact 0031100000670?", "customer", [],
     lambda f: f.customer_ids == ["0031100000670"]),
])
def test_what_is_asked_and_of_what(question, asks, steps, extra):
    frame = read_frame(question, saas())
    assert (frame.asks, frame.steps) == (asks, steps), frame
    assert extra(frame), frame


def test_a_value_that_is_a_question_word_needs_its_attribute_named():
    v = shop()
    v.attribute_values["lost_reason"] = ["Budget", "Timing"]
    assert "where" not in read_frame("which channel should get more budget?", v).population
    said = read_frame("deals lost for lost reason budget", v).population
    assert said["where"] == {"lost_reason": "Budget"}


@pytest.mark.parametrize("question, since, until", [
    ("signups fell off a cliff in late summer", "2026-08-01", "2026-08-31"),
    ("what changed this spring?", "2026-03-01", "2026-05-31"),
    ("last winter's renewals", "2025-12-01", "2026-02-28"),
    ("what changed in april and may?", "2026-04-01", "2026-05-31"),
    ("from november to february", "2025-11-01", "2026-02-28"),
    ("signups in the first week of June", "2026-06-01", "2026-06-07"),
    ("the last week of september", "2026-09-24", "2026-09-30"),
])
def test_seasons_month_ranges_and_weeks_of_a_month(question, since, until):
    period = read_period(question, END)
    assert (period.since.isoformat(), period.until.isoformat()) == (since, until)


def test_conversions_fall_is_a_verb_not_autumn():
    assert read_period("why do conversions fall off?", END) is None


def ranked(v: Vocabulary, stages: dict[str, int]) -> Vocabulary:
    v.stage_rank = stages
    return v


def test_two_steps_without_a_direction_are_read_in_journey_order():
    b = b2b()
    frame = read_frame("which industries win the most opportunities?", b)
    assert frame.steps == ["Opportunity Opened", "Closed Won"]
    # Off the main journey: by stage, then by how many do each (a funnel narrows).
    v = ranked(saas(), {"signup": 2, "first_report_created": 2, "trial_started": 2})
    frame = read_frame("share with a first report inside a week of signup", v)
    assert frame.steps == ["signup", "first_report_created"] and frame.window_days == 7
    # A direction the question gives is kept: "X after Y" is Y, then X.
    frame = read_frame("who goes back to pricing after checkout?", saas())
    assert frame.steps[:2] == ["checkout_started", "pricing_view"]
    frame = read_frame("how long to create a first report after they sign up?", saas())
    assert frame.steps == ["signup", "first_report_created"]
    frame = read_frame("from checkout back to pricing", saas())
    assert frame.steps == ["checkout_started", "pricing_view"]


@pytest.mark.parametrize("question, days", [
    ("first report within a week of signup", 7),
    ("trial to paid within 14 days", 14),
    ("signup to first report in their first 30 days after joining", 30),
    ("signup to first report in the first week of June", None),
])
def test_a_conversion_window_is_read(question, days):
    assert read_frame(question, saas()).window_days == days


def test_a_step_word_before_conversion_measures_that_step():
    frame = read_frame("has android paywall conversion recovered?", ranked(
        Vocabulary(events=["paywall_shown", "trial_begun", "subscription_purchased"],
                   popularity={"paywall_shown": 3, "trial_begun": 2, "subscription_purchased": 1},
                   end=END, conversion="subscription_purchased", churn=None,
                   key_steps=["paywall_shown", "trial_begun", "subscription_purchased"],
                   stage_steps={}, devices=["android", "ios"], channels=[],
                   attribute_values={}), {}))
    assert frame.steps == ["paywall_shown"]


def test_hex_ids_and_channel_subscribers():
    assert read_frame("what should we do for user 0074f23c1927?", saas()).customer_ids == [
        "0074f23c1927"]
    frame = read_frame("Newsletter subscribers: how many who view a product order?", shop())
    assert frame.population.get("channel") == ["Newsletter"] and "did" not in frame.population


def test_an_attribute_named_with_matter_is_the_breakdown():
    frame = read_frame("does the payment method matter for finishing checkout?", shop())
    assert frame.by == "payment_method"


@pytest.mark.parametrize("vocabulary, question, step, anchor, within, per_session", [
    (shop, "what do shoppers do before they order?", "Order Completed", "before", None, False),
    (shop, "what paths do people take after abandoning their cart?", "Added To Cart",
     "dropped_after", None, False),
    (shop, "paths of visitors who never reached checkout", "Checkout Opened", "dropped_at",
     None, False),
    (shop, "what happens in the 10 minutes after someone views a product?", "Product Viewed",
     "after", 600, False),
    (b2b, "which steps lead up to a closed won deal within 30 days?", "Closed Won", "before",
     30 * 86400, False),
    (saas, "most common paths within a single session", None, None, None, True),
])
def test_paths_around_a_step_are_read(vocabulary, question, step, anchor, within, per_session):
    frame = read_frame(question, vocabulary())
    assert frame.asks == "paths", frame.said()
    assert (frame.steps[:1] or [None])[0] == step, frame.said()
    assert (frame.path_anchor, frame.within_seconds, frame.per_session) == (
        anchor, within, per_session), frame.said()


def test_leavers_who_quit_a_step_are_not_churned_customers():
    # Without a path word, what leavers do is the leavers' friction (shares of what they did).
    assert read_frame("what do people who leave at checkout do?", saas()).path_anchor is None
    frame = read_frame("what paths did users who quit before paying take?", saas())
    assert frame.path_anchor == "dropped_at" and not frame.population.get("did")
    assert "paths of those who never reached subscription_started" in frame.said()
    churned = read_frame("the journeys of churned customers who left after onboarding",
                         saas())
    assert churned.population.get("did") == ["subscription_cancelled"]


@pytest.mark.parametrize("vocabulary, question, asks, steps, extra", [
    (saas, "How many subscriptions were cancelled last month?", "count",
     ["subscription_cancelled"], {}),
    (saas, "total booked revenue to date?", "count", ["subscription_started"], {}),
    (saas, "landing to pricing to paid but strip out anyone who did invite teammate", "answer",
     ["landing_view", "pricing_view", "subscription_started"], {"exclude": ["invite_teammate"]}),
    (b2b, "MQL -> SQL -> opp funnel, excluding leads that got recycled", "answer",
     ["MQL", "SQL", "Opportunity Opened"], {}),
    (saas, "what happened to the people who started checkout but never ended up subscribing?",
     "leavers", ["checkout_started", "subscription_started"], {}),
    (shop, "ATC to checkout to order", "answer",
     ["Added To Cart", "Checkout Opened", "Order Completed"], {}),
])
def test_counts_exclusions_and_leavers_in_new_words(vocabulary, question, asks, steps, extra):
    frame = read_frame(question, vocabulary())
    assert frame.asks == asks and frame.steps == steps, frame.said()
    for key, value in extra.items():
        assert getattr(frame, key) == value, frame.said()
    assert not frame.population.get("did"), frame.said()


def test_the_same_session_holds_the_session_and_pre_conversion_paths():
    frame = read_frame("product view to cart to checkout to order, all in the same session",
                       shop())
    assert frame.hold == "session" and not frame.per_session and len(frame.steps) == 4
    pre = read_frame("pre-conversion path into Order Completed?", shop())
    assert pre.asks == "paths" and pre.path_anchor == "before", pre.said()
    excluded = read_frame("MQL -> SQL -> opp funnel, excluding leads that got recycled", b2b())
    assert excluded.steps == ["MQL", "SQL", "Opportunity Opened"], excluded.said()


def test_the_conversion_word_stands_where_the_paid_step_is_named():
    # "conversion" and "paid" name the same step: its place is "paid", after the landing page.
    frame = read_frame("what's the conversion rate from landing page to paid?", saas())
    assert frame.steps == ["landing_view", "subscription_started"] and frame.asks == "rate"
    frame = read_frame("conversion from pricing to paid", saas())
    assert frame.steps == ["pricing_view", "subscription_started"]


def test_an_attribute_of_two_words_said_in_words_is_the_breakdown():
    app = Vocabulary(events=["paywall_shown", "trial_begun"],
                     popularity={"paywall_shown": 2, "trial_begun": 1}, end=END,
                     conversion="trial_begun", churn=None, key_steps=["paywall_shown",
                                                                      "trial_begun"],
                     stage_steps={}, devices=["ios", "android"], channels=["organic"],
                     attribute_values={"app_version": ["4.1.3", "4.2.0"]})
    assert read_frame("was it one particular app version?", app).by == "app_version"
    assert read_frame("paywall to trial by app version", app).by == "app_version"


def test_what_those_people_wrote_asks_for_their_words():
    assert read_frame("can you show me what those people wrote to us?", saas()).asks == \
        "feedback"


@pytest.mark.parametrize("question", [
    "can you show me what those people wrote to us?", "and last month?",
    "was it one particular app version?", "how bad did it get in EMEA exactly?"])
def test_follow_ups_in_other_words(question):
    from agent.planner import is_follow_up

    assert is_follow_up(question)


def test_a_question_of_its_own_is_no_follow_up():
    from agent.planner import is_follow_up

    assert not is_follow_up("could you show me the conversion from pricing to signup by device "
                            "for the whole of last quarter?")


def test_what_the_speaker_says_about_themselves_is_not_the_question():
    frame = read_frame("Sorry, I only joined the team last week. How many people start a trial "
                       "and end up paying?", saas())
    assert frame.period is None and frame.by is None and frame.compare == []
    assert frame.steps == ["trial_started", "subscription_started"]


def test_who_will_use_the_answer_is_not_a_step():
    # "sales" would be the conversion step; here it is the team that follows up.
    frame = read_frame("list the people who signed up in October so sales can follow up", saas())
    assert frame.steps == ["signup"] and frame.period["since"] == "2026-10-01"


def test_landed_on_the_site_is_the_landing_step():
    frame = read_frame("of everyone who landed on the site in Q3, how many got as far as the "
                       "pricing page?", saas())
    assert frame.steps == ["landing_view", "pricing_view"]
    assert (frame.period["since"], frame.period["until"]) == ("2026-07-01", "2026-09-30")


def test_how_long_after_a_step_to_another_is_a_duration():
    frame = read_frame("what happens after they start a free trial? how many end up paying, and "
                       "how long does that take?", saas())
    assert frame.asks == "duration" and frame.steps == ["trial_started", "subscription_started"]


def test_leads_that_got_recycled_is_the_recycled_step_and_pulling_them_is_a_list():
    b2b = Vocabulary(events=["Lead Created", "MQL", "SQL", "Lead Recycled", "Closed Won"],
                     popularity={"Lead Created": 5, "MQL": 4, "SQL": 3, "Lead Recycled": 2,
                                 "Closed Won": 1}, end=date(2026, 6, 28),
                     conversion="Closed Won", churn=None,
                     key_steps=["Lead Created", "MQL", "SQL", "Closed Won"], stage_steps={},
                     devices=[], channels=["Paid Search", "Partner"],
                     attribute_values={"region": ["AMER", "APAC", "EMEA"]})
    frame = read_frame("Can you pull the EMEA leads that got recycled in March so the SDRs can "
                       "re-engage them?", b2b)
    assert frame.steps == ["Lead Recycled"] and frame.asks == "list"
    assert frame.population["where"] == {"region": "EMEA"}


def test_why_a_step_is_falling_in_a_period_asks_what_changed():
    assert read_frame("why are checkouts falling in april?", shop()).asks == "reason_change"
    # Without a period it is why people leave there.
    assert read_frame("why do people leave at checkout?", shop()).asks == "reason"
