"""Commands that look after the product rather than ask the data: demo data, the stage map,
exports, the feedback index, the health check, and starting the web app, MCP server or chat.

Each imports what it needs when it runs, so listing the commands stays instant.
"""

from __future__ import annotations

import shutil
from typing import Any

import click

from ui.cli_access import ACCESS_COMMANDS, audit
from ui.cli_doctor import doctor_cmd
from ui.cli_output import RowProgress, data, print_json, say, store_of, when_interrupted

JSON_HELP = "Print the result as JSON."


@click.command("demo-data")
@click.option("--customers", type=click.IntRange(min=50), default=20_000, show_default=True,
              help="How many people the demo journey follows.")
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed, same data.")
@click.option("--force", is_flag=True, help="Delete the data folder's store first (all data "
                                            "in it).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def demo_data(ctx: click.Context, customers: int, seed: int, force: bool, as_json: bool) -> None:
    """Generate and load a realistic B2B SaaS demo journey (with known, planted findings)."""
    from sample_data.demo import load_demo

    store = store_of(ctx)
    # Events, customers and feedback are three loads: a Ctrl-C between them keeps the first.
    when_interrupted("Interrupted: part of the demo may be loaded; `journey demo-data --force` "
                     "starts again.")
    if force and store.home.exists():
        for path in (store.path, store.home / "demo"):
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    with RowProgress(enabled=not as_json) as progress:
        result = load_demo(store, people=customers, seed=seed, progress=progress)
    audit(ctx, "demo-data", {"customers": customers, "seed": seed})
    if as_json:
        print_json(result)
        return
    say(f"Demo loaded into {store.home}: {result['events_loaded']:,} events, "
        f"{result['customers_loaded']:,} customers, {result['feedback_loaded']:,} feedback items "
        f"from {customers:,} people (seed {seed}).\nPlanted findings: {result['manifest']}")


@click.command("export")
@click.argument("table", type=click.Choice(["events", "customers", "feedback", "deals"]))
@click.argument("target", type=click.Path(dir_okay=False))
@click.option("--anonymize", is_flag=True, help="Replace ids with keyed hashes, drop "
                                                "attributes, redact feedback text.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def export_cmd(ctx: click.Context, table: str, target: str, anonymize: bool,
               as_json: bool) -> None:
    """Export a table (opted-out customers are never in an exported customer list)."""
    from analytics.store.export import export_table

    when_interrupted(f"Interrupted: {target} may be incomplete; export again.")
    rows = export_table(store_of(ctx), table, target, anonymize=anonymize)
    if as_json:
        print_json({"table": table, "target": target, "rows": rows, "anonymized": anonymize})
        return
    say(f"{rows:,} rows written to {data(target)}" + (" (anonymised)" if anonymize else ""))


@click.group("stages", no_args_is_help=True)
def stages_group() -> None:
    """See and change which journey stage each event belongs to."""


@stages_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def stages_show(ctx: click.Context, as_json: bool) -> None:
    """List the stages in order and the events in each."""
    from rich.table import Table

    from analytics.store.stages import list_stage_map
    from ui.cli_output import console

    stages, assignments = list_stage_map(store_of(ctx))
    if as_json:
        print_json({"stages": stages, "events": [a.__dict__ for a in assignments]})
        return
    from rich.text import Text

    from analytics.results import printable

    table = Table(title=Text(printable("Stage map (" + " -> ".join(stages) + ")")))
    for col in ("stage", "event", "set by"):
        table.add_column(col)
    for a in assignments:
        table.add_row(Text(printable(a.stage)), Text(printable(a.event_name)),
                      "you" if a.origin == "user" else "name rule")
    console().print(table)


@stages_group.command("set")
@click.argument("event")
@click.argument("stage")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def stages_set(ctx: click.Context, event: str, stage: str, as_json: bool) -> None:
    """Put an event (e.g. pricing_view) in a stage (e.g. consideration)."""
    from analytics.store.stages import set_event_stage

    a = set_event_stage(store_of(ctx), event, stage)
    audit(ctx, "stages set", {"event": a.event_name, "stage": a.stage})
    if as_json:
        print_json(a.__dict__)
        return
    say(f"{data(a.event_name)} is now in {data(a.stage)}.")


@stages_group.command("add")
@click.argument("stage")
@click.option("--after", default=None, help="Existing stage it follows.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def stages_add(ctx: click.Context, stage: str, after: str | None, as_json: bool) -> None:
    """Add a stage of your own (e.g. advocacy) to the journey."""
    from analytics.store.stages import add_stage

    stages = add_stage(store_of(ctx), stage, after)
    audit(ctx, "stages add", {"stage": stage, "after": after})
    if as_json:
        print_json({"stages": stages})
        return
    say("Stages: " + " -> ".join(data(s) for s in stages))


@click.group("feedback", no_args_is_help=True)
def feedback_group() -> None:
    """What customers say: search, themes, and the index behind them."""


@feedback_group.command("index")
@click.option("--json", "as_json", is_flag=True, help="Print the index report as JSON.")
@click.pass_context
def feedback_index(ctx: click.Context, as_json: bool) -> None:
    """Redact, score and embed new feedback into the local search index."""
    from analytics.feedback.index import FeedbackIndex

    when_interrupted("Interrupted: run `journey feedback index` again to finish the index.")
    with RowProgress(enabled=not as_json) as progress:
        report = FeedbackIndex(store_of(ctx)).sync(progress=progress)
    audit(ctx, "feedback index", {"snippets": report.snippets, "embedded": report.embedded})
    if as_json:
        print_json(report)
        return
    for note in report.notes:
        say(f"[yellow]{data(note)}[/]")
    say(f"{report.snippets:,} snippets indexed ({report.embedded:,} newly embedded, "
        f"{report.updated:,} with new details (stage, customer, rating), {report.removed:,} "
        "removed).")


@click.command("ask")
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the answer, the tools used and "
                                                      "their results as JSON.")
@click.pass_context
def ask_cmd(ctx: click.Context, question: str, as_json: bool) -> None:
    """Ask about your customers in your own words; every number comes from the analytics.

    With OPENAI_BASE_URL / OPENAI_API_KEY (and JOURNEY_MODEL) set, a language model picks the
    tools and writes the answer; otherwise the offline planner does. Either way the figures
    are the tools' own.
    """
    from rich.table import Table

    from agent.llm import make_agent
    from tools.base import ToolContext
    from ui.cli_output import console

    tools = ToolContext(store_of(ctx))
    # The tools it calls report how far they are, as the commands of the same tools do.
    with RowProgress(enabled=not as_json, waiting="journey ask: working") as progress:
        tools.progress = progress
        answer = make_agent(tools).ask(question)
    if as_json:
        print_json(answer.to_dict())
        return
    from rich.text import Text

    from analytics.results import printable

    out = console()
    out.print(printable(answer.text), markup=False, highlight=False)
    if answer.frame is not None:
        out.print(Text("Read as: " + printable(answer.frame.said()), style="dim"))
    if answer.results:
        table = Table(title="Tools used", show_header=True)
        for col in ("result", "tool", "arguments"):
            table.add_column(col)
        for r in answer.results:
            table.add_row(r.result_id or "-", r.tool, Text(printable(str(r.arguments))))
        out.print(table)


@click.command("mcp")
@click.option("--http", is_flag=True, help="Serve streamable HTTP on 127.0.0.1 instead of "
                                           "stdio.")
@click.option("--port", type=int, default=8765, show_default=True, help="Port for --http.")
@click.option("--allow-writes", is_flag=True, help="Also offer the writing tools (ingest, "
                                                   "forget).")
@click.pass_context
def mcp_cmd(ctx: click.Context, http: bool, port: int, allow_writes: bool) -> None:
    """Serve the journey tools to MCP clients (stdio by default; read-only by default)."""
    from ui.mcp_server import serve_http, serve_stdio

    when_interrupted("Stopped.")  # Ctrl-C is how a server is stopped
    if http:
        serve_http(store_of(ctx), port, allow_writes)
    else:
        serve_stdio(store_of(ctx), allow_writes)


@click.command("ui")
@click.option("--port", type=int, default=7860, show_default=True, help="Port to serve on.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (default: this machine only).")
@click.pass_context
def ui_cmd(ctx: click.Context, port: int, host: str) -> None:
    """Open the web app: chat, journey map, diagnose, plan and data."""
    import os

    # Uploads and downloads are cached under the data folder (cleared by an erasure), not in
    # the system's /tmp; Gradio reads this when it is imported, so before ui.web.
    os.environ.setdefault("GRADIO_TEMP_DIR", str(store_of(ctx).temp_folder() / "gradio"))
    from analytics.store.accounts import AccessError, Accounts
    from ui.web_guard import LOOPBACK

    users = Accounts(store_of(ctx).home).users()
    if host not in LOOPBACK and not users:
        # Checked before the web app is even imported: nothing listens beyond this machine
        # without sign-in.
        raise AccessError(
            f"Refusing to serve {host} without sign-in: anyone who could reach the port could "
            "load and erase data. Add a user first (`journey users add NAME --role admin`), or "
            "serve this machine only (the default --host 127.0.0.1).")
    from ui.web import serve

    sign_in = (f"sign-in required, {len(users)} user(s)" if users
               else "this machine only, no sign-in")
    say(f"Journey Agent on http://{data(host)}:{port} ({sign_in}; Ctrl-C to stop)")
    when_interrupted("Stopped.")
    serve(store_of(ctx), host=host, port=port)


@click.command("run")
@click.option("--port", type=int, default=7860, show_default=True, help="Port for the web app.")
@click.option("--no-ui", is_flag=True, help="Prepare the data only.")
@click.pass_context
def run_app(ctx: click.Context, port: int, no_ui: bool) -> None:
    """Start Journey Agent on your data (loads the demo first when the store is empty)."""
    from analytics.feedback.index import FeedbackIndex
    from tools.base import ToolContext
    from tools.registry import call_tool

    store = store_of(ctx)
    status = call_tool(ToolContext(store), "describe_data").result
    if not status.exists or status.events == 0:
        say("The store is empty: loading the demo data first.")
        ctx.invoke(demo_data, customers=20_000, seed=7, force=False, as_json=False)
    when_interrupted("Interrupted: `journey run` again finishes the preparation.")
    with RowProgress() as progress:
        report = FeedbackIndex(store).sync(progress=progress)
    ctx.invoke(status_command(ctx))
    from ui import cli_tools

    cli_tools.read_only_run = False  # this command goes on to write and serve: exit normally
    say(f"Feedback index: {report.snippets:,} snippets ({report.embedded:,} newly embedded).")
    say("\nTry:\n"
        "  journey ask \"where do we lose people?\"\n"
        "  journey ask \"why do people leave at pricing?\"\n"
        "  journey ask \"what should we fix first this quarter?\"\n"
        "  journey funnel landing_view pricing_view signup subscription_started --by device\n"
        "Load your own data with `journey ingest events YOUR_FILE.csv`.")
    if not no_ui:
        ctx.invoke(ui_cmd, port=port, host="127.0.0.1")


def status_command(ctx: click.Context) -> Any:
    return ctx.find_root().command.commands["status"]  # type: ignore[attr-defined]


ADMIN_COMMANDS = [demo_data, export_cmd, stages_group, feedback_group, doctor_cmd, ask_cmd,
                  mcp_cmd, ui_cmd, run_app, *ACCESS_COMMANDS]
