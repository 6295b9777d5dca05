"""`journey doctor`: is everything in place, and if not, what to do; `--salvage DIR` copies
out what a damaged store still holds."""

from __future__ import annotations

import click

from ui.cli_output import data, home_of, print_json, say, store_of, when_interrupted


def checks(home: str | None) -> list[dict]:
    from analytics.feedback.embedder import onnx_path
    from analytics.store import EventStore
    from analytics.store.status import store_status, verify_store

    found: list[dict] = []

    def add(name: str, ok: bool, detail: str, fix: str = "") -> None:
        found.append({"check": name, "ok": ok, "detail": detail, "fix": fix})

    store = EventStore(home)
    status = None
    check = verify_store(store.path) if store.exists() else None
    if check is not None and check.damaged:
        intact = [t.table for t in check.tables if t.ok]
        detail = (f"{store.path} is damaged: " + (
            "its header or catalog cannot be read" if not check.opened else
            f"table(s) {', '.join(check.damaged)} cannot be read ({len(intact)} of "
            f"{len(check.tables)} tables intact)"))
        found.append({"check": "store", "ok": False, "detail": detail, "damaged": check.damaged,
                      "fix": "restore the file from a backup, or move it away and load your "
                             "files again" if not check.opened else
                             "run `journey doctor --salvage DIR` to copy out every row that "
                             "can be read; nothing will write to this file meanwhile"})
    else:
        try:
            status = store_status(store)
            if not status.exists or not status.events:
                add("store", False, f"no events in {store.home}",
                    "run `journey demo-data` or `journey ingest events FILE`")
            else:
                add("store", True, f"{status.events:,} events, {status.customers:,} customers, "
                                   f"{status.feedback:,} feedback items in {store.home}; every "
                                   f"block's checksum verified in {check.seconds:.2f} s"
                                   if check else "")
        except Exception as exc:
            add("store", False, str(exc), "run `journey doctor` again; if it says the same, "
                                          "move the store away and load your data again")
    texts = None
    if status is not None and status.exists and status.events:
        from analytics.store.people_join import join_health

        with store.reader() as con:
            health = join_health(con)
            texts = con.execute("SELECT count(*) FROM feedback WHERE text <> ''").fetchone()[0]
        if health.customers:
            add("customers join events", health.warning is None,
                f"{health.customers_with_events:,} of {health.customers:,} customer records "
                f"have events; {health.event_customers_with_record:,} of "
                f"{health.event_customers:,} identified people have a customer record",
                health.warning or "")
    model = onnx_path()
    add("embedding model", model.exists(), str(model),
        "" if model.exists() else "run `python -m analytics.feedback.embedder --build`")
    try:
        from analytics.feedback.index import FeedbackIndex

        index = FeedbackIndex(store)
        indexed = index.collection().count() if index.path.exists() else 0
        # A bare score (an NPS answer with no comment) has no text to index.
        stored = texts if texts is not None else (status.feedback if status is not None else 0)
        same_model = not index.path.exists() or index.made_by_this_model()
        detail = f"{indexed:,} of {stored:,} snippets indexed" + (
            "" if same_model else f", by another embedding model than {index.embedder.model_id}")
        add("feedback index", indexed == stored and same_model, detail,
            "" if indexed == stored and same_model else "run `journey feedback index`")
    except Exception as exc:
        add("feedback index", False, str(exc), "run `journey feedback index` (it rebuilds)")
    from agent.llm import llm_config

    config = llm_config()
    if config is None:
        add("language model", True, "offline mode (no OPENAI_BASE_URL or OPENAI_API_KEY set)")
    else:
        import urllib.error
        import urllib.request

        url = (config.base_url or "https://api.openai.com/v1").rstrip("/") + "/models"
        try:
            request = urllib.request.Request(url, headers={
                "Authorization": f"Bearer {config.api_key}"})
            urllib.request.urlopen(request, timeout=5)
            add("language model", True, f"{config.model} at {url}")
        except urllib.error.HTTPError as exc:
            add("language model", exc.code != 401, f"{url} answered {exc.code}",
                "check OPENAI_API_KEY" if exc.code == 401 else "")
        except Exception as exc:
            add("language model", False, f"{url} unreachable ({type(exc).__name__})",
                "check OPENAI_BASE_URL; until then answers come from the offline planner")
    return found



@click.command("doctor")
@click.option("--salvage", metavar="DIR", default=None,
              help="Copy every table (every row) that can still be read out of a damaged "
                   "store into DIR: a new store, one Parquet file per table and a report.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def doctor_cmd(ctx: click.Context, salvage: str | None, as_json: bool) -> None:
    """Check the data, the search index and the language model setup; say what to fix.

    Exits 1 when something needs fixing, 2 when the store is damaged (a block fails its
    checksum): then `--salvage DIR` copies out what can be read.
    """
    if salvage:
        _salvage(ctx, salvage, as_json)
        return
    found = checks(home_of(ctx))
    if as_json:
        print_json(found)
    else:
        for c in found:
            mark = "[green]ok[/]" if c["ok"] else "[red]fix[/]"
            say(f"{mark}  {c['check']}: {data(c['detail'])}"
                + (f"\n      -> {data(c['fix'])}" if c["fix"] else ""))
    if any(c.get("damaged") for c in found):
        raise SystemExit(2)
    if not all(c["ok"] for c in found):
        raise SystemExit(1)


def _salvage(ctx: click.Context, folder: str, as_json: bool) -> None:
    from analytics.store.status import salvage_store

    # The damaged store is only read; what is half-written is the copy.
    when_interrupted(f"Interrupted: {folder} holds an incomplete copy; salvage again into an "
                     "empty folder.")
    report = salvage_store(store_of(ctx), folder)
    if as_json:
        print_json(report.to_dict())
        return
    for t in report.tables:
        if t.damaged:
            say(f"[yellow]damaged[/] {data(t.table)}: {t.rows_saved:,} rows saved, "
                f"{t.rows_lost:,} could not be read")
        else:
            say(f"[green]ok[/]      {data(t.table)}: {t.rows_saved:,} rows saved")
    if report.rebuilt:
        say(f"Rebuilt from the saved events: {data(', '.join(report.rebuilt))}.")
    say(f"Saved to {data(report.store)}, with one Parquet file per table and "
        "salvage_report.json beside it.")
    say(data(report.reload))
