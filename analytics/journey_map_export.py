"""The journey map as a standalone page for the slide deck (and a PNG of it): the stages as
columns, a row per question, the emotion line drawn across the stages, one map per segment
side by side with the cells where they differ most outlined. Each cell's hover shows its
definition and the command that gives its numbers. No scripts, no network: the page opens
offline and prints.
"""

from __future__ import annotations

import html
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from analytics.errors import JourneyError
from analytics.journey_canvas import ROWS, STAGE_ROWS, StageColumn

if TYPE_CHECKING:
    from analytics.journey_map import JourneyMapResult

# Okabe-Ito: the line and the marks stay apart for colour-blind readers and in grey print.
LINE, GOOD, BAD, MARK = "#0072B2", "#009E73", "#D55E00", "#CC79A7"


def stage_groups(columns: list[StageColumn]) -> list[tuple[int, int]]:
    """(first column, how many) for each run of columns in the same stage."""
    groups: list[tuple[int, int]] = []
    for k, col in enumerate(columns):
        if groups and columns[groups[-1][0]].stage == col.stage and col.stage:
            groups[-1] = (groups[-1][0], groups[-1][1] + 1)
        else:
            groups.append((k, 1))
    return groups


def emotion_svg(columns: list[StageColumn], width: int = 900, height: int = 90) -> str:
    """The classic emotion line: net sentiment per stage, from -100% (bottom) to +100%, a
    point at the middle of each stage's columns."""
    n = len(columns)
    if not n:
        return ""
    step = width / n
    points, dots = [], []
    for first, span in stage_groups(columns):
        col = columns[first]
        if col.sentiment is None:
            continue
        x = step * (first + span / 2)
        y = height / 2 - col.sentiment * (height / 2 - 8)
        points.append(f"{x:.0f},{y:.0f}")
        colour = GOOD if col.sentiment > 0.2 else BAD if col.sentiment < -0.2 else LINE
        dots.append(f"<circle cx='{x:.0f}' cy='{y:.0f}' r='6' fill='{colour}'><title>"
                    f"{html.escape(col.stage)}: net sentiment {col.sentiment:+.0%}</title>"
                    "</circle>")
    axis = (f"<line x1='0' y1='{height / 2:.0f}' x2='{width}' y2='{height / 2:.0f}' "
            "stroke='#999' stroke-dasharray='4 4'/>")
    line = (f"<polyline fill='none' stroke='{LINE}' stroke-width='3' points='{' '.join(points)}'"
            "/>" if len(points) >= 2 else "")
    return (f"<svg class='emotion' viewBox='0 0 {width} {height}' width='100%' "
            f"height='{height}' role='img' aria-label='net sentiment by stage'>{axis}{line}"
            + "".join(dots) + "</svg>")


def _wrap(text: str) -> str:
    """Escaped text that breaks after an underscore (an event name) before mid-word."""
    return html.escape(text).replace("_", "_<wbr>")


def _table(columns: list[StageColumn], marked: set[tuple[str, str]], title: str = "") -> str:
    e = html.escape
    groups = stage_groups(columns)
    stages = "".join(f"<th colspan='{span}' class='stage'>{e(columns[first].stage or '-')}</th>"
                     for first, span in groups)
    head = "".join(f"<th class='step'>{_wrap(c.step)}</th>" for c in columns)
    body = []
    for row in ROWS:
        cells = []
        # A stage's own rows span its steps; the step rows have a cell per step.
        spans = groups if row in STAGE_ROWS else [(k, 1) for k in range(len(columns))]
        for first, span in spans:
            c = columns[first]
            cell = c.cells.get(row)
            wide = f" colspan='{span}'" if span > 1 else ""
            if cell is None:
                cells.append(f"<td{wide}></td>")
                continue
            hover = " · ".join(x for x in (cell.definition, cell.source) if x)
            cls = " class='differs'" if (row, c.step) in marked else ""
            cells.append(f"<td{wide}{cls} title='{e(hover, quote=True)}'>{_wrap(cell.text)}"
                         "</td>")
        body.append(f"<tr><th class='row'>{e(row)}</th>{''.join(cells)}</tr>")
        if row == "feeling":
            line = emotion_svg(columns) if any(c.sentiment is not None for c in columns) else (
                "No feedback here to draw it from: load reviews, tickets or NPS answers "
                "(journey ingest feedback FILE).")
            body.append(f"<tr><th class='row'>emotion line</th><td colspan='{len(columns)}'>"
                        f"{line}</td></tr>")
    caption = f"<caption>{e(title)}</caption>" if title else ""
    return (f"<table class='map'>{caption}<thead><tr><th></th>{stages}</tr><tr><th></th>"
            f"{head}</tr></thead><tbody>"
            + "".join(body) + "</tbody></table>")


