"""Feedback commands: index, search, themes, and friction at a journey step."""

from __future__ import annotations

from datetime import date
from typing import Optional

import typer
from rich.table import Table

from analytics.errors import JourneyError
from analytics.feedback.friction import friction
from analytics.feedback.index import FeedbackIndex
from analytics.feedback.themes import themes
from analytics.results import pct
from analytics.store import EventStore
from ui.cli import app
from ui.cli_analytics import (Channel, Chart, Device, Json, Segment, Since, Until, Where, _emit,
                              _filters, _reader, _scoped)
from ui.cli_output import RowProgress, console, print_json

feedback_app = typer.Typer(help="What customers say: search, themes, and the index behind them.",
                           no_args_is_help=True)
app.add_typer(feedback_app, name="feedback")


def _index(ctx: typer.Context) -> FeedbackIndex:
    return FeedbackIndex(EventStore(ctx.obj.get("home") if ctx.obj else None))


@feedback_app.command("index")
def index_cmd(ctx: typer.Context, as_json: Json = False) -> None:
    """Redact, score and embed new feedback into the local search index."""
    index = _index(ctx)
    with RowProgress(enabled=not as_json) as progress:
        report = index.sync(progress=progress)
    if as_json:
        print_json(report)
        return
    for note in report.notes:
        console.print(f"[yellow]{note}[/]")
    console.print(f"{report.snippets:,} snippets indexed ({report.embedded:,} newly embedded, "
                  f"{report.updated:,} with new details (stage, customer, rating), "
                  f"{report.removed:,} removed).")


@feedback_app.command("search")
def search_cmd(
    ctx: typer.Context,
    query: str = typer.Argument(..., help='What to look for, in your words: "too expensive".'),
    k: int = typer.Option(8, "-k", help="How many snippets."),
    stage: Optional[str] = typer.Option(None, "--stage", help="Only feedback from this stage."),
    source: Optional[str] = typer.Option(None, "--source",
                                         help="review, nps, ticket, chat or survey."),
    sentiment: Optional[str] = typer.Option(None, "--sentiment",
                                            help="positive, neutral or negative."),
    since: Since = None,
    segment: Segment = None,
    as_json: Json = False,
) -> None:
    """Find what customers said about something, by meaning (not keywords)."""
    if sentiment and sentiment not in ("positive", "neutral", "negative"):
        raise JourneyError("--sentiment must be positive, neutral or negative")
    if source and source not in ("review", "nps", "ticket", "chat", "survey"):
        raise JourneyError("--source must be review, nps, ticket, chat or survey")
    index = _index(ctx)
    people = None
    with index.store.reader() as con:
        if stage:
            from analytics.catalog import load_catalog

            load_catalog(con).check_stage(stage)
        if segment:
            people = set(_scoped(con, _filters(None, None, None, None, None),
                                 segment).segment_people)
    try:
        day = date.fromisoformat(since) if since else None
    except ValueError:
        raise JourneyError(f"--since '{since}' is not a date; write YYYY-MM-DD") from None
    results = index.search(query, k=k, stage=stage, source=source, sentiment=sentiment,
                           since=day, people=people)
    if as_json:
        print_json({"kind": "feedback_search", "query": query, "snippets": results,
                    "definitions": {"similarity": "cosine similarity of the embeddings (0-1)",
                                    "same_text": "matching snippets with exactly this text",
                                    "text": "redacted: personal data replaced by placeholders"}})
        return
    table = Table(title=f'Feedback like "{query}"')
    for col in ("similarity", "said", "stage", "source", "date", "sentiment", "customer"):
        table.add_column(col, justify="right" if col == "similarity" else "left")
    for s in results:
        said = s.text + (f" (x{s.same_text})" if s.same_text > 1 else "")
        table.add_row(f"{s.similarity:.2f}", said, s.stage, s.source, s.date, s.sentiment,
                      s.customer_id or "anonymous")
    console.print(table)


@feedback_app.command("themes")
def themes_cmd(ctx: typer.Context,
               k: Optional[int] = typer.Option(None, "--k", help="Number of themes."),
               seed: int = typer.Option(0, "--seed"),
               as_json: Json = False, chart: Chart = None) -> None:
    """The themes customers talk about, with keywords, sentiment, where they occur and quotes."""
    from analytics.feedback.themes import feedback_segments

    index = _index(ctx)
    index.ensure_current()
    with _reader(ctx) as con:
        by_segment = feedback_segments(con)
    result = themes(index, k=k, seed=seed, segment_names=by_segment)
    table = Table(title=f"{result.k} themes in {result.snippets:,} snippets")
    for col in ("theme", "snippets", "negative", "mostly at", "mostly from", "quote"):
        table.add_column(col, justify="right" if col in ("snippets", "negative") else "left")
    for t in result.themes:
        where = ", ".join(f"{c.value} ({c.lift:.1f}x)" for c in t.stages[:2])
        who = ", ".join(f"{c.value} ({c.lift:.1f}x)" for c in t.segments[:1])
        table.add_row(t.label, f"{t.size:,}", pct(t.negative_share, 0), where, who,
                      t.quotes[0]["text"] if t.quotes else "")
    _emit(result, as_json, chart, table)


@app.command("friction")
def friction_cmd(
    ctx: typer.Context,
    step: str = typer.Argument(..., help="The step where customers drop, e.g. pricing_view."),
    next_step: Optional[str] = typer.Option(None, "--next",
                                            help="The step they should reach (default: the "
                                                 "next key step)."),
    since: Since = None, until: Until = None, channel: Channel = None, device: Device = None,
    where: Where = None, segment: Segment = None, as_json: Json = False, chart: Chart = None,
) -> None:
    """Why customers drop at a step: their themes and quotes against those who went on."""
    index = _index(ctx)
    index.ensure_current()
    with _reader(ctx) as con:
        result = friction(con, index, step, next_step=next_step,
                          filters=_scoped(con, _filters(since, until, channel, device, where),
                                          segment))
    table = Table(title=f"Dropped at {result.step} vs went on to {result.next_step}")
    for col in ("theme", "dropped", "went on", "customers", "what they said"):
        table.add_column(col, justify="left" if col in ("theme", "what they said") else "right")
    for t in result.themes[:8]:
        table.add_row(t.label, pct(t.dropped_share, 0), pct(t.passed_share, 0),
                      f"{t.dropped_people:,}", t.quotes[0]["text"] if t.quotes else "")
    _emit(result, as_json, chart, table)
