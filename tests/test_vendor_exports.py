"""Every vendor's export loads as the vendor writes it, with no option.

The fixtures in tests/fixtures/vendors were written from the vendors' public export schemas by a
generator that never read the product's code (make_fixtures.py); truth.json holds what its own
simulation knows: people after stitching, funnel counts, first-touch channels, devices,
countries, and one known person to the millisecond. Each test loads a file through the ingest
tool, as `journey ingest` does, and checks the product recovers those truths.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analytics.store import EventStore
from tools.base import ToolContext
from tools.registry import call_tool

FIXTURES = Path(__file__).parent / "fixtures" / "vendors"
TRUTH = json.loads((FIXTURES / "truth.json").read_text(encoding="utf-8"))

# The funnel of truth.json (landing page, pricing page, sign-up, purchase) in each vendor's words.
STEPS = {
    "mixpanel": ["$mp_web_page_view[$current_url=https://example.com/]",
                 "$mp_web_page_view[$current_url=https://example.com/pricing]", "Sign Up",
                 "Purchase"],
    "amplitude": ["Viewed Page[page_path=/]", "Viewed Page[page_path=/pricing]", "sign_up",
                  "purchase_completed"],
    "segment": ["Page Viewed[path=/]", "Page Viewed[path=/pricing]", "Signed Up",
                "Order Completed"],
    "ga4": ["page_view[page_location=https://example.com/]",
            "page_view[page_location~/pricing]", "sign_up", "purchase"],
    "posthog": ["$pageview[$pathname=/]", "$pageview[$pathname=/pricing]", "user signed up",
                "purchase"],
}
# The property each vendor keeps the country in (the product also stores it as `country`).
COUNTRY_PROPERTY = {"mixpanel": "mp_country_code", "amplitude": "country", "segment": "country",
                    "ga4": "country", "posthog": "$geoip_country_code"}
IDENTITY_CALLS = {"amplitude": "$identify", "posthog": "$identify"}


def _ok(result):
    assert result.ok, result.content
    return result.result


def _load(ctx: ToolContext, kind: str, name: str, **args):
    return _ok(call_tool(ctx, "ingest", {"kind": kind, "paths": [str(FIXTURES / name)], **args}))


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """vendor -> (context, load report), each vendor in a store of its own."""
    out = {}
    for vendor in STEPS:
        ctx = ToolContext(EventStore(tmp_path_factory.mktemp(vendor)))
        out[vendor] = (ctx, _load(ctx, "events", TRUTH[vendor]["file"]))
    return out


@pytest.mark.parametrize("vendor", list(STEPS))
def test_export_loads_with_no_option_and_says_how_it_was_read(loaded, vendor):
    truth = TRUTH[vendor]
    _, report = loaded[vendor]
    file = report.files[0]
    assert file.preset == vendor
    assert file.rows_read == truth["events_total"]
    assert file.identity_calls == truth["identify_or_alias_rows"]
    assert file.rows_duplicate_in_file == truth["duplicate_rows"]
    assert file.rows_rejected == 0
    assert (file.rows_loaded + file.identity_calls + file.rows_duplicate_in_file
            == file.rows_read)
    assert file.columns["timestamp"] and file.columns["event_name"]


@pytest.mark.parametrize("vendor", list(STEPS))
def test_people_are_stitched_across_devices(loaded, vendor):
    ctx, _ = loaded[vendor]
    status = _ok(call_tool(ctx, "describe_data"))
    assert status.people == TRUTH[vendor]["people"]
    # The people who signed up are the identified ones; the rest stayed anonymous.
    assert status.people - status.anonymous_people == TRUTH[vendor]["signed_up_people"]
    # Identity calls link people; they are not steps of anyone's journey.
    names = [e.event_name for e in status.event_names]
    assert not {"$identify", "identify", "$create_alias"} & set(names)


@pytest.mark.parametrize("vendor", list(STEPS))
def test_funnel_with_page_filters_gives_the_true_counts(loaded, vendor):
    ctx, _ = loaded[vendor]
    result = _ok(call_tool(ctx, "funnel", {"steps": STEPS[vendor]}))
    assert [s.customers for s in result.steps] == TRUTH[vendor]["funnel"]["counts"]


@pytest.mark.parametrize("vendor", list(STEPS))
def test_channels_are_found_for_attribution(loaded, vendor):
    ctx, _ = loaded[vendor]
    truth = TRUTH[vendor]["channels"]
    result = _ok(call_tool(ctx, "attribution", {"conversion_event": STEPS[vendor][2]}))
    assert {c.channel for c in result.channels} == set(truth)
    # People by first-touch channel, as the channel breakdown counts them.
    by_channel = _ok(call_tool(ctx, "funnel", {"steps": STEPS[vendor][:2], "by": "channel"}))
    counted = {g.group: g.steps[0].customers for g in by_channel.groups if g.group != "(none)"}
    assert counted == truth


@pytest.mark.parametrize("vendor", list(STEPS))
def test_event_properties_break_down_and_filter(loaded, vendor):
    ctx, _ = loaded[vendor]
    truth = TRUTH[vendor]["countries"]
    for by in ("country", COUNTRY_PROPERTY[vendor]):
        result = _ok(call_tool(ctx, "funnel", {"steps": STEPS[vendor][:2], "by": by}))
        assert {g.group: g.steps[0].customers for g in result.groups} == truth
        assert "first event that has it" in result.definitions["attribute"]
    country, people = max(truth.items(), key=lambda kv: kv[1])
    filtered = _ok(call_tool(ctx, "funnel", {
        "steps": STEPS[vendor][:2], "filters": {"where": {COUNTRY_PROPERTY[vendor]: country}}}))
    assert filtered.steps[0].customers == people


@pytest.mark.parametrize("vendor", list(STEPS))
def test_devices_come_from_where_the_vendor_keeps_them(loaded, vendor):
    ctx, _ = loaded[vendor]
    result = _ok(call_tool(ctx, "funnel", {"steps": STEPS[vendor][:2], "by": "device"}))
    assert {g.group: g.steps[0].customers for g in result.groups} == TRUTH[vendor]["devices"]


@pytest.mark.parametrize("vendor", list(STEPS))
def test_known_person_first_event_to_the_millisecond(loaded, vendor):
    ctx, _ = loaded[vendor]
    known = TRUTH[vendor]["known_person"]
    with ctx.store.reader() as con:
        rows = con.execute("""
            SELECT event_name, strftime(ts, '%Y-%m-%dT%H:%M:%S.%g') || 'Z' FROM person_events
            WHERE person_id = ? ORDER BY ts, event_id""", [known["user_id"]]).fetchall()
    assert len(rows) == known["events"]
    first_name = {"page": "Page Viewed"}.get(known["first_event_name"], known["first_event_name"])
    assert rows[0] == (first_name, known["first_event_time_utc"])


def test_loading_the_same_export_again_adds_nothing(loaded, tmp_path):
    ctx, _ = loaded["posthog"]
    again = _load(ctx, "events", TRUTH["posthog"]["file"]).files[0]
    assert again.rows_loaded == 0 and again.rows_rejected == 0
    assert _ok(call_tool(ctx, "describe_data")).people == TRUTH["posthog"]["people"]


def test_gzip_and_forced_format(tmp_path):
    """A .gz loads as is; --format forces a vendor, and refuses a file of another shape."""
    ctx = ToolContext(EventStore(tmp_path / "h"))
    report = _load(ctx, "events", "amplitude.json.gz", format="amplitude").files[0]
    assert report.preset == "amplitude" and report.rows_rejected == 0
    wrong = call_tool(ctx, "ingest", {"kind": "events", "format": "segment",
                                      "paths": [str(FIXTURES / "ga4.jsonl")]})
    assert not wrong.ok and "does not look like a Segment archive" in wrong.content


# -- CRM, helpdesk and survey exports ---------------------------------------------------------


@pytest.fixture(scope="module")
def crm(tmp_path_factory):
    """Segment events, then HubSpot contacts and deals (Berlin local time), Zendesk tickets and a
    Typeform NPS survey, in one store."""
    home = tmp_path_factory.mktemp("crm")
    ctx = ToolContext(EventStore(home))
    _load(ctx, "events", "segment.jsonl")
    reports = {
        "contacts": _load(ctx, "customers", "hubspot_contacts.csv", timezone="Europe/Berlin"),
        "deals": _load(ctx, "deals", "hubspot_deals.csv", timezone="Europe/Berlin"),
        "tickets": _load(ctx, "feedback", "zendesk_tickets.csv"),
        "survey": _load(ctx, "feedback", "typeform_nps.csv"),
    }
    return ctx, reports


def test_hubspot_contacts_join_the_events_by_email(crm):
    ctx, reports = crm
    truth = TRUTH["hubspot"]
    assert reports["contacts"].files[0].people_joined == truth["contacts_matching_segment_people"]
    with ctx.store.reader() as con:
        joined = con.execute("SELECT count(*) FROM customers WHERE customer_id IN (SELECT "
                             "customer_id FROM events WHERE NOT starts_with(event_id, 'deal:'))"
                             ).fetchone()[0]
        known = con.execute("""
            SELECT strftime(signup_at, '%Y-%m-%dT%H:%M:%S.%g') || 'Z',
                   json_extract_string(attributes, '$.crm_id') FROM customers
            WHERE json_extract_string(attributes, '$.email') = ?""",
            [truth["known_contact"]["email"]]).fetchone()
    assert joined == truth["contacts_matching_segment_people"]
    assert known[0] == truth["known_contact"]["create_date_utc"]  # Berlin summer time, read so
    assert known[1]  # HubSpot's record id is kept
    # Loading the export again resolves the same way, so nothing is added.
    again = _load(ctx, "customers", "hubspot_contacts.csv", timezone="Europe/Berlin")
    assert again.files[0].rows_loaded == 0 and again.files[0].rows_already_loaded == 28


def test_contacts_loaded_before_the_events_join_when_the_events_arrive(tmp_path):
    ctx = ToolContext(EventStore(tmp_path / "h"))
    _load(ctx, "customers", "hubspot_contacts.csv")
    report = _load(ctx, "events", "segment.jsonl")
    assert any("now join these events by e-mail" in n for n in report.files[0].notes)
    with ctx.store.reader() as con:
        joined = con.execute("SELECT count(*) FROM customers WHERE customer_id IN "
                             "(SELECT customer_id FROM events)").fetchone()[0]
    assert joined == TRUTH["hubspot"]["contacts_matching_segment_people"]


def test_deals_are_their_own_kind_and_steps_of_the_journey(crm):
    ctx, reports = crm
    truth = TRUTH["hubspot"]
    assert reports["deals"].files[0].rows_loaded == truth["deals"]
    with ctx.store.reader() as con:
        stages = dict(con.execute("SELECT stage, count(*) FROM deals GROUP BY 1").fetchall())
        won = con.execute("SELECT sum(amount) FROM deals WHERE stage = 'closedwon'").fetchone()[0]
        steps = dict(con.execute("SELECT event_name, count(*) FROM events "
                                 "WHERE event_name LIKE 'deal_%' GROUP BY 1").fetchall())
        unjoined = con.execute("SELECT count(*) FROM deals WHERE customer_id LIKE '%@%'"
                               ).fetchone()[0]
    assert stages == truth["deals_by_stage"]
    assert won == truth["won_amount_total"]
    assert steps == {"deal_created": truth["deals"], "deal_won": stages["closedwon"],
                     "deal_lost": stages["closedlost"]}
    assert unjoined == 0
    stage_map = _ok(call_tool(ctx, "describe_data"))
    placed = {e.event_name: e.stage for e in stage_map.event_names}
    assert placed["deal_won"] == "purchase" and placed["deal_created"] == "evaluation"


def test_zendesk_type_is_kept_and_never_read_as_the_source(crm):
    ctx, reports = crm
    file = reports["tickets"].files[0]
    assert file.rows_loaded == TRUTH["zendesk"]["tickets"]
    assert file.people_joined == TRUTH["zendesk"]["tickets_from_segment_people"]
    assert any("source: ticket" in n for n in file.notes)
    with ctx.store.reader() as con:
        rows = con.execute("SELECT source, json_extract_string(properties, '$.Type') "
                           "FROM feedback WHERE source = 'ticket'").fetchall()
    assert {r[0] for r in rows} == {"ticket"}
    types: dict[str, int] = {}
    for _, kind in rows:
        types[kind] = types.get(kind, 0) + 1
    assert types == TRUTH["zendesk"]["types"]
    assert "Type" in file.extra_columns  # reported as kept, and kept


def test_typeform_scores_load_with_and_without_a_comment(crm):
    ctx, reports = crm
    truth = TRUTH["typeform"]
    file = reports["survey"].files[0]
    assert file.rows_loaded == truth["responses"]
    with ctx.store.reader() as con:
        count, bare, mean = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE text = ''), avg(rating) FROM feedback "
            "WHERE source = 'nps'").fetchone()
    assert (count, bare) == (truth["responses"], truth["score_only_responses"])
    assert round(mean, 4) == truth["mean_score"]


def test_a_quoted_header_with_commas_maps(tmp_path):
    """A header no rule recognises, with a comma in it, is named in quotes."""
    ctx = ToolContext(EventStore(tmp_path / "h"))
    question = "Punkte, bitte"
    copy = tmp_path / "antworten.csv"
    text = (FIXTURES / "typeform_nps.csv").read_text(encoding="utf-8")
    copy.write_text(text.replace(
        '"How likely are you to recommend us to a friend, on a scale of 0-10?"',
        f'"{question}"', 1), encoding="utf-8")
    unmapped = call_tool(ctx, "ingest", {"kind": "feedback", "paths": [str(copy)],
                                         "source": "nps"})
    # Unmapped, the score-only answers have nothing: the mapping below is what finds the score.
    assert not unmapped.ok and "no feedback text and no score" in unmapped.content
    ctx = ToolContext(EventStore(tmp_path / "h2"))
    report = _ok(call_tool(ctx, "ingest", {
        "kind": "feedback", "paths": [str(copy)], "source": "nps",
        "mapping": f'"{question}"=rating,Submitted At=timestamp'})).files[0]
    assert report.columns["rating"] == question
    assert report.rows_loaded == TRUTH["typeform"]["responses"]


def _counts(ctx: ToolContext) -> dict[str, int]:
    with ctx.store.reader() as con:
        return {table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("events", "customers", "feedback", "deals", "identity_map",
                              "person_traits")}


def test_every_file_loaded_again_adds_nothing(crm):
    ctx, _ = crm
    before = _counts(ctx)
    _load(ctx, "events", "segment.jsonl")
    _load(ctx, "customers", "hubspot_contacts.csv", timezone="Europe/Berlin")
    _load(ctx, "deals", "hubspot_deals.csv", timezone="Europe/Berlin")
    _load(ctx, "feedback", "zendesk_tickets.csv")
    _load(ctx, "feedback", "typeform_nps.csv")
    assert _counts(ctx) == before


def test_crm_files_first_then_events_make_one_person_each(tmp_path):
    """Contacts, deals and tickets loaded before the product's events, which bring the
    e-mails: every deal, deal step and ticket follows its contact to the product's id."""
    ctx = ToolContext(EventStore(tmp_path / "h"))
    _load(ctx, "customers", "hubspot_contacts.csv", timezone="Europe/Berlin")
    _load(ctx, "deals", "hubspot_deals.csv", timezone="Europe/Berlin")
    _load(ctx, "feedback", "zendesk_tickets.csv")
    _load(ctx, "events", "segment.jsonl")
    with ctx.store.reader() as con:
        product = "SELECT customer_id FROM events WHERE NOT starts_with(event_id, 'deal:')"
        deals = con.execute(f"SELECT count(*) FROM deals WHERE customer_id IN ({product})"
                            ).fetchone()[0]
        tickets = con.execute(f"SELECT count(*) FROM feedback WHERE customer_id IN ({product})"
                              ).fetchone()[0]
    # All deals but the one of the contact who never used the product; the truth's tickets.
    assert deals == TRUTH["hubspot"]["deals"] - 1
    assert tickets == TRUTH["zendesk"]["tickets_from_segment_people"]
    # The product's 40 people, and the one CRM contact with a deal but no product use.
    assert _ok(call_tool(ctx, "describe_data")).people == TRUTH["segment"]["people"] + 1
    before = _counts(ctx)
    _load(ctx, "deals", "hubspot_deals.csv", timezone="Europe/Berlin")
    _load(ctx, "feedback", "zendesk_tickets.csv")
    assert _counts(ctx) == before


