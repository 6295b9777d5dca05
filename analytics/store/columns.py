"""Which column of a user's file feeds which field of the store.

Exports from Segment, Mixpanel, Amplitude, GA4 (flattened) and CRMs name the same things
differently; we recognise the common names, and an explicit column mapping (source=field)
settles the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from analytics.errors import ArgumentError

Kind = Literal["events", "customers", "feedback", "deals"]
KINDS: tuple[Kind, ...] = ("events", "customers", "feedback", "deals")

# field -> recognised source names, best first. Matching ignores case and punctuation, so
# 'anonymousId', 'anonymous_id' and 'Anonymous ID' are the same name.
ALIASES: dict[Kind, dict[str, list[str]]] = {
    "events": {
        "event_id": ["event_id", "message_id", "messageId", "$insert_id", "insert_id", "event_uuid",
                     "uuid", "id", "properties.$insert_id"],
        "customer_id": ["customer_id", "user_id", "userId", "$user_id", "distinct_id", "account_id",
                        "contact_id", "properties.distinct_id"],
        "anonymous_id": ["anonymous_id", "anonymousId", "device_id", "$device_id", "user_pseudo_id",
                         "client_id", "visitor_id", "cookie_id"],
        "timestamp": ["timestamp", "event_time", "event_timestamp", "time", "ts",
                      "originalTimestamp", "occurred_at", "created_at", "datetime", "date",
                      "sent_at", "received_at", "properties.time"],
        "event_name": ["event_name", "event", "event_type", "action", "name"],
        "channel": ["channel", "acquisition_channel", "marketing_channel", "utm_source", "source",
                    "traffic_source_source",
                    "traffic_source.source", "context_campaign_source", "context.campaign.source",
                    "properties.utm_source", "medium", "utm_medium"],
        # The operating system last: only when no device or platform column says more.
        "device": ["device", "device_type", "device_category", "device.category",
                   "context_device_type", "context.device.type", "platform", "os", "$os",
                   "operating_system"],
        "properties": ["properties", "event_properties", "event_params", "params"],
    },
    "customers": {
        "customer_id": ["customer_id", "user_id", "userId", "distinct_id", "$distinct_id",
                        "account_id", "contact_id", "id", "record_id", "contact_id__c"],
        # The product's own id for a CRM record (HubSpot/Salesforce custom property), and the
        # e-mail: either joins the record to the product's people when the ids differ.
        "external_id": ["external_id", "external_user_id", "product_user_id", "app_user_id",
                        "external_id__c", "user_id__c"],
        "email": ["email", "email_address", "e_mail", "contact_email", "primary_email",
                  "traits.email", "properties.email"],
        "signup_at": ["signup_at", "signup_time", "signup_date", "signed_up_at", "created_at",
                      "createdAt", "created", "$created", "first_seen", "create_date",
                      "createddate"],
        "plan": ["plan", "plan_name", "tier", "subscription_plan", "pricing_plan"],
        "country": ["country", "country_code", "$country_code", "geo_country", "geo.country",
                    "country_region", "mailing_country", "billing_country"],
        "revenue": ["revenue", "total_revenue", "lifetime_value", "ltv", "mrr", "amount"],
        "churned": ["churned", "is_churned", "churn", "has_churned"],
        "opted_out": ["opted_out", "opt_out", "unsubscribed", "do_not_contact", "do_not_track"],
        # Consent is the opposite of an opt-out; ingest inverts it.
        "consent": ["consent", "marketing_consent", "opted_in", "opt_in", "email_consent"],
    },
    "feedback": {
        "feedback_id": ["feedback_id", "response_id", "ticket_id", "review_id", "comment_id", "id",
                        "token"],
        "customer_id": ["customer_id", "user_id", "userId", "distinct_id", "account_id",
                        "contact_id"],
        "anonymous_id": ["anonymous_id", "anonymousId", "device_id", "visitor_id"],
        "timestamp": ["timestamp", "created_at", "submitted_at", "date", "time", "ts",
                      "createdAt"],
        # Never a vendor's own `type` (Zendesk: question/incident): that says what a ticket is
        # about, not where the feedback came from.
        "source": ["source", "feedback_source", "feedback_channel"],
        "rating": ["rating", "score", "stars", "nps", "nps_score", "csat",
                   "likelihood_to_recommend"],
        "text": ["text", "comment", "body", "review", "message", "feedback", "content",
                 "description", "verbatim", "reason", "answer"],
        "email": ["email", "requester_email", "e_mail", "email_address", "customer_email",
                  "user_email"],
    },
    "deals": {
        "deal_id": ["deal_id", "record_id", "opportunity_id", "hs_object_id", "id"],
        "customer_id": ["customer_id", "associated_contact", "associated_contacts", "contact_id",
                        "contact", "primary_contact", "user_id", "account_id", "contactid"],
        "email": ["email", "contact_email", "associated_contact_email"],
        "name": ["deal_name", "dealname", "opportunity_name", "name"],
        "stage": ["deal_stage", "dealstage", "stage", "stage_name", "stagename", "status"],
        "amount": ["amount", "deal_amount", "amount_in_company_currency", "value", "revenue"],
        "created_at": ["create_date", "createdate", "created_at", "createddate", "created"],
        "close_at": ["close_date", "closedate", "closed_at", "close_time", "closed_date"],
        "pipeline": ["pipeline", "deal_pipeline", "record_type", "recordtype"],
    },
}

def nested_candidates(kind: Kind, columns: list[str], mapped: set[str]) -> list[str]:
    """The dotted names (properties.time, context.campaign.source) worth looking for inside
    nested columns: only for fields that no top-level column and no mapping already fills, so a
    flat file is never scanned for them."""
    have = {normalise(c) for c in columns}
    out: list[str] = []
    for name, aliases in ALIASES[kind].items():
        if name in mapped or any("." not in a and normalise(a) in have for a in aliases):
            continue
        out += [a for a in aliases if "." in a and a not in columns]
    return out


# Survey tools (Typeform, SurveyMonkey, Google Forms) head each column with its question.
QUESTION_PATTERNS: dict[Kind, dict[str, list[str]]] = {
    "feedback": {
        "rating": [r"how likely.*recommend", r"\bnps\b", r"\b0\s*(-|to)\s*10\b",
                   r"how satisfied", r"\brate\b"],
        "text": [r"\breason\b", r"\bwhy\b", r"tell us", r"comment", r"feedback",
                 r"anything else", r"what could"],
    },
}

# Columns that say which tool wrote a feedback file, and so where its feedback came from.
SOURCE_BY_SHAPE: list[tuple[str, set[str]]] = [
    ("ticket", {"requester", "requesteremail", "ticketid", "priority", "assignee", "via"}),
    ("survey", {"token", "submittedat", "networkid", "respondentid", "collectorid"}),
]


def source_from_shape(columns: list[str], rating_column: str | None) -> str | None:
    """The feedback source a file's columns imply: NPS when its score asks about recommending
    (Typeform, Google Forms, SurveyMonkey), tickets for Zendesk-like columns, a survey for
    Typeform-like ones."""
    if rating_column and re.search(r"recommend|\bnps\b", rating_column, re.I):
        return "nps"
    names = {normalise(c) for c in columns}
    for source, marks in SOURCE_BY_SHAPE:
        if len(names & marks) >= (1 if source == "ticket" else 2) or (
                source == "survey" and "token" in names):
            return source
    return None


REQUIRED: dict[Kind, list[str]] = {
    "events": ["timestamp", "event_name"],
    "customers": ["customer_id"],
    "feedback": ["timestamp"],
    "deals": ["deal_id", "stage"],
}

# At least one of these must be present, and what it is for (the error says).
ONE_OF_REQUIRED: dict[Kind, list[str]] = {
    "events": ["customer_id", "anonymous_id"],
    "customers": [],
    "feedback": ["text", "rating"],  # a comment, or a bare score (an NPS answer)
    "deals": [],
}
_ONE_OF_WHAT = {"events": "identifying the person", "feedback": "with the feedback"}


def normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def refuse_duplicate_columns(file: str, names: list[str], *, what: str = "the header",
                             line: int | None = None) -> None:
    """Two columns with one name (DuckDB compares names without case) would make one of them
    silently win; the user must say which is meant, so the file is refused."""
    from analytics.errors import InputFileError

    seen: dict[str, str] = {}
    for name in names:
        first = seen.get(name.casefold())
        seen.setdefault(name.casefold(), name)
        if first is not None:
            spelled = "" if first == name else (
                f" (as '{first}' and '{name}': column names are compared without regard to case)")
            error = InputFileError(file, f"column '{name}' appears twice in {what}{spelled}",
                                   line=line,
                                   hint="Rename or drop one of them, then load the file again")
            error.column = name  # for the faces; the message already names it
            raise error


@dataclass
class ColumnPlan:
    """The outcome of matching a file's columns: field -> source column, and the leftovers."""

    kind: Kind
    fields: dict[str, str]
    extras: list[str] = field(default_factory=list)
    recognised: dict[str, str] = field(default_factory=dict)  # field -> alias used (for the report)
    preset: str | None = None  # the vendor export the file was recognised as


