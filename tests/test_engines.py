"""The same analytics on Spark (a local session) and ClickHouse (chDB): full results equal
DuckDB's, on generated data with the edge cases (tests/engine_data.py).

A wrong translation raises no error, it returns other numbers: so every tool is run on every
engine and its whole JSON result compared with DuckDB's (floats to 1e-9 relative: engines sum
in another order). The engines start inside the tests, on this machine only.
"""

from __future__ import annotations

import math

import pytest

from analytics.engines.engine_open import close_engines
from analytics.store import EventStore
from tests.engine_data import CALLS, build_edge_store
from tools.base import ToolContext, serialise
from tools.registry import call_tool

pytestmark = pytest.mark.slow  # a Spark session starts (about 10 s), every analytic runs twice

ENGINES = ("clickhouse", "spark")


@pytest.fixture(scope="module")
def edge_store(tmp_path_factory) -> EventStore:
    yield build_edge_store(tmp_path_factory.mktemp("engines"))
    close_engines()


def _close(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return (isinstance(a, int | float) and isinstance(b, int | float)
                and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    return a == b


def _first_difference(a, b, where: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if not _close(a.get(k), b.get(k)):
                return _first_difference(a.get(k), b.get(k), f"{where}.{k}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if not _close(x, y):
                return _first_difference(x, y, f"{where}[{i}]")
    return f"{where}: DuckDB {a!r}, engine {b!r}"


def _results(store: EventStore, engine: str) -> dict[int, object]:
    ctx = ToolContext(EventStore(store.home, engine=engine))
    out: dict[int, object] = {}
    for i, (name, args) in enumerate(CALLS):
        result = call_tool(ctx, name, dict(args))
        assert result.ok, f"{name} {args} on {engine}: {result.error}"
        out[i] = serialise(result.result)
    return out


@pytest.mark.parametrize("engine", ENGINES)
def test_every_analytic_gives_duckdbs_numbers_on_the_edge_cases(edge_store, engine):
    want = _results(edge_store, "duckdb")
    got = _results(edge_store, engine)
    differ = [f"{CALLS[i][0]} {CALLS[i][1]}: {_first_difference(want[i], got[i])}"
              for i in want if not _close(want[i], got[i])]
    assert not differ, "\n".join(differ)


def test_the_edge_cases_are_the_ones_planted(edge_store):
    """The data hold what the comparison is about (else an equality would prove little)."""
    ctx = ToolContext(edge_store)
    within = call_tool(ctx, "funnel", {"steps": ["landing_view", "signup"], "window_days": 7,
                                       "people": 2})
    assert within.ok, within.error
    # Exactly 7 days counts, one second more does not: the window's boundary is in the data.
    assert "C-win7" in within.result.people and "C-win8" not in within.result.people
    # The stitched customer's anonymous landing and pricing views are theirs.
    stitched = call_tool(ctx, "funnel", {"steps": ["landing_view", "pricing_view", "signup",
                                                   "purchase"], "people": 4})
    assert stitched.ok and "C-stitched" in stitched.result.people
    # Ties at one instant are ordered by event id: pricing_view (t-2) before signup (t-3).
    tie = call_tool(ctx, "funnel", {"steps": ["pricing_view", "signup"], "people": 2,
                                    "order": "consecutive"})
    assert tie.ok and "C-tie" in tie.result.people


def test_a_python_table_join_says_it_needs_duckdb(edge_store):
    ctx = ToolContext(EventStore(edge_store.home, engine="clickhouse"))
    result = call_tool(ctx, "next_best_action", {"min_support": 5})
    assert not result.ok and "DuckDB only" in str(result.error)


@pytest.mark.parametrize("engine", ENGINES)
def test_events_that_already_live_there_in_another_shape(edge_store, engine, tmp_path):
    """engine.toml names a Parquet folder of events with other column names (as a lake holds
    them); the journey steps and profiles are computed there; the numbers are the store's."""
    import shutil

    lake = tmp_path / "lake"
    lake.mkdir()
    with edge_store.reader(local=True) as con:
        con.execute(f"""COPY (SELECT event_id AS eid, customer_id AS user_id, anonymous_id AS anon,
                            ts AS event_time, event_name AS event, channel AS utm_source,
                            device AS platform FROM events)
                      TO '{lake / "part-0.parquet"}' (FORMAT parquet)""")
    home = tmp_path / "home"
    shutil.copytree(edge_store.home, home, ignore=shutil.ignore_patterns("tmp"))
    (home / "engine.toml").write_text(
        f'engine = "{engine}"\nevents = "{lake / "part-0.parquet"}"\n[columns]\n'
        'event_id = "eid"\ncustomer_id = "user_id"\nanonymous_id = "anon"\n'
        'ts = "event_time"\nevent_name = "event"\nchannel = "utm_source"\ndevice = "platform"\n',
        encoding="utf-8")
    lake_ctx, local_ctx = ToolContext(EventStore(home)), ToolContext(edge_store)
    for name, args in CALLS[:14]:  # funnels, transitions, paths, next steps, retention
        want = call_tool(local_ctx, name, dict(args))
        got = call_tool(lake_ctx, name, dict(args))
        assert got.ok, f"{name} {args}: {got.error}"
        a, b = serialise(want.result), serialise(got.result)
        assert _close(a, b), f"{name} {args}: {_first_difference(a, b)}"
    close_engines()  # the next test loads the store's own tables again


def test_a_mapping_to_a_column_the_source_lacks_says_which(edge_store, tmp_path):
    import shutil

    home = tmp_path / "home"
    shutil.copytree(edge_store.home, home, ignore=shutil.ignore_patterns("tmp"))
    lake = tmp_path / "events.parquet"
    with edge_store.reader(local=True) as con:
        con.execute(f"COPY (SELECT ts AS event_time, event_name FROM events) TO '{lake}' "
                    "(FORMAT parquet)")
    (home / "engine.toml").write_text(
        f'engine = "clickhouse"\nevents = "{lake}"\n[columns]\nts = "when"\n', encoding="utf-8")
    result = call_tool(ToolContext(EventStore(home)), "funnel",
                       {"steps": ["landing_view", "signup"]})
    assert not result.ok
    assert "ts = 'when'" in str(result.error) and "event_time" in str(result.error)
    close_engines()


@pytest.mark.parametrize("engine", ENGINES)
def test_journey_engine_on_the_command_line_prints_duckdbs_json(edge_store, engine):
    """The bar: `journey --engine spark funnel ...` (and clickhouse) prints the same JSON as
    DuckDB for the funnel, transitions, paths and retention."""
    from click.testing import CliRunner

    from ui.cli import app

    commands = [["funnel", "landing_view", "pricing_view", "signup", "purchase"],
                ["transitions"], ["paths", "--top", "5"], ["retention", "--period", "month"]]
    runner = CliRunner()
    for command in commands:
        base = ["--home", str(edge_store.home)]
        want = runner.invoke(app, [*base, *command, "--json"])
        got = runner.invoke(app, [*base, "--engine", engine, *command, "--json"])
        assert want.exit_code == 0 and got.exit_code == 0, (want.output, got.output)
        assert got.output == want.output, command