def test_forget_erases_traits_deals_and_their_steps(tmp_path):
    ctx = ToolContext(EventStore(tmp_path / "h"))
    _load(ctx, "events", "segment.jsonl")
    _load(ctx, "customers", "hubspot_contacts.csv")
    _load(ctx, "deals", "hubspot_deals.csv")
    _load(ctx, "feedback", "zendesk_tickets.csv")
    with ctx.store.reader() as con:
        person, email = con.execute("""
            SELECT d.customer_id, json_extract_string(c.attributes, '$.email')
            FROM deals AS d JOIN customers AS c USING (customer_id)
            WHERE d.customer_id IN (SELECT customer_id FROM feedback)
            ORDER BY 1 LIMIT 1""").fetchone()
    _ok(call_tool(ctx, "forget", {"customer_id": person}))
    with ctx.store.reader() as con:
        left = con.execute("""
            SELECT (SELECT count(*) FROM person_traits WHERE customer_id = $1 OR email = $2)
                 + (SELECT count(*) FROM deals WHERE customer_id = $1)
                 + (SELECT count(*) FROM events WHERE customer_id = $1)
                 + (SELECT count(*) FROM feedback WHERE customer_id = $1)
                 + (SELECT count(*) FROM customers WHERE customer_id = $1)""",
            [person, email]).fetchone()[0]
    assert left == 0


