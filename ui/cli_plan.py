"""`journey diagnose` and `journey plan`: pasted stage metrics -> diagnosis -> quick-win plan."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from analytics.diagnosis.diagnose import diagnose
from analytics.diagnosis.parser import MAX_CHARS
from analytics.diagnosis.plan import build_plan
from analytics.errors import JourneyError
from analytics.results import pct
from analytics.store import EventStore
from ui.cli import app
from ui.cli_analytics import Chart, Json, _emit
from ui.cli_output import console, print_json

MODELS = "b2b-saas, ecommerce, b2c-subscription or marketplace"


def _read_text(source: Optional[str]) -> str:
    if source in (None, "-"):
        if sys.stdin is None or sys.stdin.isatty():
            raise JourneyError("Paste the metrics into standard input, or give a file: "
                               "`journey diagnose metrics.txt`")
        return sys.stdin.read(MAX_CHARS + 1)
    path = Path(source)
    if not path.exists():
        raise JourneyError(f"{source}: file not found")
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        return handle.read(MAX_CHARS + 1)


@app.command("diagnose")
def diagnose_cmd(source: Optional[str] = typer.Argument(None, help="A text file, or - for "
                                                        "standard input."),
                 model: str = typer.Option("b2b-saas", "--model", help=MODELS + "."),
                 as_json: Json = False, chart: Chart = None) -> None:
    """Diagnose the stage metrics you already report (pasted from a deck or spreadsheet)."""
    result = diagnose(_read_text(source), model)
    table = Table(title=f"Stage conversion vs {model} benchmarks")
    for col in ("rank", "step", "conversion", "lost / month", "benchmark", "verdict",
                "gain at median"):
        table.add_column(col, justify="left" if col in ("step", "verdict") else "right")
    for t in sorted(result.transitions, key=lambda t: t.rank):
        bench = (f"{pct(t.benchmark[0], 0)}-{pct(t.benchmark[2], 0)}" if t.benchmark else "-")
        table.add_row(str(t.rank), f"{t.from_stage} -> {t.to_stage}", pct(t.conversion),
                      f"{t.lost:,.0f}", bench, t.verdict,
                      f"+{t.gain_at_median:,.0f}" if t.gain_at_median else "")
    _emit(result, as_json, chart, table)
    if not as_json:
        for issue in result.issues:
            console.print(f"[yellow]Check:[/] {issue.message}", highlight=False)
        for line in result.unread:
            console.print(f"[dim]Not read:[/] {line}", highlight=False)
        for item in result.sharpen:
            console.print(f"To sharpen this: {item}", highlight=False)


@app.command("plan")
def plan_cmd(ctx: typer.Context,
             metrics: Optional[str] = typer.Option(None, "--metrics", help="Pasted metrics "
                                                   "file (or -); default: your loaded data."),
             quarter: Optional[str] = typer.Option(None, "--quarter", help="e.g. 2027-Q1 "
                                                   "(default: next quarter)."),
             model: str = typer.Option("b2b-saas", "--model", help=MODELS + "."),
             md: bool = typer.Option(False, "--md", help="Print Markdown to paste into a doc."),
             as_json: Json = False) -> None:
    """A quarterly plan of 3-7 quick wins, each with KPI, expected lift, owner and holdout."""
    evidence = {}
    if metrics:
        diagnosis = diagnose(_read_text(metrics), model)
    else:
        from analytics.diagnosis.from_store import store_diagnosis
        from analytics.feedback.index import FeedbackIndex

        store = EventStore(ctx.obj.get("home") if ctx.obj else None)
        index = FeedbackIndex(store)
        index.ensure_current()
        with store.reader() as con:
            diagnosis, evidence = store_diagnosis(con, model, index)
    result = build_plan(diagnosis, quarter=quarter, evidence=evidence)
    if as_json:
        print_json(result.to_dict())
    elif md:
        sys.stdout.write(result.markdown())
    else:
        console.print(result.markdown(), highlight=False)
