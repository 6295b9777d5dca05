"""Nothing is fetched from outside, whatever the data say: customer text, names and pasted
lines are shown exactly as written, never as HTML, images, links or terminal escapes."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from analytics.results import markdown_literal, printable
from analytics.store import EventStore, ingest_files
from tests.test_cli import journey

# 198.51.100.0/24 is a documentation range: nothing answers there, and nothing may be asked.
HOSTILE = ['<img src=http://198.51.100.7/p.png> price too high',
           '![pixel](http://198.51.100.7/t.gif) the price is too high for us',
           '<script>fetch("http://198.51.100.7/x")</script> price too high',
           '[click here](http://198.51.100.7/phish) pricing is too expensive']


def test_markdown_literal_and_printable_by_hand():
    assert markdown_literal("<img src=x> ![p](u) [a](b) *b* a|b pricing_view 5.7%") == \
        r"\<img src=x\> !\[p\](u) \[a\](b) \*b\* a\|b pricing_view 5.7%"
    assert printable("a\x1b[31mb\x1b]8;;http://x\x07c\x00d\ne\tf\x9b") == "abcd\ne\tf"


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory) -> EventStore:
    base = tmp_path_factory.mktemp("hostile")
    events = ["user_id,timestamp,event,channel"]
    for i in range(60):
        channel = "\x1b[31memail\x1b]8;;http://198.51.100.7/\x07" if i % 2 else "[bold]ads[/]"
        events.append(f"u{i},2026-03-0{1 + i % 5}T10:00:00Z,pricing_view,{channel}")
        if i % 3 == 0:
            events.append(f"u{i},2026-03-0{1 + i % 5}T11:00:00Z,[red]signup[/red],{channel}")
    (base / "e.csv").write_text("\n".join(events) + "\n")
    rows = ["feedback_id,customer_id,timestamp,source,text"]
    for i in range(40):
        text = HOSTILE[i % 4].replace('"', '""')
        rows.append(f'F{i},u{i},2026-03-02T12:00:00Z,review,"{text}"')
    (base / "f.csv").write_text("\n".join(rows) + "\n")
    store = EventStore(base / "home")
    ingest_files(store, "events", [base / "e.csv"])
    ingest_files(store, "feedback", [base / "f.csv"])
    return store


def test_the_terminal_shows_names_as_written_and_no_escapes(hostile_store):
    shown = journey("status", home=hostile_store.home)
    assert shown.returncode == 0, shown.stderr
    assert "[red]signup[/red]" in shown.stdout  # markup in a name is shown, not applied
    assert "\x1b" not in shown.stdout and "198.51.100.7" not in shown.stdout
    funnel = journey("funnel", "pricing_view", "[red]signup[/red]", home=hostile_store.home)
    assert funnel.returncode == 0 and "[red]signup[/red]" in funnel.stdout
    wrong = journey("funnel", "pricing_view", "[blink]nope[/blink]", home=hostile_store.home)
    assert wrong.returncode == 2 and "[blink]nope[/blink]" in wrong.stderr


def test_the_web_chat_and_pages_show_text_as_written(hostile_store):
    from ui.web import JourneyApp

    app = JourneyApp(hostile_store)
    history = list(app.respond("what do customers say about the price?", [], None))[-1][0]
    said = "\n".join(m["content"] for m in history if isinstance(m.get("content"), str))
    # (redaction masks the address itself; the point is that it stays text)
    assert "&lt;img src=http://" in said and "&gt; price too high" in said
    assert "<img" not in said and "<script" not in said
    diagnosis, _ = app.diagnose("Awareness: 12,000 visitors/month\nTrials: 300/month\n"
                                "<img src=http://198.51.100.7/d.png> [x](http://198.51.100.7)",
                                "b2b-saas")
    assert r"\<img src=http://198.51.100.7/d.png\> \[x\]" in diagnosis
    preview = JourneyApp.preview(str(hostile_store.home.parent / "e.csv"), "events", "")
    assert "<" not in preview.replace("\\<", "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.browser
@pytest.mark.slow
def test_hostile_feedback_causes_no_outside_request_in_the_browser(hostile_store):
    from tests.browser_flow import ask, browser_page, chromium_path

    if chromium_path() is None:
        pytest.fail("Chromium is missing: `make test` installs it (apt-get install chromium)")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", "from ui.cli import run; run()", "--home",
                             str(hostile_store.home), "ui", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if time.time() > deadline:
                    pytest.fail("the web app did not start")
                time.sleep(0.5)
        outside: list[str] = []
        with browser_page(url, outside) as page:
            ask(page, "what do customers say about the price?", expect="What customers said")
            page.wait_for_timeout(1500)
            text = page.inner_text("body")
            page.get_by_role("tab", name="Journey map").click()
            page.get_by_role("button", name="Show the journey").click()
            page.wait_for_timeout(3000)
        assert outside == []  # no image, script or link fetched anything
        for quote in ("<img src=http://", "![pixel](http://", "<script>fetch(",
                      "[click here](http://"):
            assert quote in text, quote  # and every quote reads exactly as written
    finally:
        proc.terminate()
        proc.wait(timeout=30)