def test_deals_and_feedback_properties_export(crm, tmp_path):
    import pandas as pd

    from analytics.store.export import export_table

    ctx, _ = crm
    assert export_table(ctx.store, "deals", tmp_path / "deals.csv") == TRUTH["hubspot"]["deals"]
    deals = pd.read_csv(tmp_path / "deals.csv")
    assert deals.loc[deals.stage == "closedwon", "amount"].sum() == \
        TRUTH["hubspot"]["won_amount_total"]
    export_table(ctx.store, "deals", tmp_path / "anon.csv", anonymize=True)
    anon = pd.read_csv(tmp_path / "anon.csv")
    assert anon["name"].isna().all() and anon["properties"].isna().all()
    assert not set(anon["customer_id"].dropna()) & set(deals["customer_id"].dropna())
    export_table(ctx.store, "feedback", tmp_path / "feedback.csv")
    tickets = pd.read_csv(tmp_path / "feedback.csv")
    assert tickets["properties"].str.contains('"Priority"').sum() == TRUTH["zendesk"]["tickets"]


@pytest.mark.parametrize("vendor", list(STEPS))
def test_the_journey_model_ends_at_the_vendors_purchase(loaded, vendor):
    """With no configuration, each vendor's own words: the conversion is its purchase event,
    and the default journey has sign-up before it and nothing after it (no engagement or
    autocapture event tacked on at the end)."""
    from analytics.journey_model import journey_model

    with loaded[vendor][0].store.reader() as con:
        model = journey_model(con)
    purchase, signup = STEPS[vendor][-1], STEPS[vendor][-2]
    assert model.conversion_event == purchase
    assert model.funnel[-1] == purchase and signup in model.funnel
    assert model.funnel.index(signup) == len(model.funnel) - 2
