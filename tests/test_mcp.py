"""The MCP server through the SDK's own client over stdio, against `journey mcp`."""

from __future__ import annotations

import json
import sys

import anyio
import pytest

from tests.test_cli import journey


def _session(home, *extra, body):
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable,
        args=["-c", "from ui.cli import run; run()", "--home", str(home), "mcp", *extra])

    async def main():
        async with Client(params) as client:
            return await body(client)

    return anyio.run(main)


def test_tools_numbers_and_names_match_the_cli(demo_store):
    async def body(client):
        tools = await client.list_tools()
        funnel = await client.call_tool("funnel", {"steps": ["pricing_view", "signup"],
                                                   "by": "device"})
        wrong = await client.call_tool("funnel", {"steps": ["pricing_veiw", "signup"]})
        quotes = await client.call_tool("feedback_search", {"query": "too expensive", "k": 3})
        huge = await client.call_tool("funnel", {"steps": ["pricing_view"] * 10_000})
        assert huge.is_error and "steps: give at most 20" in huge.content[0].text
        catalog = await client.read_resource("journey://catalog")
        return tools, funnel, wrong, quotes, catalog

    tools, funnel, wrong, quotes, catalog = _session(demo_store.home, body=body)
    from tools.registry import BY_NAME, READ_TOOLS

    names = [t.name for t in tools.tools]
    assert names == [t.name for t in READ_TOOLS]  # one source of truth, read-only: no writes
    assert {"next_best_action", "p_alive", "journey_map"} <= set(names)
    schema = next(t for t in tools.tools if t.name == "funnel").input_schema
    assert schema == BY_NAME["funnel"].args.model_json_schema()
    # Limits are in the schema (the steps are optional: the journey model's by default).
    steps = next(a for a in schema["properties"]["steps"]["anyOf"] if a.get("type") == "array")
    assert steps["maxItems"] == 20 and steps["minItems"] == 2
    cli = json.loads(journey("funnel", "pricing_view", "signup", "--by", "device", "--json",
                             home=demo_store.home).stdout)
    result = funnel.structured_content["result"]
    assert not funnel.is_error and funnel.structured_content["result_id"].startswith("R")
    assert [s["customers"] for s in result["steps"]] == [s["customers"] for s in cli["steps"]]
    assert result["groups"] == cli["groups"] and result["definitions"] == cli["definitions"]
    assert wrong.is_error and "pricing_view" in wrong.content[0].text
    assert "<<<CUSTOMER_TEXT untrusted" in quotes.content[0].text
    assert "pricing_view" in catalog.contents[0].text


def test_writes_only_when_allowed(tmp_path):
    from analytics.store import EventStore, ingest_files

    store = EventStore(tmp_path / "h")
    path = tmp_path / "e.csv"
    path.write_text("user_id,timestamp,event\nu1,2024-01-01,signup\nu2,2024-01-01,signup\n")
    ingest_files(store, "events", [path])

    async def read_only(client):
        names = [t.name for t in (await client.list_tools()).tools]
        attempt = await client.call_tool("forget", {"customer_id": "u1"})
        return names, attempt

    names, attempt = _session(store.home, body=read_only)
    assert "forget" not in names and "ingest" not in names and attempt.is_error
    assert "--allow-writes" in attempt.content[0].text

    async def writable(client):
        names = [t.name for t in (await client.list_tools()).tools]
        erased = await client.call_tool("forget", {"customer_id": "u1"})
        bad = await client.call_tool("ingest", {"kind": "orders", "paths": [str(path)]})
        return names, erased, bad

    names, erased, bad = _session(store.home, "--allow-writes", body=writable)
    assert {"ingest", "forget"} <= set(names)
    assert not erased.is_error and erased.structured_content["result"]["events"] == 1
    assert bad.is_error and "kind: 'orders' is not one of" in bad.content[0].text
    with store.reader() as con:
        assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 1


def _http_server(home, *extra):
    import socket
    import subprocess

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-c", "from ui.cli import run; run()", "--home",
                               str(home), "mcp", "--http", "--port", str(port), *extra],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return server, f"http://127.0.0.1:{port}/mcp"


def _wait_for(url: str) -> None:
    import time

    import httpx

    for _ in range(120):
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.25)
    raise AssertionError("the MCP server did not start")


def _call(url: str, token: str | None, tool: str, arguments: dict):
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def main():
        transport = streamable_http_client(url, http_client=create_mcp_http_client(headers))
        async with Client(transport) as client:
            return await client.call_tool(tool, arguments)

    return anyio.run(main)


@pytest.fixture()
def private_copy(demo_store, tmp_path):
    """The demo store in a folder of its own: tokens and users must not leak into the shared
    demo store that other tests serve without sign-in."""
    import shutil

    from analytics.store import EventStore

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(demo_store.path, home / demo_store.path.name)
    return EventStore(home)


def test_streamable_http_needs_a_token_and_obeys_its_role(private_copy):
    import httpx

    from analytics.store.accounts import Accounts
    from analytics.store.audit import entries

    accounts = Accounts(private_copy.home)
    viewer = accounts.add_token("dashboard", "viewer")
    admin = accounts.add_token("ops", "admin")
    with private_copy.reader() as con:
        customer = con.execute("SELECT min(customer_id) FROM customers").fetchone()[0]
    server, url = _http_server(private_copy.home, "--allow-writes")
    try:
        _wait_for(url)
        # No token, a wrong token: refused before the MCP transport sees the request.
        assert httpx.post(url, json={}, timeout=5).status_code == 401
        assert httpx.post(url, json={}, timeout=5,
                          headers={"Authorization": "Bearer jat_wrong"}).status_code == 401
        result = _call(url, viewer, "funnel", {"steps": ["pricing_view", "signup"]})
        assert not result.is_error
        assert result.structured_content["result"]["kind"] == "funnel"
        # A viewer's token may not erase, even with writes offered.
        refused = _call(url, viewer, "forget", {"customer_id": customer})
        assert refused.is_error and "needs the admin role" in refused.content[0].text
        with private_copy.reader() as con:
            assert con.execute("SELECT count(*) FROM customers WHERE customer_id = ?",
                               [customer]).fetchone()[0] == 1
        erased = _call(url, admin, "forget", {"customer_id": customer})
        assert not erased.is_error, erased.content[0].text
        # Revoked: refused at once.
        accounts.remove_token("ops")
        assert httpx.post(url, json={}, timeout=5,
                          headers={"Authorization": f"Bearer {admin}"}).status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=30)
    log = [(e.who, e.action, e.ok) for e in entries(private_copy.home)]
    assert ("token dashboard", "forget", False) in log
    assert ("token ops", "forget", True) in log
    assert customer not in (private_copy.home / "audit.jsonl").read_text()


def test_streamable_http_refuses_to_start_without_tokens(private_copy):
    server, _ = _http_server(private_copy.home)
    assert server.wait(timeout=60) == 2
