"""Commands that fill and describe the store: ingest, demo-data, status, stages, run."""

from __future__ import annotations

import enum
import shutil
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from analytics.store import EventStore, ingest_files
from analytics.store.columns import parse_mapping
from analytics.store.ingest import IngestReport
from analytics.store.stages import add_stage, list_stage_map, set_event_stage
from analytics.store.status import StoreStatus, store_status
from sample_data.demo import load_demo
from ui.cli import app
from ui.cli_output import RowProgress, console, print_json


class Kind(str, enum.Enum):
    events = "events"
    customers = "customers"
    feedback = "feedback"


class OnError(str, enum.Enum):
    fail = "fail"
    skip = "skip"


class Source(str, enum.Enum):
    review = "review"
    nps = "nps"
    ticket = "ticket"
    chat = "chat"
    survey = "survey"


def _store(ctx: typer.Context) -> EventStore:
    return EventStore(ctx.obj.get("home") if ctx.obj else None)


def _print_ingest(report: IngestReport) -> None:
    table = Table(title=f"Loaded {report.kind}", show_lines=False)
    for col in ("file", "read", "loaded", "already loaded", "repeated in file", "rejected"):
        table.add_column(col, justify="left" if col == "file" else "right")
    for f in report.files:
        table.add_row(Path(f.file).name, f"{f.rows_read:,}", f"[green]{f.rows_loaded:,}[/]",
                      f"{f.rows_already_loaded:,}", f"{f.rows_duplicate_in_file:,}",
                      f"[red]{f.rows_rejected:,}[/]" if f.rows_rejected else "0")
    console.print(table)
    for f in report.files:
        if f.rows_replaced:
            console.print(f"{Path(f.file).name}: replaced {f.rows_replaced:,} stored rows.")
        for reason, count in f.reject_reasons.items():
            console.print(f"  [red]{count:,}[/] row(s) skipped: {reason}")
        if f.rejects_file:
            console.print(f"  Rejected rows with reasons: [bold]{f.rejects_file}[/]")
        mapped = ", ".join(f"{src}->{dst}" for dst, src in f.columns.items() if src != dst)
        if mapped:
            console.print(f"  Columns recognised: {mapped}", highlight=False)
        if f.extra_columns:
            where = "properties" if report.kind == "events" else "attributes"
            console.print(f"  Kept as {where}: {', '.join(f.extra_columns[:12])}"
                          + (" ..." if len(f.extra_columns) > 12 else ""), highlight=False)
    if report.new_event_names:
        console.print(f"New events placed in stages by name ({len(report.new_event_names)}); "
                      "check them with `journey stages show`.")


@app.command()
def ingest(
    ctx: typer.Context,
    kind: Kind = typer.Argument(..., help="What the files hold: events, customers or feedback."),
    files: List[Path] = typer.Argument(..., help="CSV, TSV, Parquet or JSON Lines files."),
    map: Optional[str] = typer.Option(
        None, "--map", metavar="COLUMN=FIELD,...",
        help="Say which of your columns is which field, e.g. user_id=customer_id,"
             "event_time=timestamp. Common export names (Segment, Mixpanel, Amplitude, GA4) "
             "are recognised without it."),
    on_error: OnError = typer.Option(
        OnError.fail, "--on-error",
        help="fail: load nothing if any row is bad (default). skip: load the good rows and "
             "write the bad ones, with reasons, to a file."),
    rejects: Optional[Path] = typer.Option(
        None, "--rejects", metavar="DIR", help="Folder for rejected-row files "
        "(default: the data folder's rejects/)."),
    replace: bool = typer.Option(
        False, "--replace", help="Overwrite stored rows whose id appears with new content "
        "(e.g. an updated CRM export). Without it such rows are errors."),
    time_format: Optional[str] = typer.Option(
        None, "--time-format", metavar="FORMAT",
        help="How to read timestamps that are not ISO 8601 or epoch, e.g. '%m/%d/%Y %H:%M'."),
    source: Optional[Source] = typer.Option(
        None, "--source", help="For feedback files without a source column: where the "
        "feedback came from."),
    as_json: bool = typer.Option(False, "--json", help="Print the load summary as JSON."),
) -> None:
    """Load your exports into the store. Loading the same file twice adds nothing."""
    store = _store(ctx)
    with RowProgress(enabled=not as_json) as progress:
        report = ingest_files(
            store, kind.value, [str(f) for f in files], mapping=parse_mapping(map),
            on_error=on_error.value, replace=replace, time_format=time_format,
            default_source=source.value if source else None, rejects_dir=rejects,
            progress=progress)
    if as_json:
        print_json({"kind": report.kind, "rows_loaded": report.rows_loaded,
                    "rows_skipped": report.rows_skipped,
                    "new_event_names": report.new_event_names,
                    "files": [dict(f.__dict__, rows_skipped=f.rows_skipped)
                              for f in report.files]})
    else:
        _print_ingest(report)


