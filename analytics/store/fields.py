"""Per kind of file: how each store column is computed from the user's columns, and which cells
are rejected (with the reason shown to the user)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from analytics.config import settings
from analytics.constants import FEEDBACK_SOURCES
from analytics.store import cells
from analytics.store.columns import ColumnPlan, Kind, source_from_shape

_SOURCE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "review": ("review", "reviews", "g2", "capterra", "trustpilot", "app_store", "appstore",
               "play_store", "google_play"),
    "nps": ("nps", "nps_survey", "net_promoter"),
    "ticket": ("ticket", "tickets", "support", "zendesk", "freshdesk", "helpdesk", "email",
               "support_ticket"),
    "chat": ("chat", "live_chat", "livechat", "intercom", "drift", "chatbot"),
    "survey": ("survey", "exit_survey", "typeform", "csat", "poll", "in_app_survey",
               "onsite_survey"),
}

ID_COLUMN: dict[Kind, str] = {"events": "event_id", "customers": "customer_id",
                              "feedback": "feedback_id", "deals": "deal_id"}
ID_PREFIX: dict[Kind, str] = {"events": "ev_", "customers": "cu_", "feedback": "fb_",
                              "deals": "dl_"}

STORE_COLUMNS: dict[Kind, list[str]] = {
    "events": ["event_id", "customer_id", "anonymous_id", "ts", "event_name", "channel", "device",
               "properties"],
    "customers": ["customer_id", "signup_at", "plan", "country", "revenue", "churned", "opted_out",
                  "attributes"],
    "feedback": ["feedback_id", "customer_id", "anonymous_id", "ts", "source", "rating", "text",
                 "properties"],
    "deals": ["deal_id", "customer_id", "name", "stage", "amount", "created_at", "close_at",
              "pipeline", "properties"],
}


@dataclass(frozen=True)
class CellCheck:
    """Rows where `condition` holds are rejected; `field` names the user's column to report."""

    field: str
    condition: str
    reason: str  # the same for every row: what the load report counts
    detail: str | None = None  # SQL for the reason of one row (with its value), when it helps


@dataclass(frozen=True)
class TimeRange:
    """The plausible range of a loaded timestamp; outside it is a rejected cell (a 1970 epoch
    zero or a year-2100 typo would otherwise skew every period and cohort)."""

    earliest: date
    latest: datetime  # now plus the allowed days in the future
    future_days: float

    @classmethod
    def from_settings(cls, now: datetime | None = None) -> TimeRange:
        found = settings()
        days = min(found.max_future_days, 3_000_000.0)  # beyond year 9999 is no bound anyway
        now = now or datetime.now(UTC)
        try:
            latest = now + timedelta(days=days)
        except OverflowError:
            latest = datetime(9999, 12, 31, tzinfo=UTC)
        return cls(found.earliest_date, latest, days)

    def checks(self, field: str, target: str) -> list[CellCheck]:
        shown = (f"CASE WHEN isfinite({target}) THEN strftime(timezone('UTC', {target}), "
                 f"'%Y-%m-%d %H:%M:%S') ELSE CAST({target} AS VARCHAR) END")
        earliest = self.earliest.isoformat()
        early = datetime.combine(self.earliest, time(), UTC).isoformat(sep=" ")
        late = self.latest.astimezone(UTC).isoformat(sep=" ")
        days = f"{self.future_days:g} day" + ("" if self.future_days == 1 else "s")
        before = f"is before {earliest} (JOURNEY_EARLIEST_DATE)"
        after = (f"is more than {days} in the future (after "
                 f"{self.latest.astimezone(UTC):%Y-%m-%d %H:%M} UTC; JOURNEY_MAX_FUTURE_DAYS)")
        return [
            CellCheck(field, f"{target} < TIMESTAMPTZ {cells.quote_literal(early)}",
                      f"timestamp {before}",
                      f"'timestamp ' || {shown} || {cells.quote_literal(' ' + before)}"),
            CellCheck(field, f"{target} > TIMESTAMPTZ {cells.quote_literal(late)}",
                      f"timestamp {after}",
                      f"'timestamp ' || {shown} || {cells.quote_literal(' ' + after)}"),
        ]


@dataclass(frozen=True)
class TypedSelect:
    expressions: dict[str, str]  # store column -> SQL over the raw table
    raw_texts: dict[str, str]  # field -> raw text SQL (kept to report bad values)
    checks: list[CellCheck]
    notes: list[str] = field(default_factory=list)  # what the load report should say


