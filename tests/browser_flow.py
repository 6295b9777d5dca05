"""Driving the web app as a marketer would, in Debian's headless Chromium (shared by the browser
test and benchmarks/ui_benchmark.py). Gradio keeps a connection open, so every step waits for
content on the page, never for network idle."""

from __future__ import annotations

import shutil
import time
from contextlib import contextmanager
from pathlib import Path

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def browser_page(url: str, outside: list[str]):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(
            ("http://127.0.0.1", "data:", "blob:")) else None)
        page.goto(url)
        page.get_by_placeholder("Where do we lose people?").wait_for(timeout=60_000)
        try:
            yield page
        finally:
            browser.close()


def ask(page, question: str, expect: str = "[R") -> float:
    """Seconds from pressing Enter to the answer (with a result id) on the page."""
    box = page.get_by_placeholder("Where do we lose people?")
    box.fill(question)
    before = page.get_by_text(expect).count()
    started = time.perf_counter()
    box.press("Enter")
    deadline = started + 90
    while page.get_by_text(expect).count() <= before:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no answer to {question!r}")
        page.wait_for_timeout(50)
    return time.perf_counter() - started


def download(page, button: str, target: Path) -> bytes:
    """Press a download button and save what its file link serves; the link is found by the
    file's extension (it shows the size, not the name, and other tabs keep theirs)."""
    pressed = page.get_by_role("button", name=button)
    # Scrolled to first: below a tall frame, a click before the page settles is lost.
    pressed.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    pressed.click()
    link = page.locator(f"a[download$='{target.suffix}']").first
    link.wait_for(timeout=60_000)
    with page.expect_download() as info:
        link.click()
    info.value.save_as(str(target))
    return target.read_bytes()


def show_map(page, fields: dict[str, str]) -> dict:
    """The Journey map tab with these fields filled in: the drawn map's captions, stage headers
    and step headers (as the page holds them)."""
    page.evaluate("window.scrollTo(0, 0)")
    page.get_by_role("tab", name="Journey map").click()
    for label, value in fields.items():
        page.get_by_label(label).fill(value)
    page.get_by_role("button", name="Show the journey").click()
    frame = page.frame_locator("iframe[title='journey map']")
    frame.locator("table.map").first.wait_for(timeout=90_000)

    def texts(selector: str) -> list[str]:
        return [t.strip() for t in frame.locator(selector).all_text_contents()]

    return {"captions": texts("table.map caption"), "stages": texts("th.stage"),
            "steps": texts("th.step"), "differs": frame.locator("td.differs").count()}


