"""The store as tools: what is loaded (read), and loading and erasing (writes).

The two writing tools are flagged `writes`: the MCP server offers them only when started with
--allow-writes, and after either one every cached result is dropped.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from pydantic import BeforeValidator, Field

from analytics.constants import FEEDBACK_SOURCES, FeedbackSource
from tools.base import TableView, ToolArgs, ToolContext

Kind = Literal["events", "customers", "feedback", "deals"]


class DescribeDataArgs(ToolArgs):
    pass


def describe_data_tool(ctx: ToolContext, args: DescribeDataArgs) -> Any:
    from analytics.description import describe_data

    return describe_data(ctx.store)


def describe_data_view(args: DescribeDataArgs, result: Any) -> TableView:
    rows = [[e.stage, e.event_name, e.events, e.people] for e in result.event_names]
    notes = [f"Data folder: {result.home}"]
    if result.exists:
        notes.append(f"{result.anonymous_people:,} of the people were never identified; "
                     f"{result.opted_out_customers:,} customers opted out; "
                     f"{result.identities:,} anonymous ids linked to customers.")
    if result.channels:
        notes.append("Channels: " + ", ".join(result.channels))
    if result.devices:
        notes.append("Devices: " + ", ".join(result.devices))
    if result.customer_attributes:
        notes.append("Customer attributes: " + ", ".join(result.customer_attributes))
    if result.deals:
        notes.append(f"Deals: {result.deals:,} ({result.won_deals:,} won).")
    if result.feedback_by_source:
        notes.append("Feedback by source: " + ", ".join(
            f"{k} {v:,}" for k, v in result.feedback_by_source.items()))
    return TableView("Events by journey stage", ["stage", "event", "events", "people"], rows,
                     notes=notes, model_rows=60)


def _mapping(value: Any) -> Any:
    if isinstance(value, (str, type(None))):
        from analytics.store.columns import parse_mapping

        return parse_mapping(value)
    if isinstance(value, (list, tuple)):
        from analytics.store.columns import parse_mapping

        return parse_mapping(",".join(value))
    return value


class IngestArgs(ToolArgs):
    kind: Kind = Field(..., description="What the files hold: events, customers, feedback or "
                      "deals (CRM deals / opportunities).")
    paths: list[str] = Field(..., min_length=1, max_length=100,
                             description="CSV, TSV, Parquet or JSON Lines files (also "
                                         ".gz) on this machine, as your tool exported them.")
    mapping: Annotated[dict[str, str], BeforeValidator(_mapping)] = Field(
        default_factory=dict, description="Which of your columns is which field, e.g. "
        "user_id=customer_id,event_time=timestamp; a dotted path reaches inside a nested "
        "object (properties.time=timestamp); quote a header with commas "
        "('\"How likely, 0-10?\"=rating'). Vendor exports and common names are recognised "
        "without it.")
    on_error: Literal["fail", "skip"] = Field("fail", description="fail: load nothing if any "
                                              "row is bad. skip: load the good rows and write "
                                              "the bad ones, with reasons, to a file.")
    replace: bool = Field(False, description="Overwrite stored rows whose id appears with new "
                                             "content (an updated CRM export).")
    time_format: Optional[str] = Field(None, description="How to read timestamps that are not "
                                                         "ISO 8601 or epoch, e.g. "
                                                         "'%m/%d/%Y %H:%M'.")
    source: Optional[FeedbackSource] = Field(None, description="For feedback files without a "
                                             "source column: " + ", ".join(FEEDBACK_SOURCES)
                                             + ".")
    format: Literal["auto", "mixpanel", "amplitude", "segment", "ga4", "posthog", "plain"] = Field(
        "auto", description="The vendor export an events file is: auto recognises Mixpanel, "
        "Amplitude, Segment, GA4 and PostHog exports from their shape; plain reads the columns "
        "as they are.")
    timezone: Optional[str] = Field(None, description="The time zone of times written without "
                                    "an offset, e.g. Europe/Berlin (default UTC).")


def ingest_tool(ctx: ToolContext, args: IngestArgs) -> Any:
    from analytics.store import ingest_files

    return ingest_files(ctx.store, args.kind, list(args.paths), mapping=args.mapping,
                        on_error=args.on_error, replace=args.replace,
                        time_format=args.time_format, default_source=args.source,
                        progress=ctx.progress, vendor_format=args.format,
                        timezone=args.timezone)


def load_notes(kind: str, f: Any) -> list[str]:
    """What one file's load did beyond the counts, as sentences (CLI, web and model alike)."""
    notes: list[str] = []
    if f.preset:
        from analytics.store.vendors import PRESETS

        notes.append(f"read as a {PRESETS[f.preset].title}.")
    if f.identity_calls:
        notes.append(f"{f.identity_calls:,} identify/alias call(s) read to link people (not "
                     "loaded as events).")
    if f.identities_linked:
        notes.append(f"{f.identities_linked:,} anonymous id(s) linked to a customer.")
    if f.people_joined:
        kept = " (the file's own id kept as crm_id)" if kind == "customers" else ""
        notes.append(f"{f.people_joined:,} row(s) given the product's user id, from an external "
                     f"id column or an e-mail the store knows{kept}.")
    notes += list(f.notes)
    if f.rows_replaced:
        notes.append(f"replaced {f.rows_replaced:,} stored rows.")
    notes += [f"{count:,} row(s) skipped: {reason}" for reason, count in f.reject_reasons.items()]
    if f.rejects_file:
        notes.append(f"rejected rows with reasons in {f.rejects_file}")
    mapped = ", ".join(f"{dst} <- {src}" for dst, src in f.columns.items() if src != dst)
    if mapped:
        notes.append(f"fields read from: {mapped}")
    if f.extra_columns:
        kept = "attributes" if kind == "customers" else "properties"
        notes.append(f"kept as {kept}: {', '.join(f.extra_columns[:12])}"
                     + (" ..." if len(f.extra_columns) > 12 else ""))
    return notes