def _mapping_entries(text: str) -> list[tuple[str, str | None]]:
    """Split on commas and '=' outside quotes: a header such as "How likely, 0-10?" is written
    in double (or single) quotes. Returns (source, field or None when there is no '=')."""
    entries: list[tuple[str, str | None]] = []
    current, source, quote = "", None, None
    for char in text + ",":
        if quote:
            if char == quote:
                quote = None
            else:
                current += char
        elif char in "\"'" and not current.strip():
            quote = char
        elif char == "=" and source is None:
            source, current = current, ""
        elif char == ",":
            if source is not None or current.strip():
                entries.append((source.strip(), current.strip()) if source is not None
                               else (current.strip(), None))
            current, source = "", None
        else:
            current += char
    if quote:
        raise ArgumentError("mapping", f"a quote ({quote}) is not closed in '{text}'")
    return entries


def parse_mapping(text: str | None) -> dict[str, str]:
    """`user_id=customer_id,event_time=timestamp` -> {'user_id': 'customer_id', ...}; a source
    with commas or '=' in it is quoted: `"How likely, 0-10?"=rating`."""
    if not text:
        return {}
    mapping: dict[str, str] = {}
    for source, target in _mapping_entries(text):
        part = source if target is None else f"{source}={target}"
        if target is None:
            raise ArgumentError(
                "mapping", f"entry '{part}' is not SOURCE=FIELD (for example user_id=customer_id)")
        if not source or not target:
            raise ArgumentError("mapping", f"entry '{part}' has an empty side; write SOURCE=FIELD")
        mapping[source] = target
    return mapping


