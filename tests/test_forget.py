"""Erasure on request leaves nothing of the customer behind, and records only a hash."""

from __future__ import annotations

import re

import pytest

from analytics.errors import JourneyError
from analytics.feedback.index import FeedbackIndex
from analytics.store import EventStore, ingest_files
from analytics.store.forget import forget_customer, id_hash


def test_forget_removes_every_trace(tmp_path):
    store = EventStore(tmp_path / "h")
    (tmp_path / "e.csv").write_text(
        "anonymous_id,customer_id,timestamp,event\n"
        "a1,,2024-01-01T10:00:00Z,landing_view\n"
        "a1,c1,2024-01-01T10:05:00Z,signup\n"
        ",c1,2024-01-02T10:00:00Z,login\n"
        "a2,,2024-01-01T10:00:00Z,landing_view\n")
    (tmp_path / "c.csv").write_text("customer_id,plan,email\nc1,pro,jo@acme.io\nc2,free,x@y.z\n")
    (tmp_path / "f.csv").write_text(
        "feedback_id,customer_id,anonymous_id,timestamp,source,text\n"
        "f1,c1,,2024-01-03,ticket,Billing is wrong\n"
        "f2,,a1,2024-01-01,survey,Too pricey\n"
        "f3,c2,,2024-01-03,review,Love it\n")
    ingest_files(store, "events", [tmp_path / "e.csv"])
    ingest_files(store, "customers", [tmp_path / "c.csv"])
    ingest_files(store, "feedback", [tmp_path / "f.csv"])
    index = FeedbackIndex(store)
    index.sync()
    report = forget_customer(store, "c1")
    assert (report.events, report.feedback, report.customers, report.identities) == (3, 2, 1, 1)
    with store.reader() as con:
        dump = " ".join(str(row) for table in ("events", "customers", "feedback",
                                               "identity_map", "erasures", "loads")
                        for row in con.execute(f"SELECT * FROM {table}").fetchall())
        assert "c1" not in dump and "a1" not in dump and "jo@acme.io" not in dump
        assert con.execute("SELECT id_hash FROM erasures").fetchall() == [(id_hash("c1"),)]
        assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 1  # a2 stays
    remaining = FeedbackIndex(store).collection().get()["ids"]
    assert sorted(remaining) == ["f3"]
    with pytest.raises(JourneyError, match="No customer 'c1'"):
        forget_customer(store, "c1")


def test_export_anonymised_and_without_opted_out(tmp_path):
    import pandas as pd

    from analytics.store.export import export_table

    store = EventStore(tmp_path / "h")
    (tmp_path / "c.csv").write_text("customer_id,plan,email,opted_out\n"
                                    "c1,pro,jo@acme.io,no\nc2,free,x@y.z,yes\n")
    (tmp_path / "e.csv").write_text("customer_id,timestamp,event,note\n"
                                    "c1,2024-01-01,signup,call jo@acme.io\n")
    (tmp_path / "f.csv").write_text("feedback_id,customer_id,timestamp,source,text\n"
                                    "f1,c1,2024-01-02,ticket,Mail me at jo@acme.io\n")
    ingest_files(store, "customers", [tmp_path / "c.csv"])
    ingest_files(store, "events", [tmp_path / "e.csv"])
    ingest_files(store, "feedback", [tmp_path / "f.csv"])
    assert export_table(store, "customers", tmp_path / "plain.csv") == 1  # c2 opted out
    assert export_table(store, "customers", tmp_path / "anon.csv", anonymize=True) == 1
    export_table(store, "events", tmp_path / "events.parquet", anonymize=True)
    export_table(store, "feedback", tmp_path / "feedback.csv", anonymize=True)
    anon = pd.read_csv(tmp_path / "anon.csv")
    again = tmp_path / "again.csv"
    export_table(store, "customers", again, anonymize=True)
    assert anon["customer_id"][0] != "c1" and len(anon["customer_id"][0]) == 32
    assert pd.read_csv(again)["customer_id"][0] == anon["customer_id"][0]  # stable hash
    events = pd.read_parquet(tmp_path / "events.parquet")
    assert events["customer_id"][0] == anon["customer_id"][0]  # joinable across tables
    everything = " ".join(p.read_text(errors="ignore") for p in tmp_path.glob("*.csv")
                          if p.name != "plain.csv" and p.name not in ("c.csv", "e.csv", "f.csv"))
    # The id as a whole cell: a 32-hex hash may end in "c1" by chance.
    assert "jo@acme.io" not in everything and not re.search(r"(?<![0-9a-f])c1,", everything)
    with pytest.raises(JourneyError, match=".csv or .parquet"):
        export_table(store, "events", tmp_path / "x.xlsx")


def test_erasure_clears_the_temporary_folder_under_the_data_folder(tmp_path):
    from ui.web import JourneyApp

    store = EventStore(tmp_path / "h")
    (tmp_path / "e.csv").write_text("user_id,timestamp,event\nc9,2024-01-01,signup\n")
    ingest_files(store, "events", [tmp_path / "e.csv"])
    exported = JourneyApp(store).download("# plan quoting c9")
    assert exported.startswith(str(store.home / "tmp"))  # never the system's /tmp
    upload = store.temp_folder() / "gradio" / "abc" / "upload.csv"
    upload.parent.mkdir(parents=True)
    upload.write_text("user_id\nc9\n")
    forget_customer(store, "c9")
    assert list(store.temp_folder().iterdir()) == []