def _print_status(status: StoreStatus) -> None:
    if not status.exists:
        console.print(f"No data yet in {status.home}. Try `journey demo-data` or "
                      "`journey ingest events FILE`.")
        return
    console.print(f"[bold]Data folder:[/] {status.home}")
    span = (f"{status.first_event:%Y-%m-%d} to {status.last_event:%Y-%m-%d}"
            if status.first_event else "no events")
    console.print(
        f"{status.events:,} events from {status.people:,} people "
        f"({status.anonymous_people:,} never identified), {span}\n"
        f"{status.customers:,} customers ({status.opted_out_customers:,} opted out), "
        f"{status.feedback:,} feedback items, {status.identities:,} anonymous ids linked "
        "to customers", highlight=False)
    if status.feedback_by_source:
        console.print("Feedback by source: " + ", ".join(
            f"{k} {v:,}" for k, v in status.feedback_by_source.items()), highlight=False)
    table = Table(title="Events by journey stage")
    for col in ("stage", "event", "events", "people"):
        table.add_column(col, justify="right" if col in ("events", "people") else "left")
    for e in status.event_names:
        table.add_row(e.stage, e.event_name, f"{e.events:,}", f"{e.people:,}")
    console.print(table)
    if status.channels:
        console.print("Channels: " + ", ".join(status.channels), highlight=False)
    if status.devices:
        console.print("Devices: " + ", ".join(status.devices), highlight=False)


