"""Names are kept exactly as loaded (trimmed only), filters find them whatever the case they are
typed in, and the flat columns people's exports have land where they belong (issue #16)."""

from __future__ import annotations

import json

import duckdb
import pytest

from analytics.catalog import load_catalog
from analytics.errors import UnknownNameError
from analytics.filters import Filters
from analytics.funnel import funnel
from analytics.store import ingest_files
from analytics.store.vendor_sql import device_category

EVENTS = (
    "user_id,timestamp,event,channel,device\n"
    "u1,2024-03-01T10:00:00Z,Visit, Google Ads ,iOS\n"
    "u1,2024-03-01T10:05:00Z,Signup,Google Ads,iOS\n"
    "u2,2024-03-01T11:00:00Z,Visit,Newsletter,ios\n"
    "u3,2024-03-02T09:00:00Z,Visit,(Direct),Desktop\n"
    "u3,2024-03-02T09:05:00Z,Signup,,Desktop\n"
    "u4,2024-03-02T12:00:00Z,Visit,EMPTY,(Not Set)\n"
)


@pytest.fixture
def loaded(store, write):
    ingest_files(store, "events", [write("events.csv", EVENTS)])
    ingest_files(store, "customers", [write("crm.csv", "customer_id,plan\nu1, Pro \nu2,pro\n"
                                                       "u3,Team Annual\n")])
    return store


def _rows(store, sql: str) -> list[tuple]:
    with store.reader() as con:
        return con.execute(sql).fetchall()


def test_channel_device_and_plan_are_kept_as_written(loaded):
    assert _rows(loaded, "SELECT customer_id, channel, device FROM events ORDER BY ts") == [
        ("u1", "Google Ads", "iOS"), ("u1", "Google Ads", "iOS"), ("u2", "Newsletter", "ios"),
        # A placeholder is no value whatever its case (GA4's (direct), Amplitude's EMPTY).
        ("u3", None, "Desktop"), ("u3", None, "Desktop"), ("u4", None, None)]
    assert _rows(loaded, "SELECT customer_id, plan FROM customers ORDER BY 1") == [
        ("u1", "Pro"), ("u2", "pro"), ("u3", "Team Annual")]
    with loaded.reader() as con:
        catalog = load_catalog(con)
    # Two spellings are two values as loaded; each is listed as it is.
    assert catalog.channels == ["Google Ads", "Newsletter"]
    assert catalog.devices == ["Desktop", "iOS", "ios"]


def test_breakdowns_show_names_as_loaded(loaded):
    with loaded.reader() as con:
        by_channel = funnel(con, ["Visit", "Signup"], by="channel")
        by_plan = funnel(con, ["Visit", "Signup"], by="plan")
    assert {g.group: g.steps[0].customers for g in by_channel.groups} == {
        "Google Ads": 1, "Newsletter": 1, "(none)": 2}
    assert {g.group: g.steps[0].customers for g in by_plan.groups} == {
        "Pro": 1, "pro": 1, "Team Annual": 1, "(none)": 1}


def test_filters_match_names_whatever_their_case(loaded):
    with loaded.reader() as con:
        def visitors(**filters) -> int:
            return funnel(con, ["Visit", "Signup"],
                          filters=Filters(**filters)).steps[0].customers

        assert visitors(channel=("google ads",)) == 1
        assert visitors(channel=("GOOGLE ADS", "newsletter")) == 2
        # Both spellings of iOS are found by either.
        assert visitors(device=("ios",)) == 2
        assert visitors(device=("iOS",)) == 2
        assert visitors(device=("desktop",)) == 1
        assert visitors(attributes=(("plan", "PRO"),)) == 2
        assert visitors(attributes=(("plan", "team annual"),)) == 1
        with pytest.raises(UnknownNameError) as raised:
            funnel(con, ["Visit", "Signup"], filters=Filters(device=("iphone",)))
    # The suggestions are the names as loaded, both spellings of one name among them.
    assert {"iOS", "ios"} <= set(raised.value.suggestions)