def _text(plan: ColumnPlan, types: dict[str, str], field: str) -> str:
    """The cell as written, trimmed (names such as "Google Ads" or "iOS" are kept as loaded)."""
    column = plan.fields.get(field)
    if column is None:
        return "CAST(NULL AS VARCHAR)"
    return cells.raw_text(column, types[column])


def _raw(plan: ColumnPlan, types: dict[str, str], fields: list[str]) -> dict[str, str]:
    return {f: cells.raw_text(plan.fields[f], types[plan.fields[f]])
            for f in fields if f in plan.fields}


def _timestamp_checks(plan: ColumnPlan, field: str, required: bool, target: str,
                      time_range: TimeRange) -> list[CellCheck]:
    checks = []
    if required:
        checks.append(CellCheck(field, f"_raw_{field} IS NULL", f"missing {field}"))
    if field in plan.fields:
        checks.append(CellCheck(
            field, f"_raw_{field} IS NOT NULL AND {target} IS NULL",
            "unparseable timestamp; use ISO 8601 like 2024-01-31T13:45:00Z, epoch seconds or "
            "milliseconds, or say how the file writes times (a time format such as %m/%d/%Y %H:%M)",
        ))
        checks += time_range.checks(field, target)
    return checks


def _merge_json(parts: list[str]) -> str:
    if not parts:
        return "CAST(NULL AS JSON)"
    if len(parts) == 1:
        return f"CAST({parts[0]} AS JSON)"
    return f"CAST(json_merge_patch({parts[0]}, {parts[1]}) AS JSON)"


# What analytics tools write where there is no source: not a channel anyone can invest in.
PLACEHOLDERS = ("(direct)", "(none)", "(not set)", "(not provided)", "(data not available)",
                "(other)", "$direct", "null", "undefined", "empty", "(empty)")  # Amplitude: EMPTY


def placeholders_found_sql(table: str) -> str:
    """How many placeholder values a typed table's channel and device hold: asked over the
    distinct values first, which costs a fraction of the UPDATE's scan of every row."""
    listed = ", ".join(cells.quote_literal(p) for p in PLACEHOLDERS)
    return (f"SELECT count(*) FROM (SELECT DISTINCT channel AS v FROM {table} UNION "
            f"SELECT DISTINCT device FROM {table}) WHERE lower(v) IN ({listed})")


def clear_placeholders_sql(table: str) -> str:
    """An UPDATE that makes a placeholder channel or device no value. Run on the typed table
    after it is made (in its expression the CASE would read each cell two more times), and only
    when placeholders_found_sql finds one. Values are kept as written, so a placeholder is
    found whatever its case (Amplitude writes EMPTY, GA4 (Direct))."""
    listed = ", ".join(cells.quote_literal(p) for p in PLACEHOLDERS)
    return (f"UPDATE {table} SET "
            f"channel = CASE WHEN lower(channel) IN ({listed}) THEN NULL ELSE channel END, "
            f"device = CASE WHEN lower(device) IN ({listed}) THEN NULL ELSE device END "
            f"WHERE lower(channel) IN ({listed}) OR lower(device) IN ({listed})")


def events_select(plan: ColumnPlan, types: dict[str, str], time_format: str | None,
                  time_range: TimeRange | None = None) -> TypedSelect:
    f = plan.fields
    ts = cells.timestamp(f["timestamp"], types[f["timestamp"]], time_format)
    props = []
    if "properties" in f:
        props.append(cells.json_value(f["properties"], types[f["properties"]]))
    extras = cells.json_object_of(plan.extras)
    if extras:
        props.append(extras)
    expressions = {
        "event_id": _text(plan, types, "event_id"),
        "customer_id": _text(plan, types, "customer_id"),
        "anonymous_id": _text(plan, types, "anonymous_id"),
        "ts": ts,
        "event_name": _text(plan, types, "event_name"),
        "channel": _text(plan, types, "channel"),  # placeholders: see below
        "device": _text(plan, types, "device"),
        "properties": _merge_json(props),
    }
    checks = _timestamp_checks(plan, "timestamp", True, "ts",
                               time_range or TimeRange.from_settings())
    checks.append(CellCheck("event_name", "event_name IS NULL", "missing event name"))
    checks.append(CellCheck(
        "customer_id" if "customer_id" in f else "anonymous_id",
        "customer_id IS NULL AND anonymous_id IS NULL",
        "no customer_id or anonymous_id: the event belongs to nobody",
    ))
    if "properties" in f and cells.is_text_type(types[f["properties"]]):
        checks.append(CellCheck(
            "properties", "_raw_properties IS NOT NULL AND json_valid(_raw_properties) = FALSE",
            "properties is not valid JSON",
        ))
    raw = _raw(plan, types, ["timestamp", "event_name", "customer_id", "anonymous_id",
                             "properties", "event_id"])
    return TypedSelect(expressions, raw, checks)