def ingest_view(args: IngestArgs, result: Any) -> TableView:
    from pathlib import Path

    rows = [[Path(f.file).name, f.rows_read, f.rows_loaded, f.rows_already_loaded,
             f.rows_duplicate_in_file, f.rows_rejected] for f in result.files]
    notes = [f"{Path(f.file).name}: {note}" for f in result.files
             for note in load_notes(result.kind, f)]
    if result.journey_model:
        notes.append(f"Journey model: {result.journey_model} See the evidence with `journey "
                     "model`; change it with `journey model set conversion|funnel|churn ...`.")
    if result.new_event_names:
        notes.append(f"New events ({len(result.new_event_names)}) placed in stages by where "
                     "they happen in journeys (before or after converting) and their names; "
                     "check them with `journey stages show`.")
    return TableView(f"Loaded {result.kind}", ["file", "read", "loaded", "already loaded",
                                               "repeated in file", "rejected"], rows,
                     notes=notes)


def ingest_audit(args: IngestArgs, result: Any) -> dict:
    from pathlib import Path

    detail: dict[str, Any] = {"kind": args.kind, "files": [Path(p).name for p in args.paths],
                              "on_error": args.on_error}
    if result is not None:
        detail["rows_loaded"] = sum(f.rows_loaded for f in result.files)
        detail["rows_rejected"] = sum(f.rows_rejected for f in result.files)
    return detail


class ForgetArgs(ToolArgs):
    customer_id: str = Field(..., min_length=1, description="The customer to erase.")


def forget_tool(ctx: ToolContext, args: ForgetArgs) -> Any:
    from analytics.store.forget import forget_customer

    return forget_customer(ctx.store, args.customer_id)


def forget_audit(args: ForgetArgs, result: Any) -> dict:
    # Only the keyed hash the erasure log keeps: the audit line must not name the customer.
    from analytics.store.forget import id_hash

    return {"customer_id_hash": id_hash(args.customer_id.strip())}


def forget_view(args: ForgetArgs, result: Any) -> TableView:
    rows = [["events", result.events], ["feedback items", result.feedback],
            ["profile", result.customers], ["identity links", result.identities]]
    return TableView("Erased", ["what", "rows"], rows,
                     notes=[f"Audit record: {result.customer_id_hash[:16]}... (a keyed hash; "
                            "no personal data is kept)"])


def preview_columns(path: str, kind: Kind, mapping: str | None,
                    vendor_format: str = "auto") -> Any:
    """Which of a file's columns will feed which field, before anything is loaded."""
    from pathlib import Path

    import duckdb

    from analytics.store.columns import ColumnPlan, parse_mapping, plan_columns
    from analytics.store.files import reader_sql, sniff
    from analytics.store.nesting import NestedColumns
    from analytics.store.vendors import choose_preset

    sniffed = sniff(path)
    con = duckdb.connect()
    try:
        columns = [r[0] for r in con.execute(
            f"DESCRIBE SELECT * FROM {reader_sql(sniffed)} LIMIT 0").fetchall()]
    finally:
        con.close()
    preset = choose_preset(vendor_format, columns, Path(path).name) if kind == "events" else None
    if preset is None:
        return plan_columns(kind, Path(path).name, columns, parse_mapping(mapping))
    # A vendor's export: its fields come from the paths the preset names (the load report says
    # which of them held values).
    nested = NestedColumns({c: "JSON" for c in columns}, preset.key_values)
    fields = {f: " | ".join(p for p in paths if nested.has(p))
              for f, paths in preset.fields.items() if any(nested.has(p) for p in paths)}
    whole = {p for paths in preset.fields.values() for p in paths if "." not in p}
    return ColumnPlan(kind="events", fields=fields, preset=preset.title,
                      extras=[c for c in columns if c not in whole and c not in preset.metadata])