def map_html(result: JourneyMapResult) -> str:
    e = html.escape
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Journey map"
             f"</title><style>{CSS}</style></head><body><h1>Journey map</h1>",
             f"<p class='summary'>{e(result.summary)}</p>"]
    marked = set(result.differs)
    if result.compared:
        parts.append(f"<p>Side by side by {e(result.compare_by or '')}; outlined: where they "
                     "differ most.</p>")
        for value, columns in result.compared:
            parts.append(_table(columns, marked, f"{result.compare_by}: {value}"))
    else:
        parts.append(_table(result.columns, marked))
    scope = ", ".join(f"{k}: {v}" for k, v in (result.filters or {}).items())
    parts.append(f"<footer>Data: {e(result.data_range)}" + (f"; scope: {e(scope)}" if scope
                                                            else "")
                 + ". Hover a cell for its definition and the command that shows its numbers. "
                 "Moments of truth are correlations, not causes.</footer></body></html>")
    return "".join(parts)


CSS = ("body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;font-size:14px}"
       "h1{font-size:1.5em;margin:0 0 .4em}p.summary{max-width:70em}"
       "table.map{border-collapse:collapse;width:100%;table-layout:fixed;margin:1em 0 2em}"
       "table.map caption{text-align:left;font-weight:600;font-size:1.1em;padding:.3em 0}"
       "table.map th,table.map td{border:1px solid #ccc;padding:6px;vertical-align:top;"
       "overflow-wrap:anywhere}table.map thead th{background:#f2f2f2}"
       "th.stage{font-weight:700;text-transform:capitalize;padding:6px 2px}"
       "th.step{font-weight:400;color:#555;font-size:.9em}th.row{width:8em;text-align:left;background:#fafafa}"
       f"td.differs{{outline:3px solid {MARK};outline-offset:-3px}}"
       "footer{color:#555;font-size:.9em;max-width:70em}@media print{body{margin:0}}"
       # A slide's shape, a map per page when segments are side by side.
       "@page{size:A4 landscape;margin:10mm}@media print{table.map{break-inside:avoid}}")


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def write_png(result: JourneyMapResult, path: str, width: int = 1600) -> None:
    """The page as the system's headless Chromium draws it (nothing is downloaded)."""
    height = 260 + 90 * (len(ROWS) + 1) * max(len(result.compared), 1)
    _render(result, path, ["--screenshot={out}", f"--window-size={width},{height}"], "PNG")


def write_pdf(result: JourneyMapResult, path: str) -> None:
    """The page printed by the system's headless Chromium (landscape, as the page asks)."""
    _render(result, path, ["--no-pdf-header-footer", "--print-to-pdf={out}"], "PDF")


def _render(result: JourneyMapResult, path: str, options: list[str], what: str) -> None:
    """Chromium turns the page into a file, written whole: a missing folder is said before
    Chromium starts, a failed render leaves no file."""
    from analytics.export_files import write_whole

    browser = chromium()
    if browser is None:
        raise JourneyError(f"A {what} needs Chromium (e.g. 'apt-get install chromium'); "
                           "use --html for the page itself")

    def render(partial: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            page = Path(tmp) / "map.html"
            page.write_text(result.html(), encoding="utf-8")
            out = Path(tmp) / f"map.{what.lower()}"
            done = subprocess.run(
                # A profile of its own: a Chromium already open (the user's) is not disturbed
                # and does not take the job over.
                [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                 f"--user-data-dir={Path(tmp) / 'profile'}", "--no-first-run",
                 "--disable-extensions", "--disable-background-networking",
                 *[o.format(out=out) for o in options], page.as_uri()],
                capture_output=True, timeout=120, check=False)
            if not out.exists():
                raise JourneyError(f"Chromium made no {what}: {done.stderr.decode()[-300:]}")
            shutil.move(str(out), partial)

    write_whole(path, render)