def test_a_vendor_device_it_does_not_know_is_kept_as_written():
    def category(text: str | None) -> str | None:
        literal = "NULL" if text is None else "'" + text + "'"
        return duckdb.connect().execute(f"SELECT {device_category(literal)}").fetchone()[0]

    assert category("Apple iPhone") == "mobile"
    assert category("iOS") == "mobile"
    assert category("Mac OS X") == "desktop"
    assert category("iPad") == "tablet"
    assert category("PlayStation 5") == "PlayStation 5"
    assert category("Smart TV") == "Smart TV"
    assert category(None) is None


@pytest.mark.parametrize("column", ["os", "$os", "operating_system", "Operating System"])
def test_the_operating_system_is_the_device_when_nothing_says_more(store, write, column):
    text = f"user_id,timestamp,event,{column}\nu1,2024-03-01T10:00:00Z,Visit,Android\n"
    report = ingest_files(store, "events", [write("e.csv", text)])
    assert report.files[0].columns["device"] == column
    assert _rows(store, "SELECT device, properties FROM events") == [("Android", None)]


def test_a_device_or_platform_column_wins_over_the_operating_system(store, write):
    text = ("user_id,timestamp,event,os,platform\n"
            "u1,2024-03-01T10:00:00Z,Visit,Android,Mobile Web\n")
    ingest_files(store, "events", [write("e.csv", text)])
    [(device, properties)] = _rows(store, "SELECT device, properties FROM events")
    assert device == "Mobile Web"
    assert json.loads(properties) == {"os": "Android"}


@pytest.mark.parametrize("columns, channel, kept", [
    ("utm_source,utm_medium", "google", {"utm_medium": "cpc"}),
    ("utm_medium,utm_source", "google", {"utm_medium": "cpc"}),
    ("source", "google", {}),
    ("acquisition_channel", "google", {}),
    ("utm_medium", "cpc", {}),
])
def test_channel_columns_of_flat_exports(store, write, columns, channel, kept):
    values = {"utm_source": "google", "utm_medium": "cpc", "source": "google",
              "acquisition_channel": "google"}
    names = columns.split(",")
    text = (f"user_id,timestamp,event,{columns}\n"
            f"u1,2024-03-01T10:00:00Z,Visit,{','.join(values[n] for n in names)}\n")
    ingest_files(store, "events", [write("e.csv", text)])
    [(got, properties)] = _rows(store, "SELECT channel, properties FROM events")
    assert got == channel
    assert (json.loads(properties) if properties else {}) == kept


def test_columns_mapped_to_no_field_are_kept_as_event_properties(store, write):
    text = ("user_id,timestamp,event,session_id,order_value,app_version,price_variant\n"
            "u1,2024-03-01T10:00:00Z,Purchase,s-1,49.90,2.3.1,B\n"
            "u2,2024-03-01T11:00:00Z,Purchase,s-2,,2.4.0,A\n")
    report = ingest_files(store, "events", [write("e.csv", text)])
    assert report.files[0].extra_columns == ["session_id", "order_value", "app_version",
                                             "price_variant"]
    got = [json.loads(p) for (p,) in _rows(store, "SELECT properties FROM events ORDER BY ts")]
    # A CSV's cells are text, kept as written (49.90 stays 49.90; equal-as-numbers compares it).
    assert got[0] == {"session_id": "s-1", "order_value": "49.90", "app_version": "2.3.1",
                      "price_variant": "B"}
    assert got[1]["session_id"] == "s-2" and got[1]["price_variant"] == "A"
    assert got[1]["app_version"] == "2.4.0" and got[1].get("order_value") is None


def test_a_camel_case_session_id_is_kept_too(store, write):
    text = "userId,timestamp,event,sessionId\nu1,2024-03-01T10:00:00Z,Visit,abc-123\n"
    ingest_files(store, "events", [write("e.csv", text)])
    [(properties,)] = _rows(store, "SELECT properties FROM events")
    assert json.loads(properties) == {"sessionId": "abc-123"}


def test_model_features_have_one_column_for_spellings_of_one_name(loaded):
    from analytics.features import person_features

    with loaded.reader() as con:
        table = person_features(con)
    assert len(table.categorical) == len(set(table.categorical))
    assert table.frame.loc[["u1", "u2"], "device_ios"].tolist() == [1.0, 1.0]
    assert table.frame.loc["u1", "channel_google_ads"] == 1.0