def tour(page, shots: Path, bad_csv: Path, downloads: Path) -> dict:
    """Every screen: chat, journey map, diagnose, plan (+download), data (bad upload)."""
    shots.mkdir(parents=True, exist_ok=True)
    found: dict = {}
    found["first_answer_s"] = ask(page, "Why do people leave at pricing?")
    page.locator(".js-plotly-plot").first.wait_for(timeout=30_000)
    page.screenshot(path=str(shots / "chat.png"))
    page.get_by_role("tab", name="Journey map").click()
    page.get_by_label("Side by side by (device, channel, plan...)").fill("device")
    page.get_by_role("button", name="Show the journey").click()
    page.get_by_text("biggest drop-off").first.wait_for(timeout=60_000)
    # The map itself, two segments side by side, their most different cell outlined.
    frame = page.frame_locator("iframe[title='journey map']")
    frame.locator("td.differs").first.wait_for(timeout=60_000)
    found["map_tables"] = frame.locator("table.map").count()
    found["map_png"] = download(page, "Download the map as PNG", downloads / "journey-map.png")[:4]
    # The map from its top (the stage headers), for the README.
    page.locator("iframe[title='journey map']").scroll_into_view_if_needed()
    page.locator("iframe[title='journey map']").screenshot(path=str(shots / "journey-map.png"))
    page.evaluate("window.scrollTo(0, 0)")  # back up to the tabs, above the map's frame
    page.wait_for_timeout(500)
    page.get_by_role("tab", name="Diagnose").click()
    page.get_by_label("Paste your stage metrics").fill(
        "Awareness: 12k visitors/month, 40% bounce\nConsideration: 2,000 pricing views/month\n"
        "Evaluation: 120 trials/month\nPurchase: 18 customers/month, 25% trial to paid")
    page.get_by_role("button", name="Diagnose").click()
    page.get_by_text("biggest loss").first.wait_for(timeout=30_000)
    found["diagnosis_shown"] = True
    page.screenshot(path=str(shots / "diagnose.png"))
    page.get_by_role("tab", name="Plan").click()
    page.get_by_role("button", name="Generate the quick-win plan").click()
    plan_box = page.get_by_label("Plan (Markdown, editable)")
    deadline = time.time() + 60
    while "# Quick-win plan" not in plan_box.input_value():
        if time.time() > deadline:
            raise TimeoutError("no plan")
        page.wait_for_timeout(100)
    found["plan_download"] = download(page, "Download as Markdown",
                                      downloads / "plan.md").decode()
    found["plan_pdf"] = download(page, "Download as PDF", downloads / "plan.pdf")[:4]
    page.screenshot(path=str(shots / "plan.png"))
    page.get_by_role("tab", name="Data").click()
    # The journey model every default uses, shown and changed here (then put back).
    page.get_by_text("Main journey:").first.wait_for(timeout=30_000)
    found["model_shown"] = page.get_by_text("Main journey:").first.inner_text()
    page.get_by_label("Event, or steps in order (A > B > C)").fill("subscription_started")
    page.get_by_role("button", name="Save the journey model").click()
    page.get_by_text("Set by you: conversion").first.wait_for(timeout=30_000)
    page.get_by_label("Back to what the data say").check()
    page.get_by_label("Event, or steps in order (A > B > C)").fill("")
    page.get_by_role("button", name="Save the journey model").click()
    page.get_by_text("Set by you: conversion").first.wait_for(state="detached", timeout=30_000)
    found["model_reset"] = True
    page.locator("input[type=file]").first.set_input_files(str(bad_csv))
    page.wait_for_timeout(500)
    page.get_by_role("button", name="Load", exact=True).click()
    page.get_by_text("Not loaded.").first.wait_for(timeout=30_000)
    found["upload_error"] = page.locator("p", has_text="Not loaded.").first.inner_text()
    page.screenshot(path=str(shots / "data.png"))
    return found


def funnels_and_paths(page, downloads: Path) -> dict:
    """The Funnels & paths tab: a funnel with an exclusion step and a held device, the people
    who dropped as a CSV, the paths of those who dropped, and a pattern."""
    page.evaluate("window.scrollTo(0, 0)")
    page.get_by_role("tab", name="Funnels & paths").click()
    found: dict = {}
    page.get_by_label("Steps", exact=True).fill("pricing_view, signup, subscription_started")
    page.get_by_label("Exclusion steps", exact=True).fill("signup@1-2")
    page.get_by_label("Same value throughout", exact=True).fill("device")
    page.get_by_role("button", name="Run the funnel").click()
    page.get_by_text("removed by the exclusion steps").first.wait_for(timeout=60_000)
    found["funnel_text"] = page.get_by_text("removed by the exclusion steps").first.inner_text()
    page.get_by_label("People at step", exact=True).fill("2")
    page.get_by_label("Who", exact=True).click()
    page.get_by_role("option", name="dropped").click()
    found["people_csv"] = download(page, "Download those people (CSV)",
                                   downloads / "dropped.csv").decode("utf-8")
    page.get_by_label("Funnel of those who dropped", exact=True).fill(
        "checkout_started, subscription_started")
    page.get_by_label("Dropped at step", exact=True).fill("2")
    page.get_by_role("button", name="Show the paths").click()
    said = page.get_by_text("did not go on to subscription_started").first
    said.wait_for(timeout=60_000)
    found["paths_text"] = said.inner_text()
    page.get_by_label("Pattern", exact=True).fill(
        "checkout_started ->[^payment_error]*-> subscription_started")
    page.get_by_role("button", name="Count the pattern").click()
    counted = page.get_by_text("Started and never reached subscription_started").first
    counted.wait_for(timeout=60_000)
    found["match_text"] = counted.inner_text()
    return found