def customers_select(plan: ColumnPlan, types: dict[str, str], time_format: str | None,
                     time_range: TimeRange | None = None) -> TypedSelect:
    f = plan.fields

    def typed(field: str, parser) -> str:
        return parser(f[field], types[f[field]]) if field in f else "NULL"

    opted_out_parts = []
    if "opted_out" in f:
        opted_out_parts.append(cells.boolean(f["opted_out"], types[f["opted_out"]]))
    if "consent" in f:
        opted_out_parts.append(f"NOT {cells.boolean(f['consent'], types[f['consent']])}")
    opted_out_parts.append("FALSE")
    signup = (cells.timestamp(f["signup_at"], types[f["signup_at"]], time_format)
              if "signup_at" in f else "CAST(NULL AS TIMESTAMPTZ)")
    attributes = cells.json_object_of(plan.extras, {k: _text(plan, types, k)
                                                    for k in ("email", "external_id") if k in f})
    expressions = {
        "customer_id": _text(plan, types, "customer_id"),
        "signup_at": signup,
        "plan": _text(plan, types, "plan"),
        "country": _text(plan, types, "country"),
        "revenue": f"CAST({typed('revenue', cells.number)} AS DOUBLE)",
        "churned": f"CAST({typed('churned', cells.boolean)} AS BOOLEAN)",
        "opted_out": f"COALESCE({', '.join(opted_out_parts)})",
        "attributes": f"CAST({attributes} AS JSON)" if attributes else "CAST(NULL AS JSON)",
        # Kept only to report cells that could not be read.
        "_consent": f"CAST({typed('consent', cells.boolean)} AS BOOLEAN)",
        # Kept to join the record to the product's people when its id is the CRM's own.
        "_email": f"lower({_text(plan, types, 'email')})",
        "_external_id": _text(plan, types, "external_id"),
        "_opted_out": f"CAST({typed('opted_out', cells.boolean)} AS BOOLEAN)",
    }
    checks = [CellCheck("customer_id", "customer_id IS NULL", "missing customer id")]
    checks += _timestamp_checks(plan, "signup_at", False, "signup_at",
                                time_range or TimeRange.from_settings())
    yes_no = "expected yes/no, true/false or 1/0"
    for name, target, reason in [
        ("revenue", "revenue", "not a number"),
        ("churned", "churned", yes_no),
        ("opted_out", "_opted_out", yes_no),
        ("consent", "_consent", yes_no),
    ]:
        if name in f:
            checks.append(CellCheck(name, f"_raw_{name} IS NOT NULL AND {target} IS NULL",
                                    reason))
    raw = _raw(plan, types, ["customer_id", "signup_at", "revenue", "churned", "opted_out",
                             "consent"])
    return TypedSelect(expressions, raw, checks)


def _source_expr(text: str, default: str | None) -> str:
    whens = " ".join(
        f"WHEN {text} IN ({', '.join(cells.quote_literal(s) for s in synonyms)}) "
        f"THEN {cells.quote_literal(source)}"
        for source, synonyms in _SOURCE_SYNONYMS.items()
    )
    fallback = cells.quote_literal(default) if default else "NULL"
    return f"CASE WHEN {text} IS NULL THEN {fallback} {whens} END"