def plan_columns(kind: Kind, file: str, columns: list[str], mapping: dict[str, str]) -> ColumnPlan:
    """Match `columns` to the store's fields for `kind`, honouring the explicit `mapping` first."""
    from analytics.errors import InputFileError

    known_fields = list(ALIASES[kind])
    by_norm = {normalise(c): c for c in reversed(columns)}  # first occurrence wins
    fields: dict[str, str] = {}
    recognised: dict[str, str] = {}
    for source, target in mapping.items():
        if target not in known_fields:
            raise ArgumentError(
                "mapping", f"{source}={target}: '{target}' is not a field of {kind}. "
                           f"Fields: {', '.join(known_fields)}")
        actual = source if source in columns else by_norm.get(normalise(source))
        if actual is None:
            raise InputFileError(
                file, f"the column mapping names column '{source}', which the file does not have",
                hint=f"Columns in the file: {', '.join(columns[:30])}",
            )
        fields[target] = actual
    used = set(fields.values())
    for target in known_fields:
        if target in fields:
            continue
        for alias in ALIASES[kind][target]:
            actual = by_norm.get(normalise(alias))
            if actual is not None and actual not in used:
                fields[target] = actual
                recognised[target] = actual
                used.add(actual)
                break
    for target, patterns in QUESTION_PATTERNS.get(kind, {}).items():
        if target in fields:
            continue
        hit = next((c for c in columns if c not in used
                    and any(re.search(p, c, re.I) for p in patterns)), None)
        if hit is not None:
            fields[target] = hit
            recognised[target] = hit
            used.add(hit)
    missing = [f for f in REQUIRED[kind] if f not in fields]
    if missing:
        wanted = missing[0]
        raise InputFileError(
            file,
            f"missing required column for '{wanted}'",
            hint=(
                f"Columns found: {', '.join(columns[:30])}. Rename one, or say which it "
                f"is in the column mapping: YOUR_COLUMN={wanted} (names we recognise: "
                f"{', '.join(ALIASES[kind][wanted][:6])})"
            ),
        )
    one_of = ONE_OF_REQUIRED[kind]
    if one_of and not any(f in fields for f in one_of):
        raise InputFileError(
            file,
            f"missing a column {_ONE_OF_WHAT[kind]} ({' or '.join(one_of)})",
            hint=(
                f"Columns found: {', '.join(columns[:30])}. Say which it is in the "
                f"column mapping: YOUR_COLUMN={one_of[0]}"
            ),
        )
    extras = [c for c in columns if c not in used]
    return ColumnPlan(kind=kind, fields=fields, extras=extras, recognised=recognised)
