"""The web app: its handlers in-process, and the real page in headless Chromium."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import gradio as gr
import pytest

from analytics.store import EventStore
from tools.base import ToolContext
from tools.registry import call_tool
from ui.web import JourneyApp, build


@pytest.fixture(scope="module")
def app(demo_store):
    return JourneyApp(demo_store)


def test_chat_streams_tool_steps_then_the_answer(app):
    steps = list(app.respond("Why do people leave at pricing?", [], None))
    history, agent, box = steps[-1]
    assert history[0] == {"role": "user", "content": "Why do people leave at pricing?"}
    steps_shown = [m["metadata"] for m in history if m.get("metadata")]
    # First how the question was read (so a wrong reading is visible), then each tool.
    assert steps_shown[0]["title"] == "How I read the question"
    assert "steps: pricing_view" in history[1]["content"]
    assert steps_shown[1]["title"].startswith("Tool: friction")
    assert all(m["status"] == "done" for m in steps_shown)  # collapsed under their title
    *_, answer, chart = history
    assert "mention" in answer["content"] and agent is not None
    assert isinstance(chart["content"], gr.Plot)  # the chart sits in the conversation
    assert chart["content"].value is not None
    assert len(steps) >= 3  # the question shows first, then each tool, then the answer
    follow = list(app.respond("and on mobile?", history, agent))[-1][0]
    assert len(follow) > len(history)


def test_tabs_work_without_a_browser(app, tmp_path):
    text, page, funnel, flows = app.journey_map("", "", "mobile", "")
    assert "mention" in text and funnel is not None and flows is not None
    assert page.startswith("<iframe") and "stage" in page
    # Side by side, in the app and for the deck.
    _, both, _, _ = app.journey_map("", "", "", "", "", "device")
    assert both.count("table class=&#x27;map&#x27;") == 2
    exported = app.export_map("", "", "", "", "", "device", "", "html")
    assert str(app.store.temp_folder()) in exported and "differs" in open(exported).read()
    printed = app.export_map("", "", "", "", "", "device", "", "pdf")
    assert open(printed, "rb").read(4) == b"%PDF"
    # Before and after a date: two maps, each of its own period.
    _, periods, _, _ = app.journey_map("", "", "", "", "", "", "2026-06-01")
    assert periods.count("table class=&#x27;map&#x27;") == 2
    assert "period: before 2026-06-01" in periods and "period: from 2026-06-01" in periods
    assert app.journey_map("", "", "", "", "", "", "1999-01-01")[0].startswith(
        "Or before/after a date: 1999-01-01 must fall after")
    diagnosis, chart = app.diagnose("Awareness: 12k visitors/month\nTrials: 300/month\n"
                                    "Customers: 60/month", "b2b-saas")
    assert "biggest loss" in diagnosis and chart is not None
    assert "Nothing to read" in app.diagnose("", "b2b-saas")[0]
    plan, gantt = app.plan("", "2027-Q1", "b2b-saas")
    assert plan.startswith("# Quick-win plan, 2027-Q1") and gantt is not None
    assert open(app.download(plan)).read() == plan
    # The deck's exports come from the same plan, under the data folder.
    pdf, page = app.export("", "2027-Q1", "b2b-saas", "pdf"), app.export("", "2027-Q1",
                                                                         "b2b-saas", "html")
    assert open(pdf, "rb").read(4) == b"%PDF" and "On one page" in open(page).read()
    assert str(app.store.temp_folder()) in pdf


def test_data_tab_loads_and_explains_errors(tmp_path):
    app = JourneyApp(EventStore(tmp_path / "h"))
    good = tmp_path / "e.csv"
    good.write_text("user_id,timestamp,event\nu1,2024-01-01,signup\n")
    message, status = app.upload(str(good), "events", "", "fail")
    assert "Loaded **1**" in message and status["events"] == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,timestamp,event\nu1,someday,signup\n")
    message, status = app.upload(str(bad), "events", "", "fail")
    assert message.startswith("**Not loaded.**") and "row 1" in message
    assert status["events"] == 1


def test_data_tab_reads_a_vendor_export_and_says_how(tmp_path):
    """The Data tab previews and loads a vendor's export as exported, with the CLI's notes."""
    fixtures = Path(__file__).parent / "fixtures" / "vendors"
    app = JourneyApp(EventStore(tmp_path / "h"))
    shown = JourneyApp.preview(str(fixtures / "segment.jsonl"), "events", "")
    assert "Read as a **Segment archive" in shown and "| context.device.type | device |" in shown
    message, status = app.upload(str(fixtures / "segment.jsonl"), "events", "", "fail")
    assert "read as a Segment archive" in message and "identify/alias call(s)" in message
    assert status["people"] == 40
    message, _ = app.upload(str(fixtures / "hubspot_contacts.csv"), "customers", "", "fail",
                            "auto", "Europe/Berlin")
    assert "given the product's user id" in message
    message, _ = app.upload(str(fixtures / "hubspot_deals.csv"), "deals", "", "fail", "auto",
                            "Europe/Berl")
    assert message.startswith("**Not loaded.**") and "Europe/Berlin" in message


def test_column_mapping_preview(tmp_path):
    path = tmp_path / "mixpanel.csv"
    path.write_text("distinct_id,time,event,plan\nu1,1704103200,signup,pro\n")
    shown = JourneyApp.preview(str(path), "events", "")
    assert "| distinct_id | customer_id |" in shown and "| time | timestamp |" in shown
    assert "Kept as event properties: plan" in shown
    missing = JourneyApp.preview(str(path), "feedback", "")
    assert "cannot be loaded as feedback" in missing and "text" in missing


def test_the_app_builds(demo_store):
    assert build(demo_store) is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(home):
    """`journey ui` on a store, on 127.0.0.1 and a free port, stopped afterwards."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from ui.cli import run; run()", "--home", str(home),
         "ui", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the web app did not start: " + proc.stdout.read().decode()[-2000:])
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(demo_store):
    with serving(demo_store.home) as url:
        yield url