def feedback_select(plan: ColumnPlan, types: dict[str, str], time_format: str | None,
                    default_source: str | None = None,
                    time_range: TimeRange | None = None) -> TypedSelect:
    f = plan.fields
    source_text = (f"replace(lower({cells.raw_text(f['source'], types[f['source']])}), ' ', '_')"
                   if "source" in f else "CAST(NULL AS VARCHAR)")
    notes = []
    if default_source is None and "source" not in f:
        default_source = source_from_shape(list(f.values()) + plan.extras, f.get("rating"))
        if default_source:
            notes.append(f"source: {default_source} for every row (the file's columns are a "
                         f"{'helpdesk' if default_source == 'ticket' else 'survey'} export's)")
    properties = cells.json_object_of(plan.extras, {"email": _text(plan, types, "email")}
                                      if "email" in f else None)
    expressions = {
        "feedback_id": _text(plan, types, "feedback_id"),
        "customer_id": _text(plan, types, "customer_id"),
        "anonymous_id": _text(plan, types, "anonymous_id"),
        "ts": cells.timestamp(f["timestamp"], types[f["timestamp"]], time_format),
        "source": _source_expr(source_text, default_source),
        "rating": (cells.number(f["rating"], types[f["rating"]]) if "rating" in f
                   else "CAST(NULL AS DOUBLE)"),
        # A score with no comment is feedback too (an NPS answer); it is kept with empty text.
        "text": f"COALESCE({_text(plan, types, 'text')}, '')",
        "properties": f"CAST({properties} AS JSON)" if properties else "CAST(NULL AS JSON)",
        "_email": f"lower({_text(plan, types, 'email')})",
    }
    checks = _timestamp_checks(plan, "timestamp", True, "ts",
                               time_range or TimeRange.from_settings())
    checks.append(CellCheck("text", "text = '' AND rating IS NULL",
                            "no feedback text and no score"))
    checks.append(CellCheck(
        "source", "_raw_source IS NULL AND source IS NULL" if "source" in f else "source IS NULL",
        "missing source; give a source column, or one source for the whole file (review, "
        "nps, ticket, chat or survey)",
    ))
    if "source" in f:
        checks.append(CellCheck(
            "source", "_raw_source IS NOT NULL AND source IS NULL",
            f"unknown source; use one of {', '.join(FEEDBACK_SOURCES)}",
        ))
    if "rating" in f:
        checks.append(CellCheck("rating", "_raw_rating IS NOT NULL AND rating IS NULL",
                                "rating is not a number"))
        checks.append(CellCheck("rating", "rating < 0 OR rating > 10",
                                "rating must be between 0 and 10"))
    raw = _raw(plan, types, ["timestamp", "text", "source", "rating", "feedback_id"])
    return TypedSelect(expressions, raw, checks, notes)


def deals_select(plan: ColumnPlan, types: dict[str, str], time_format: str | None,
                 time_range: TimeRange | None = None) -> TypedSelect:
    f = plan.fields
    time_range = time_range or TimeRange.from_settings()

    def when(field: str) -> str:
        return (cells.timestamp(f[field], types[f[field]], time_format) if field in f
                else "CAST(NULL AS TIMESTAMPTZ)")

    # HubSpot writes the associated contact as an e-mail: that names a person, but is not an
    # id; it is kept as contact_email until it joins someone (deals.py).
    contact = _text(plan, types, "customer_id")
    mailed = f"COALESCE({_text(plan, types, 'email')}, CASE WHEN contains({contact}, '@') " \
             f"THEN {contact} END)"
    properties = cells.json_object_of(plan.extras, {"contact_email": f"lower({mailed})"})
    expressions = {
        "deal_id": _text(plan, types, "deal_id"),
        "customer_id": f"CASE WHEN contains({contact}, '@') THEN NULL ELSE {contact} END",
        "name": _text(plan, types, "name"),
        "stage": _text(plan, types, "stage"),
        "amount": (cells.number(f["amount"], types[f["amount"]]) if "amount" in f
                   else "CAST(NULL AS DOUBLE)"),
        "created_at": when("created_at"),
        "close_at": when("close_at"),
        "pipeline": _text(plan, types, "pipeline"),
        "properties": f"CAST({properties} AS JSON)",
        "_email": f"lower({mailed})",
    }
    checks = [CellCheck("stage", "stage IS NULL", "missing deal stage")]
    for name in ("created_at", "close_at"):
        checks += _timestamp_checks(plan, name, False, name, time_range)
    if "amount" in f:
        checks.append(CellCheck("amount", "_raw_amount IS NOT NULL AND amount IS NULL",
                                "amount is not a number"))
    raw = _raw(plan, types, ["deal_id", "stage", "amount", "created_at", "close_at"])
    return TypedSelect(expressions, raw, checks)


def typed_select(kind: Kind, plan: ColumnPlan, types: dict[str, str], time_format: str | None,
                 default_source: str | None, time_range: TimeRange | None = None) -> TypedSelect:
    if kind == "events":
        return events_select(plan, types, time_format, time_range)
    if kind == "customers":
        return customers_select(plan, types, time_format, time_range)
    if kind == "deals":
        return deals_select(plan, types, time_format, time_range)
    return feedback_select(plan, types, time_format, default_source, time_range)
