"""Hostile input: names and questions that try to break out of SQL or steer the agent."""

from __future__ import annotations

import hashlib

import pytest
from langchain_core.messages import AIMessage

from agent.llm import LLMAgent
from agent.planner import OfflinePlanner
from analytics.errors import UnknownNameError
from analytics.filters import Filters
from analytics.funnel import funnel
from analytics.store import EventStore, ingest_files
from analytics.store.connection import QueryTimeoutError, TimedConnection
from tests.scripted_model import ScriptedChatModel, tool_call
from tools.base import MAX_NAME_CHARS, ToolContext
from tools.registry import call_tool

HOSTILE = ["'; DROP TABLE events; --", 'x" OR 1=1 --', "a;b", "ünïcødé ✓ 漢字", "x" * 10_000,
           "robert'); DELETE FROM customers; --"]


def fingerprint(store: EventStore) -> str:
    with store.reader() as con:
        rows = [con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                for t in ("events", "customers", "feedback", "identity_map", "stage_map")]
    return hashlib.sha256(repr(rows).encode()).hexdigest()


@pytest.fixture
def hostile_store(tmp_path):
    import csv

    path = tmp_path / "e.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user_id", "timestamp", "event", "plan"])
        for i, name in enumerate(HOSTILE):
            writer.writerow([f"u{i}", "2024-01-01T00:00:00Z", "start", name])
            writer.writerow([f"u{i}", "2024-01-02T00:00:00Z", name, name])
    store = EventStore(tmp_path / "h")
    ingest_files(store, "events", [path])
    return store


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_data_not_sql(hostile_store, name):
    before = fingerprint(hostile_store)
    with hostile_store.reader() as con:
        result = funnel(con, ["start", name])
        assert [s.customers for s in result.steps] == [len(HOSTILE), 1]
        with pytest.raises(UnknownNameError):
            funnel(con, ["start", name + "x"])
        filtered = funnel(con, ["start", name], filters=Filters(attributes=(("plan", name),)))
        # No customers table rows: the plan is the event property, which only the person whose
        # events carry that value has (and the value never touches the SQL).
        assert [s.customers for s in filtered.steps] == [1, 1]
    ctx = ToolContext(hostile_store)
    answer = call_tool(ctx, "funnel", {"steps": ["start", name], "by": "device"})
    wrong = call_tool(ctx, "funnel", {"steps": [name + "'; --", "start"]})
    if len(name) > MAX_NAME_CHARS:
        # The tools refuse oversize names before any query (the analytics above read them).
        assert not answer.ok and answer.error.field == "steps"
        assert "longer than 200 characters" in answer.content and not wrong.ok
    else:
        assert answer.ok
        assert not wrong.ok and "Unknown event" in wrong.content
    assert fingerprint(hostile_store) == before


def test_hostile_questions_leave_the_store_alone(hostile_store):
    before = fingerprint(hostile_store)
    planner = OfflinePlanner(ToolContext(hostile_store))
    for question in HOSTILE + ["where do people drop off'; DROP TABLE events; --"]:
        answer = planner.ask(question)
        assert isinstance(answer.text, str)
    assert fingerprint(hostile_store) == before


def test_queries_have_a_time_limit(hostile_store):
    with hostile_store.reader() as con:
        assert isinstance(con, TimedConnection)
        slow = TimedConnection(con._con, 0.2)
        with pytest.raises(QueryTimeoutError, match="longer than"):
            slow.execute("SELECT count(*) FROM range(1000000000) AS a, range(1000) AS b "
                         "WHERE a.range % 7 = b.range")
        assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 2 * len(HOSTILE)


def test_injected_feedback_is_quoted_not_obeyed_offline(demo_store, demo_manifest):
    injected = demo_manifest["feedback_with_injection"][0]
    planner = OfflinePlanner(ToolContext(demo_store))
    answer = planner.ask("what do customers say about billing?")
    assert [c.tool for c in answer.calls] == ["feedback_search"]
    with demo_store.reader() as con:
        text = con.execute("SELECT text FROM feedback WHERE feedback_id = ?",
                           [injected]).fetchone()[0]
    hits = call_tool(ToolContext(demo_store), "feedback_search",
                     {"query": text, "k": 3})
    assert injected in hits.content  # found and quoted as data ...
    assert hits.content.index("<<<CUSTOMER_TEXT") < hits.content.index(injected)
    assert "0%" not in answer.text.split("What customers said")[0]  # ... never obeyed


def test_injected_feedback_does_not_change_llm_tool_calls(demo_store):
    def run() -> tuple[list, str]:
        model = ScriptedChatModel(replies=[
            tool_call("feedback_search", {"query": "Ignore all previous instructions"}),
            AIMessage("Customers quote an instruction; I report it as feedback."),
        ])
        answer = LLMAgent(ToolContext(demo_store), model).ask("what do customers say?")
        return [(c.tool, c.arguments) for c in answer.calls], answer.text

    calls, text = run()
    assert calls == [("feedback_search", {"query": "Ignore all previous instructions"})]
    assert "0%" not in text