def _status(url: str, headers: dict) -> int:
    import urllib.error

    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                      timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_foreign_host_or_origin_is_refused(server, demo_store):
    """DNS rebinding and cross-site pages name another host: the app refuses them all, so
    no erase (or any call) can come through the public API from a page the analyst visits."""
    port = server.rsplit(":", 1)[1].strip("/")
    assert _status(server, {}) == 200
    assert _status(server, {"Host": f"localhost:{port}"}) == 200
    assert _status(server, {"Host": f"evil.example:{port}"}) == 403
    assert _status(server, {"Origin": "http://evil.example"}) == 403
    assert _status(server, {"Origin": f"http://127.0.0.1:{port}"}) == 200
    with demo_store.reader() as con:
        customer = con.execute("SELECT min(customer_id) FROM customers").fetchone()[0]
    body = json.dumps({"data": [customer, True]}).encode()
    for name in ("/gradio_api/call/forget", "/gradio_api/queue/join"):
        erase = urllib.request.Request(server.rstrip("/") + name, data=body, method="POST",
                                       headers={"Host": f"evil.example:{port}",
                                                "Content-Type": "application/json"})
        assert _post_status(erase) == 403
    time.sleep(1)
    with demo_store.reader() as con:
        assert con.execute("SELECT count(*) FROM customers WHERE customer_id = ?",
                           [customer]).fetchone()[0] == 1  # not erased