@app.command()
def status(ctx: typer.Context,
           as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """What your data holds: counts, date range, events and their stages."""
    result = store_status(_store(ctx))
    if as_json:
        print_json(result.to_dict())
    else:
        _print_status(result)


@app.command("demo-data")
def demo_data(
    ctx: typer.Context,
    customers: int = typer.Option(20_000, "--customers", min=50,
                                  help="How many people the demo journey follows."),
    seed: int = typer.Option(7, "--seed", help="Same seed, same data."),
    force: bool = typer.Option(False, "--force",
                               help="Delete the data folder's store first (all data in it)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Generate and load a realistic B2B SaaS demo journey (with known, planted findings)."""
    store = _store(ctx)
    if force and store.home.exists():
        for path in (store.path, store.home / "demo"):
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    with RowProgress(enabled=not as_json) as progress:
        result = load_demo(store, people=customers, seed=seed, progress=progress)
    if as_json:
        print_json(result)
    else:
        console.print(
            f"Demo loaded into {store.home}: {result['events_loaded']:,} events, "
            f"{result['customers_loaded']:,} customers, {result['feedback_loaded']:,} feedback "
            f"items from {customers:,} people (seed {seed}).\nPlanted findings: "
            f"{result['manifest']}", highlight=False)


@app.command("forget")
def forget_cmd(ctx: typer.Context,
               customer_id: str = typer.Argument(..., help="The customer to erase."),
               yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
               as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Erase a customer everywhere (events, feedback, profile, identities, search index)."""
    from analytics.store.forget import forget_customer

    if not yes and not typer.confirm(f"Erase every trace of {customer_id}?", default=False):
        raise typer.Exit(1)
    report = forget_customer(_store(ctx), customer_id)
    if as_json:
        print_json(report)
    else:
        console.print(f"Erased {report.events:,} events, {report.feedback:,} feedback items, "
                      f"{report.customers:,} profile, {report.identities:,} identity links. "
                      f"Audit record: {report.customer_id_hash[:16]}...", highlight=False)


@app.command("mcp")
def mcp_cmd(ctx: typer.Context,
            http: bool = typer.Option(False, "--http", help="Serve streamable HTTP on "
                                                            "127.0.0.1 instead of stdio."),
            port: int = typer.Option(8765, "--port", help="Port for --http."),
            allow_writes: bool = typer.Option(False, "--allow-writes",
                                              help="Also offer ingest and forget.")) -> None:
    """Serve the journey tools to MCP clients (stdio by default; read-only by default)."""
    from ui.mcp_server import serve_http, serve_stdio

    if http:
        serve_http(_store(ctx), port, allow_writes)
    else:
        serve_stdio(_store(ctx), allow_writes)


@app.command("export")
def export_cmd(ctx: typer.Context,
               table: Kind = typer.Argument(..., help="events, customers or feedback."),
               target: Path = typer.Argument(..., help="A .csv or .parquet file to write."),
               anonymize: bool = typer.Option(False, "--anonymize",
                                              help="Replace ids with keyed hashes, drop "
                                                   "attributes, redact feedback text.")) -> None:
    """Export a table (opted-out customers are never in an exported customer list)."""
    from analytics.store.export import export_table

    rows = export_table(_store(ctx), table.value, target, anonymize=anonymize)
    console.print(f"{rows:,} rows written to {target}"
                  + (" (anonymised)" if anonymize else ""), highlight=False)


stages_app = typer.Typer(help="See and change which journey stage each event belongs to.",
                         no_args_is_help=True)
app.add_typer(stages_app, name="stages")


@stages_app.command("show")
def stages_show(ctx: typer.Context,
                as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """List the stages in order and the events in each."""
    stages, assignments = list_stage_map(_store(ctx))
    if as_json:
        print_json({"stages": stages, "events": [a.__dict__ for a in assignments]})
        return
    table = Table(title="Stage map (" + " -> ".join(stages) + ")")
    for col in ("stage", "event", "set by"):
        table.add_column(col)
    for a in assignments:
        table.add_row(a.stage, a.event_name, "you" if a.origin == "user" else "name rule")
    console.print(table)


@stages_app.command("set")
def stages_set(ctx: typer.Context,
               event: str = typer.Argument(..., help="Event name, e.g. pricing_view."),
               stage: str = typer.Argument(..., help="Stage, e.g. consideration.")) -> None:
    """Put an event in a stage."""
    a = set_event_stage(_store(ctx), event, stage)
    console.print(f"{a.event_name} is now in {a.stage}.")


@stages_app.command("add")
def stages_add(ctx: typer.Context,
               stage: str = typer.Argument(..., help="New stage name, e.g. advocacy."),
               after: Optional[str] = typer.Option(None, "--after",
                                                   help="Existing stage it follows.")) -> None:
    """Add a stage of your own to the journey."""
    order = add_stage(_store(ctx), stage, after)
    console.print("Stages: " + " -> ".join(order))


@app.command("ui")
def ui_cmd(ctx: typer.Context,
           port: int = typer.Option(7860, "--port", help="Port to serve on."),
           host: str = typer.Option("127.0.0.1", "--host",
                                    help="Address to listen on (default: this machine only).")
           ) -> None:
    """Open the web app: chat, journey map, diagnose, plan and data."""
    from ui.web import serve

    console.print(f"Journey Agent on http://{host}:{port} (Ctrl-C to stop)")
    serve(_store(ctx), host=host, port=port)


@app.command("run")
def run_app(ctx: typer.Context,
            port: int = typer.Option(7860, "--port", help="Port for the web app."),
            no_ui: bool = typer.Option(False, "--no-ui", help="Prepare the data only.")) -> None:
    """Start Journey Agent on your data (loads the demo first when the store is empty)."""
    store = _store(ctx)
    current = store_status(store)
    if not current.exists or current.events == 0:
        console.print("The store is empty: loading the demo data first.")
        ctx.invoke(demo_data, ctx=ctx, customers=20_000, seed=7, force=False, as_json=False)
    from analytics.feedback.index import FeedbackIndex

    with RowProgress() as progress:
        report = FeedbackIndex(store).sync(progress=progress)
    _print_status(store_status(store))
    console.print(f"Feedback index: {report.snippets:,} snippets ({report.embedded:,} newly "
                  "embedded).", highlight=False)
    console.print(
        "\nTry:\n"
        "  journey ask \"where do we lose people?\"\n"
        "  journey ask \"why do people leave at pricing?\"\n"
        "  journey ask \"what should we fix first this quarter?\"\n"
        "  journey funnel landing_view pricing_view signup subscription_started --by device\n"
        "Load your own data with `journey ingest events YOUR_FILE.csv`.", highlight=False)
    if not no_ui:
        ctx.invoke(ui_cmd, ctx=ctx, port=port, host="127.0.0.1")


