"""Every query the analytics send stays inside the portable subset (analytics/engines/sql_lint),
and the SQL printed for BigQuery, Snowflake and Trino is what the golden files say, so that a
SQLGlot upgrade or an analytic's change shows up as a diff.

Rewrite the golden files after a deliberate change: `python -m tests.test_sql_portable --write`.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest

from analytics.engines.sql_compile import PRINT_DIALECTS, RUN_DIALECTS, compile_sql
from analytics.engines.sql_lint import problems
from analytics.store import EventStore
from analytics.store import connection as store_connection
from tests.engine_data import CALLS, build_edge_store
from tools.base import ToolContext
from tools.registry import call_tool

GOLDEN = Path(__file__).parent / "golden_sql"
# The analytics the golden files keep (the four, each call's every query).
GOLDEN_TOOLS = ("funnel", "transitions", "paths", "retention")


def sent_queries(store: EventStore) -> list[tuple[str, dict, str, list]]:
    """(tool, arguments, sql, parameters) of every query the CALLS send, in order."""
    sent: list[tuple[str, dict, str, list]] = []
    current: list = []
    original = store_connection.TimedConnection.execute

    def recording(self, query, parameters=None):
        sent.append((*current, query, list(parameters or [])))  # type: ignore[arg-type]
        return original(self, query, parameters)

    store_connection.TimedConnection.execute = recording  # type: ignore[method-assign]
    try:
        ctx = ToolContext(store)
        for name, args in CALLS:
            current[:] = [name, args]
            result = call_tool(ctx, name, dict(args))
            assert result.ok, f"{name}: {result.error}"
    finally:
        store_connection.TimedConnection.execute = original  # type: ignore[method-assign]
    return sent


def golden_texts(sent) -> dict[str, str]:
    """One file per call of a GOLDEN_TOOLS analytic and dialect: its queries, compiled."""
    files: dict[str, list[str]] = {}
    for i, (name, args) in enumerate(CALLS):
        if name not in GOLDEN_TOOLS:
            continue
        queries = [(q, p) for tool, a, q, p in sent if tool == name and a is args]
        for dialect in RUN_DIALECTS + PRINT_DIALECTS:
            key = f"{i:02d}_{name}.{dialect}.sql"
            files[key] = [f"-- {name} {args}"] + [
                compile_sql(q, p, dialect) + ";" for q, p in queries]
    return {key: "\n".join(lines) + "\n" for key, lines in files.items()}


@pytest.fixture(scope="module")
def sent(tmp_path_factory):
    return sent_queries(build_edge_store(tmp_path_factory.mktemp("portable")))


def test_every_query_stays_in_the_portable_subset(sent):
    outside = [f"{tool}: {problem}\n  {sql.strip()[:200]}" for tool, _, sql, params in sent
               for problem in problems(sql, params)]
    assert not outside, "\n".join(outside)


def test_the_sql_printed_for_each_dialect_is_the_golden_one(sent):
    texts = golden_texts(sent)
    assert texts, "no golden queries captured"
    missing = sorted(set(texts) - {p.name for p in GOLDEN.glob("*.sql")})
    assert not missing, f"no golden file for {missing}: python -m tests.test_sql_portable --write"
    changed = [key for key, text in texts.items()
               if (GOLDEN / key).read_text(encoding="utf-8") != text]
    assert not changed, (f"the compiled SQL changed for {changed}; if that is meant, rewrite "
                         "them: python -m tests.test_sql_portable --write")


@pytest.mark.parametrize("sql, problem", [
    ("SELECT list(e ORDER BY ts) AS l FROM t", "list(... ORDER BY"),
    ("SELECT l[1:2] AS s FROM t", "slice"),
    ("SELECT date_diff('day', a, b) AS d FROM t", "date_diff"),
    ("SELECT count(*) AS n FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.id = t.id)", "EXISTS"),
    ("WITH x AS (SELECT count(*) FROM t) SELECT * FROM x", "unnamed column"),
    ("SELECT NULL::DOUBLE, NULL::DOUBLE FROM t", "two output columns"),
    ("SELECT row_number() OVER (PARTITION BY p ORDER BY ts) AS rn FROM t", "tie-breaker"),
])
def test_the_lint_finds_each_construct_outside_the_subset(sql, problem):
    assert any(problem in p for p in problems(sql)), problems(sql)


def test_the_lint_passes_what_is_inside():
    assert problems("WITH x AS (SELECT p, count(*) AS n FROM t GROUP BY p) "
                    "SELECT p, n, row_number() OVER (ORDER BY ts, event_id) AS rn, "
                    "date_diff('week', date_trunc('week', a), date_trunc('week', b)) AS k "
                    "FROM x") == []


if __name__ == "__main__" and "--write" in sys.argv:
    with tempfile.TemporaryDirectory() as folder:
        texts = golden_texts(sent_queries(build_edge_store(Path(folder))))
    GOLDEN.mkdir(exist_ok=True)
    for old in GOLDEN.glob("*.sql"):
        old.unlink()
    for key, text in texts.items():
        (GOLDEN / key).write_text(text, encoding="utf-8")
    print(f"wrote {len(texts)} files to {GOLDEN}")
