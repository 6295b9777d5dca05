"""`journey ask`: a question in plain words, answered from the tools."""

from __future__ import annotations

import typer
from rich.table import Table

from agent.llm import make_agent
from analytics.store import EventStore
from tools.base import ToolContext
from ui.cli import app
from ui.cli_analytics import Json
from ui.cli_output import console, print_json


@app.command("ask")
def ask_cmd(ctx: typer.Context,
            question: str = typer.Argument(..., help='Your question, e.g. "where do people drop '
                                                     'off?"'),
            as_json: Json = False) -> None:
    """Ask about your customers in your own words; every number comes from the analytics.

    With OPENAI_BASE_URL / OPENAI_API_KEY (and JOURNEY_MODEL) set, a language model picks the
    tools and writes the answer; otherwise the offline planner does. Either way the figures are
    the tools' own.
    """
    agent = make_agent(ToolContext(EventStore(ctx.obj.get("home") if ctx.obj else None)))
    answer = agent.ask(question)
    if as_json:
        print_json(answer.to_dict())
        return
    console.print(answer.text, highlight=False)
    if answer.results:
        table = Table(title="Tools used", show_header=True)
        for col in ("result", "tool", "arguments"):
            table.add_column(col)
        for r in answer.results:
            table.add_row(r.result_id or "-", r.tool, str(r.arguments))
        console.print(table)