def _post_status(request) -> int:
    import urllib.error

    try:
        return urllib.request.urlopen(request, timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_page_serves_without_external_fonts(server):
    html = urllib.request.urlopen(server, timeout=10).read().decode()
    assert "Journey Agent" in html
    assert "fonts.googleapis" not in html and "fonts.gstatic" not in html


@pytest.mark.browser
@pytest.mark.slow
def test_a_marketer_uses_every_screen_in_the_browser(server, tmp_path):
    from tests.browser_flow import browser_page, chromium_path, tour

    if chromium_path() is None:
        pytest.fail("Chromium is missing: .ci/run installs it (apt-get install chromium)")
    bad = tmp_path / "bad_events.csv"
    bad.write_text("user_id,timestamp,event\nu1,not-a-date,signup\n")
    outside: list[str] = []
    with browser_page(server, outside) as page:
        found = tour(page, tmp_path / "shots", bad, tmp_path)
    print(f"\nfirst chat answer appeared {found['first_answer_s']:.2f} s after Enter")
    assert found["map_tables"] == 2 and found["map_png"] == b"\x89PNG"
    assert found["diagnosis_shown"]
    assert found["plan_download"].startswith("# Quick-win plan") and found["plan_pdf"] == b"%PDF"
    assert "subscription_started" in found["model_shown"] and found["model_reset"]
    assert "bad_events.csv" in found["upload_error"] and "row 1" in found["upload_error"]
    for name in ("chat", "journey-map", "diagnose", "plan", "data"):
        assert (tmp_path / "shots" / f"{name}.png").stat().st_size > 10_000
    assert outside == []  # the page fetched nothing from outside this machine


@pytest.mark.browser
@pytest.mark.slow
def test_funnel_options_paths_and_patterns_in_the_browser(server, tmp_path):
    from tests.browser_flow import browser_page, funnels_and_paths

    outside: list[str] = []
    with browser_page(server, outside) as page:
        found = funnels_and_paths(page, tmp_path)
    assert "people were removed by the exclusion steps" in found["funnel_text"]
    ids = found["people_csv"].split()
    assert ids[0] == "person_id" and len(ids) > 1
    assert found["paths_text"].split(" people reached")[0].replace(",", "").isdigit()
    assert "did checkout_started ->[^payment_error]*-> subscription_started" in \
        found["match_text"]
    assert outside == []


@pytest.mark.browser
@pytest.mark.slow
def test_another_domains_map_before_and_after_a_date_in_the_browser(tmp_path):
    """A shop's own stages as the columns, its weeks before and after a date side by side."""
    from sample_data.domains import write_domain
    from tests.browser_flow import browser_page, show_map

    paths = write_domain("shop", tmp_path / "files")
    ctx = ToolContext(EventStore(tmp_path / "home"))
    for kind in ("events", "customers", "feedback"):
        if kind in paths:
            assert call_tool(ctx, "ingest", {"kind": kind, "paths": [str(paths[kind])]}).ok
    with ctx.store.reader() as con:
        stages = [r[0] for r in con.execute("SELECT DISTINCT stage FROM stage_map").fetchall()]
        first, last = con.execute("SELECT min(ts), max(ts) FROM events").fetchone()
    middle = (first + (last - first) / 2).date().isoformat()
    outside: list[str] = []
    with serving(ctx.store.home) as url, browser_page(url, outside) as page:
        shown = show_map(page, {"Or before/after a date (YYYY-MM-DD)": middle})
    assert shown["captions"] == [f"period: before {middle}", f"period: from {middle}"]
    assert shown["stages"] and set(shown["stages"]) <= set(stages)
    assert "landing_view" not in " ".join(shown["steps"])  # the shop's events, not the demo's
    assert outside == []


@pytest.mark.slow
def test_twenty_concurrent_chat_sessions(server):
    from tests.load_flow import run_load

    result = run_load(server, 20, ["signup", "pricing_view", "checkout_started",
                                   "landing_view", "onboarding_started"])
    assert result["errors"] == []
    assert result["answers"] == 40
    print(f"\n20 sessions: {result['throughput']:.1f} answers/s, p95 {result['p95_s']:.2f} s")


def test_an_llm_answer_shows_its_chart_like_an_offline_one(app):
    """The LLM path keeps each tool's typed result, chart included, through the web chat."""
    from langchain_core.messages import AIMessage

    from agent.llm import LLMAgent
    from tests.scripted_model import ScriptedChatModel, tool_call
    from tools.session import Session

    model = ScriptedChatModel(replies=[
        tool_call("funnel", {"steps": ["pricing_view", "signup"], "by": "device"}),
        AIMessage("On mobile [[R1.groups.1.steps.1.conversion_from_previous|pct]] sign up "
                  "after pricing."),
    ])
    agent = LLMAgent(Session(app.shared), model)
    history = list(app.respond("why is mobile worse?", [], agent))[-1][0]
    *_, answer, chart = history
    assert answer["content"].startswith("On mobile ") and "%" in answer["content"]
    assert isinstance(chart["content"], gr.Plot) and chart["content"].value is not None
    assert agent.session.get("R1").result.kind == "funnel"


def test_each_browser_session_has_its_own_bounded_conversation(app):
    first = list(app.respond("Where do we lose people?", [], None))[-1][1]
    second = list(app.respond("Where do we lose people?", [], None))[-1][1]
    assert first.session is not second.session and first.ctx is second.ctx  # shared caches
    assert first.session.max_results > 0 and len(first.session.results) <= \
        first.session.max_results


# -- sign-in and roles ---------------------------------------------------------------------------

PASSWORDS = {"vera": ("viewer", "vera-looks-only-1"), "ana": ("analyst", "ana-loads-data-22"),
             "adam": ("admin", "adam-erases-333")}


@pytest.fixture()
def signed_store(demo_store, tmp_path):
    """A private copy of the demo store with a viewer, an analyst and an admin (users must not
    leak into the shared demo store that the other tests serve without sign-in)."""
    import shutil

    from analytics.store.accounts import Accounts

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(demo_store.path, home / demo_store.path.name)
    accounts = Accounts(home)
    for name, (role, password) in PASSWORDS.items():
        accounts.add_user(name, role, password)
    return EventStore(home)


class _Request:
    def __init__(self, username):
        self.username = username


def _customers(store, customer) -> int:
    with store.reader() as con:
        return con.execute("SELECT count(*) FROM customers WHERE customer_id = ?",
                           [customer]).fetchone()[0]


def test_each_write_needs_its_role_and_is_audited(signed_store, tmp_path):
    from analytics.store.audit import entries

    app = JourneyApp(signed_store)
    with signed_store.reader() as con:
        customer = con.execute("SELECT min(customer_id) FROM customers").fetchone()[0]
    events = tmp_path / "more.csv"
    events.write_text("customer_id,event_name,timestamp\nZ1,signup,2026-11-01T10:00:00\n")
    # A viewer can ask but neither load nor erase; an analyst loads but cannot erase.
    history, _, _ = list(app.respond("Where do we lose people?", [], None,
                                     _Request("vera")))[-1]
    said = " ".join(m["content"] for m in history if isinstance(m["content"], str))
    assert "I could not answer" not in said and "Restart" not in said
    said, _ = app.upload(str(events), "events", "", "fail", request=_Request("vera"))
    assert "Not loaded" in said and "needs the analyst role" in said
    said, _ = app.forget(customer, True, _Request("ana"))
    assert "Not erased" in said and "needs the admin role" in said
    assert _customers(signed_store, customer) == 1
    said, _ = app.upload(str(events), "events", "", "fail", request=_Request("ana"))
    assert said.startswith("Loaded **1**")
    said, _ = app.forget(customer, True, _Request("adam"))
    assert said.startswith("Erased")
    assert _customers(signed_store, customer) == 0
    # Nobody known (no session, or a user removed since): nothing is written.
    said, _ = app.forget("Z1", True, _Request(None))
    assert "Not erased" in said
    log = [(e.who, e.action, e.ok) for e in entries(signed_store.home)]
    assert log[-4:] == [("vera", "ingest", False), ("ana", "forget", False),
                        ("ana", "ingest", True), ("adam", "forget", True)]
    assert customer not in (signed_store.home / "audit.jsonl").read_text()


def test_wrong_passwords_lock_the_name_for_a_while(signed_store):
    app = JourneyApp(signed_store)
    assert app.sign_in("vera", PASSWORDS["vera"][1])
    for _ in range(5):
        assert not app.sign_in("vera", "guess")
    assert not app.sign_in("vera", PASSWORDS["vera"][1])  # locked, even with the right one
    assert app.sign_in("adam", PASSWORDS["adam"][1])  # other names are not


@contextmanager
def _serving(home):
    """`journey ui` on `home`, on a free loopback port, stopped afterwards."""
    import httpx

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from ui.cli import run; run()", "--home", str(home), "ui",
         "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                httpx.get(url, timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("the web app did not start: " + proc.stdout.read().decode()[-2000:])
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_web_api_needs_a_signed_in_session(signed_store):
    import httpx

    with signed_store.reader() as con:
        customer = con.execute("SELECT min(customer_id) FROM customers").fetchone()[0]
    with _serving(signed_store.home) as url:
        body = {"data": [customer, True]}
        for path in ("/gradio_api/call/forget", "/gradio_api/queue/join",
                     "/gradio_api/upload", "/config"):
            assert httpx.post(url + path, json=body, timeout=10).status_code in (401, 405), path
        assert httpx.get(url + "/config", timeout=10).status_code == 401
        with httpx.Client(base_url=url, timeout=10) as browser:
            bad = browser.post("/login", data={"username": "vera", "password": "nope"})
            assert bad.status_code == 400
            good = browser.post("/login", data={"username": "vera",
                                                "password": PASSWORDS["vera"][1]})
            assert good.status_code == 200
            assert browser.get("/config").status_code == 200
        time.sleep(0.5)
        assert _customers(signed_store, customer) == 1


@pytest.mark.browser
@pytest.mark.slow
def test_an_analyst_signs_in_asks_and_cannot_erase(signed_store):
    from tests.browser_flow import CHROMIUM_ARGS, ask, chromium_path

    if chromium_path() is None:
        pytest.fail("Chromium is missing: .ci/run installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with signed_store.reader() as con:
        customer = con.execute("SELECT min(customer_id) FROM customers").fetchone()[0]
    outside: list[str] = []
    with _serving(signed_store.home) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(
            ("http://127.0.0.1", "data:", "blob:")) else None)
        page.goto(url)
        page.get_by_label("username").fill("ana")
        page.get_by_label("password").fill(PASSWORDS["ana"][1])
        page.get_by_role("button", name="Login").click()
        page.get_by_placeholder("Where do we lose people?").wait_for(timeout=60_000)
        ask(page, "Where do we lose people?")
        page.get_by_role("tab", name="Data").click()
        page.get_by_role("textbox", name="Customer id").fill(customer)
        page.get_by_label("I confirm: erase every trace of this customer").check()
        page.get_by_role("button", name="Erase").click()
        page.get_by_text("needs the admin role").wait_for(timeout=30_000)
        browser.close()
    assert _customers(signed_store, customer) == 1
    assert outside == []


def test_beyond_loopback_the_app_needs_users(demo_store, tmp_path):
    import shutil

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(demo_store.path, home / demo_store.path.name)
    done = subprocess.run(
        [sys.executable, "-c", "from ui.cli import run; run()", "--home", str(home), "ui",
         "--host", "0.0.0.0", "--port", str(_free_port())], capture_output=True, text=True,
        timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert "journey users add" in done.stderr and "without sign-in" in done.stderr


def test_the_funnels_and_paths_tab_without_a_browser(app):
    from ui.web import problem
    from ui.web_analyses import Analyses, listed

    tab = Analyses(app.shared, problem, app._export_folder)
    assert listed("a, b[plan=x,y] ,c") == ["a", "b[plan=x,y]", "c"]
    form = ["pricing_view, signup, subscription_started", "strict", "30d", "", "signup@1-2",
            "device", "", "", "", ""]
    text, chart = tab.funnel(*form)
    assert "removed by the exclusion steps" in text and chart is not None
    assert "| step |" in text or "| step" in text.lower()
    csv = tab.funnel_people(2, "dropped", *form)
    assert str(app.store.temp_folder()) in csv
    ids = open(csv, encoding="utf-8").read().split()
    assert ids[0] == "person_id" and len(ids) > 1
    # A bad option says what to fix, by the form's own label.
    bad, none = tab.funnel("pricing_view, signup", "any", "", "1d", "", "", "", "", "", "")
    assert bad.startswith("**Not run.** Window per move:") and none is None
    paths, flows = tab.paths("", "", "", "", "checkout_started, subscription_started", 2, False,
                             6, "", "")
    assert "reached checkout_started and did not go on to subscription_started" in paths
    assert flows is not None
    leading, _ = tab.paths("", "", "subscription_started", "1d", "", None, False, 4, "", "")
    assert "did subscription_started" in leading
    refused, _ = tab.paths("", "", "", "1h", "", None, False, 6, "", "")
    assert refused.startswith("**Not run.** Within:")
    counted = tab.match("checkout_started ->[^payment_error]*-> subscription_started", "", "")
    assert "did checkout_started" in counted
