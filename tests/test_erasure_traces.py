"""After `forget`, no byte of any file under the data folder names the customer (issue #14).

A customer is planted everywhere the app keeps something: events (and anonymous events stitched
to them), a profile with an e-mail and a full name, feedback indexed into Chroma, a rejected row,
a backup left by an older index rebuild, an upload and an exported plan in the temporary
folder, the demo's exports and the description cache. After the erasure every file is read as
bytes and searched; another customer's data are still there and the analytics still run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from analytics.description import describe_data
from analytics.errors import JourneyError, StoreError
from analytics.feedback.index import FeedbackIndex
from analytics.store import EventStore, ingest_files
from analytics.store.forget import REWRITE_OWED, forget_customer
from tools.base import ToolContext
from tools.registry import call_tool

CUSTOMER = "zz9-ziggy"
ANONYMOUS = "anon-zig-77"
EMAIL = "ziggy.owner@example.com"
NAME = "Pat Quillfeather"
PHRASE = "my parrot Ziggy hated the onboarding wizard"
# Everything that names them, and words only their data hold (searched case-insensitively).
NEEDLES = [CUSTOMER, ANONYMOUS, EMAIL, NAME, PHRASE, "ziggy", "parrot", "quillfeather"]

OTHER = "c2-robin"
OTHER_PHRASE = "the billing page keeps timing out"

EVENTS = (
    "anonymous_id,customer_id,timestamp,event\n"
    f"{ANONYMOUS},,2024-01-01T10:00:00Z,landing_view\n"
    f"{ANONYMOUS},,2024-01-01T10:02:00Z,pricing_view\n"
    f"{ANONYMOUS},{CUSTOMER},2024-01-01T10:05:00Z,signup\n"
    f",{CUSTOMER},2024-01-02T10:00:00Z,login\n"
    "anon-r1,,2024-01-01T09:00:00Z,landing_view\n"
    "anon-r1,,2024-01-01T09:01:00Z,pricing_view\n"
    f"anon-r1,{OTHER},2024-01-01T09:05:00Z,signup\n"
    f",{OTHER},2024-01-03T09:00:00Z,login\n"
    "anon-x9,,2024-01-01T11:00:00Z,landing_view\n")
# One bad row each: loaded with on_error=skip, they land in the rejects file.
BAD_EVENTS = (
    "anonymous_id,customer_id,timestamp,event\n"
    f",{CUSTOMER},not a time,checkout\n"
    f",{OTHER},not a time either,checkout\n"
    f",{OTHER},2024-01-04T09:00:00Z,login\n")
CUSTOMERS = (
    "customer_id,plan,email,full_name\n"
    f"{CUSTOMER},pro,{EMAIL},{NAME}\n"
    f"{OTHER},free,robin@example.org,Robin Other\n")
FEEDBACK = (
    "feedback_id,customer_id,anonymous_id,timestamp,source,text\n"
    f"f1,{CUSTOMER},,2024-01-03,ticket,{PHRASE}\n"
    f"f2,,{ANONYMOUS},2024-01-01,survey,Ziggy the parrot squawked at the price\n"
    f"f3,{OTHER},,2024-01-03,review,{OTHER_PHRASE}\n"
    f"f4,{OTHER},,2024-01-04,chat,reports are lovely\n")


def files_naming_the_customer(home: Path) -> dict[str, list[str]]:
    """Every file under `home`, read byte for byte: which needles it holds (as UTF-8)."""
    found: dict[str, list[str]] = {}
    for path in sorted(home.rglob("*")):
        if path.is_file():
            data = path.read_bytes().lower()
            hits = [n for n in NEEDLES if n.lower().encode() in data]
            if hits:
                found[str(path.relative_to(home))] = hits
    return found


def plant(tmp_path: Path) -> EventStore:
    store = EventStore(tmp_path / "home")
    for name, text in (("events.csv", EVENTS), ("late.csv", BAD_EVENTS),
                       ("customers.csv", CUSTOMERS), ("feedback.csv", FEEDBACK)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    ingest_files(store, "events", [tmp_path / "events.csv"])
    report = ingest_files(store, "events", [tmp_path / "late.csv"], on_error="skip")
    assert report.files[0].rows_rejected == 2
    ingest_files(store, "customers", [tmp_path / "customers.csv"])
    ingest_files(store, "feedback", [tmp_path / "feedback.csv"])
    FeedbackIndex(store).sync()
    # A backup an older version's rebuild of a damaged index left beside it.
    shutil.copytree(store.home / "chroma", store.home / "chroma.broken-20240101000000")
    # The web app's upload cache and an exported plan (both under <home>/tmp).
    upload = store.temp_folder() / "gradio" / "3f2a" / "customers.csv"
    upload.parent.mkdir(parents=True)
    upload.write_text(CUSTOMERS, encoding="utf-8")
    plan = store.temp_folder() / "plan-x1" / "quick-win-plan.md"
    plan.parent.mkdir()
    plan.write_text(f"# Plan\nCall {NAME} ({EMAIL}) about: {PHRASE}\n", encoding="utf-8")
    # The demo's generated exports, as `journey demo-data` keeps them.
    demo = store.home / "demo"
    demo.mkdir()
    pd.read_csv(tmp_path / "customers.csv").to_parquet(demo / "customers.parquet", index=False)
    pd.read_csv(tmp_path / "events.csv").to_parquet(demo / "events.parquet", index=False)
    shutil.copy(tmp_path / "feedback.csv", demo / "feedback.csv")
    describe_data(store)  # the description cache
    return store


def test_forget_leaves_no_byte_of_the_customer_in_the_data_folder(tmp_path):
    store = plant(tmp_path)
    before = files_naming_the_customer(store.home)
    for planted in ("journey.duckdb", "chroma/chroma.sqlite3",
                    "chroma.broken-20240101000000/chroma.sqlite3",
                    "rejects/late.csv.rejected.csv", "tmp/gradio/3f2a/customers.csv",
                    "tmp/plan-x1/quick-win-plan.md", "demo/feedback.csv"):
        assert planted in before, planted  # the search can see each trace

    ctx = ToolContext(store)
    result = call_tool(ctx, "forget", {"customer_id": CUSTOMER})
    assert result.ok, result.content
    assert (result.result.events, result.result.feedback) == (4, 2)
    assert "traces" not in result.data() and EMAIL not in str(result.data())

    assert files_naming_the_customer(store.home) == {}
    assert not list(store.home.glob("chroma.*-*"))  # no backup, no half of a swap
    assert not store.path.with_name(store.path.name + ".rewrite").exists()

    # Everyone else is still there, and the analytics run on them.
    with store.reader() as con:
        assert con.execute("SELECT count(*) FROM events WHERE customer_id = ?",
                           [OTHER]).fetchone()[0] == 3
        assert con.execute("SELECT count(*) FROM customers").fetchone()[0] == 1
        assert con.execute("SELECT value FROM meta WHERE key = ?",
                           [REWRITE_OWED]).fetchall() == []
    funnel = call_tool(ctx, "funnel", {"steps": ["landing_view", "pricing_view", "signup"]})
    assert funnel.ok, funnel.content
    assert call_tool(ctx, "describe_data", {}).ok
    hits = FeedbackIndex(store).search("billing page timing out", k=2)
    assert hits[0].feedback_id == "f3" and {h.feedback_id for h in hits} <= {"f3", "f4"}
    assert sorted(FeedbackIndex(store).collection().get()["ids"]) == ["f3", "f4"]
    rejects = (store.home / "rejects" / "late.csv.rejected.csv").read_text()
    assert OTHER in rejects and "not a time either" in rejects
    assert pd.read_parquet(store.home / "demo" / "customers.parquet")["customer_id"].tolist() \
        == [OTHER]
    assert len(pd.read_parquet(store.home / "demo" / "events.parquet")) == 5
    assert OTHER_PHRASE in (store.home / "demo" / "feedback.csv").read_text()


def _erased_store(tmp_path: Path) -> EventStore:
    store = EventStore(tmp_path / "home")
    (tmp_path / "events.csv").write_text(EVENTS, encoding="utf-8")
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    ingest_files(store, "events", [tmp_path / "events.csv"])
    ingest_files(store, "customers", [tmp_path / "customers.csv"])
    return store


@pytest.mark.parametrize("breaks", ["the check of the copy", "the replace"])
def test_a_failed_rewrite_leaves_the_store_intact_and_the_next_forget_finishes(
        tmp_path, monkeypatch, breaks):
    import analytics.store.forget as forget

    store = _erased_store(tmp_path)
    copy = store.path.with_name(store.path.name + ".rewrite")
    copy.write_bytes(b"left by a killed rewrite")  # removed by the next one

    def crash(*args, **kwargs):
        raise OSError("simulated crash in the middle of the rewrite")

    if breaks == "the replace":
        real = forget.os.replace
        monkeypatch.setattr(forget.os, "replace", lambda a, b: crash() if Path(a) == copy
                            else real(a, b))
    else:
        monkeypatch.setattr(forget, "_check_copy", crash)
    with pytest.raises(StoreError, match="run `journey forget zz9-ziggy` again"):
        forget_customer(store, CUSTOMER)
    assert not copy.exists()  # no half copy beside the store
    with store.reader() as con:  # the original file, readable, with the deletion committed
        assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 5
        assert con.execute("SELECT count(*) FROM journey_events WHERE customer_id = ?",
                           [CUSTOMER]).fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM meta WHERE key = ?",
                           [REWRITE_OWED]).fetchone()[0] == 1
    monkeypatch.undo()
    with pytest.raises(JourneyError, match="rewritten to finish an earlier erasure"):
        forget_customer(store, CUSTOMER)
    assert CUSTOMER.encode() not in store.path.read_bytes()
    assert EMAIL.encode() not in store.path.read_bytes()
    with store.reader() as con:
        assert con.execute("SELECT count(*) FROM meta WHERE key = ?",
                           [REWRITE_OWED]).fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 5
    with pytest.raises(JourneyError, match=r"nothing erased\)"):
        forget_customer(store, CUSTOMER)


def test_the_rewrite_keeps_every_table_view_and_row(tmp_path):
    store = _erased_store(tmp_path)

    def listing() -> tuple:
        with store.reader() as con:
            tables = con.execute("SELECT table_name, estimated_size FROM duckdb_tables() "
                                 "ORDER BY 1").fetchall()
            views = con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal "
                                "ORDER BY 1").fetchall()
            counts = [con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                      for t, _ in tables if t not in ("erasures", "meta", "events",
                                                      "customers", "identity_map",
                                                      "journey_steps", "person_profiles")]
            return [t for t, _ in tables], views, counts

    tables, views, counts = listing()
    forget_customer(store, OTHER)
    after_tables, after_views, after_counts = listing()
    assert after_tables == sorted(tables + ["erasures"]) or after_tables == tables
    assert after_views == views and after_counts == counts


def test_a_failed_index_swap_keeps_the_old_index(tmp_path, monkeypatch):
    import analytics.feedback.index as index_module

    store = _erased_store(tmp_path)
    (tmp_path / "feedback.csv").write_text(FEEDBACK, encoding="utf-8")
    ingest_files(store, "feedback", [tmp_path / "feedback.csv"])
    index = FeedbackIndex(store)
    index.sync()
    real = index_module.os.replace

    def refuse_second(a, b):
        if Path(b) == index.path and ".fresh-" in str(a):
            raise OSError("simulated crash during the swap")
        return real(a, b)

    monkeypatch.setattr(index_module.os, "replace", refuse_second)
    with pytest.raises(OSError, match="simulated"):
        index.erase(["f1", "f2"])
    monkeypatch.undo()
    assert not list(store.home.glob("chroma.*-*"))  # neither the copy nor the moved folder
    assert sorted(FeedbackIndex(store).collection().get()["ids"]) == ["f3", "f4"]
    assert index.search("billing", k=1)[0].feedback_id == "f3"


def test_a_kept_row_goes_only_when_it_names_the_person(tmp_path):
    from analytics.store.rejects import PersonMatcher, erase_rows_from_files

    names = PersonMatcher(["c1", "7", "jo@acme.io", "Jo Quill"])
    assert names("c1") and names(" C1 ") and names('{"customer_id": "c1", "n": 2}')
    assert names('{"customer_id": 7}') and names("write to JO@acme.io today")
    assert names("Jo Quill said so")
    assert not names("c10") and not names("ac1") and not names('{"id": "c1x"}')
    assert not names("17") and not names("xjo@acme.io") and not names("Jo Quillfeather")
    rejects = tmp_path / "r.csv"
    rejects.write_text('row,column,value,reason,original_row_json\n'
                       '2,timestamp,x,bad,"{""customer_id"":""c1""}"\n'
                       '3,timestamp,y,bad,"{""customer_id"":""c10""}"\n', encoding="utf-8")
    lines = tmp_path / "f.jsonl"
    lines.write_text('{"customer_id": "c1", "text": "hi"}\n{"customer_id": "c2"}\n')
    assert erase_rows_from_files([rejects, lines], ["c1"]) == 2
    assert rejects.read_text().splitlines()[1:] == ['3,timestamp,y,bad,"{""customer_id"":""c10""}"']
    assert lines.read_text() == '{"customer_id": "c2"}\n'
    assert not list(tmp_path.glob(".*partial"))
