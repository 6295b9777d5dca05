"""Event exports as each vendor writes them: where its ids, times, names and properties live.

A preset says, for one vendor's documented raw export, which nested path feeds each field of
the store, which calls only link identities (Segment identify, PostHog and Mixpanel $identify),
and how ids are linked. Ingest reads the file as it is, recognises the vendor from the file's
shape (or is told with `--format`), and rewrites it into the store's own columns before the
usual checks run (vendor_sql.py writes that SQL), so every rule about bad rows, repeats and
transactions applies unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from analytics.errors import ArgumentError
from analytics.store.nesting import NestedColumns

VendorFormat = Literal["auto", "mixpanel", "amplitude", "segment", "ga4", "posthog", "plain"]
VENDOR_FORMATS: tuple[str, ...] = ("auto", "mixpanel", "amplitude", "segment", "ga4", "posthog",
                                   "plain")

# The store's event fields a preset fills, as the flat table the loader reads next.
FLAT_FIELDS = ("event_id", "customer_id", "anonymous_id", "timestamp", "event_name", "channel",
               "device")
ROW_COLUMN = "_journey_row"
UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


@dataclass(frozen=True)
class Link:
    """On an identity call (`call_field` = `call_value`), `alias` is the same person as
    `canonical` (the id that stays)."""

    call_value: str
    alias: str
    canonical: str


@dataclass(frozen=True)
class EventPreset:
    name: str
    title: str
    fields: dict[str, tuple[str, ...]]  # store field -> paths, the first that holds a value wins
    containers: tuple[str, ...]  # objects whose keys are the event's own properties
    call_field: str  # the path naming the call or event (`type` for Segment, else the event)
    identity_calls: tuple[str, ...] = ()  # calls that only link or describe people, not steps
    links: tuple[Link, ...] = ()
    key_values: tuple[str, ...] = ()  # GA4's key/value arrays, read as objects
    country: tuple[str, ...] = ()  # stored as the `country` property as well
    # One id that is anonymous until an identity call links it (PostHog distinct_id, Mixpanel's
    # original ID merge): it becomes the anonymous id when linked, the customer id otherwise.
    shared_id: tuple[str, ...] = ()
    person_group: str | None = None  # PostHog's person_id: every id of a person shares it
    renamed_calls: dict[str, str] = field(default_factory=dict)  # Segment page -> Page Viewed
    metadata: tuple[str, ...] = ()  # top-level columns that describe the call, not the event
    alias_prefix: str | None = None  # Mixpanel writes an anonymous distinct_id as $device:ID
    traits: tuple[str, ...] = ()  # what an identity call says about the person (traits, $set)
    id_from: tuple[str, ...] = ()  # an export without event ids: the fields that make one

    def missing(self, nested: NestedColumns) -> list[str]:
        """What a file must have to be this export: the call's name and a time."""
        out = [] if nested.has(self.call_field) else [self.call_field]
        if not any(nested.has(p) for p in self.fields["timestamp"]):
            out.append(" or ".join(self.fields["timestamp"]))
        return out


MIXPANEL = EventPreset(
    name="mixpanel", title="Mixpanel raw export",
    fields={
        "event_id": ("properties.$insert_id",),
        "customer_id": ("properties.$user_id",),
        "anonymous_id": ("properties.$device_id",),
        "timestamp": ("properties.time",),
        "event_name": ("event",),
        "channel": ("properties.utm_source", "properties.$initial_utm_source"),
        "device": ("properties.$device_type", "properties.device_type", "properties.$device",
                   "properties.$os"),
    },
    containers=("properties",), call_field="event",
    identity_calls=("$identify", "$create_alias", "$merge"),
    links=(Link("$identify", "properties.$anon_distinct_id", "properties.$identified_id"),
           Link("$create_alias", "properties.distinct_id", "properties.alias")),
    country=("properties.mp_country_code", "properties.$country_code"),
    shared_id=("properties.distinct_id",),
    alias_prefix="$device:",
)

AMPLITUDE = EventPreset(
    name="amplitude", title="Amplitude export",
    fields={
        # event_id is a per-device counter in Amplitude's export; $insert_id or uuid is unique.
        "event_id": ("$insert_id", "insert_id", "uuid"),
        "customer_id": ("user_id",),
        "anonymous_id": ("device_id",),
        "timestamp": ("event_time", "client_event_time", "server_received_time"),
        "event_name": ("event_type",),
        # Event-scoped first; then the person's first touch (utm_source is their last touch).
        "channel": ("event_properties.utm_source", "user_properties.initial_utm_source",
                    "user_properties.utm_source"),
        "device": ("event_properties.device_category", "device_type", "device_family",
                   "os_name", "platform"),
    },
    containers=("event_properties",), call_field="event_type",
    identity_calls=("$identify", "$groupidentify"),
    links=(Link("$identify", "device_id", "user_id"),),
    country=("country",),
    traits=("user_properties",),
)

SEGMENT = EventPreset(
    name="segment", title="Segment archive (track, page, screen and identify calls)",
    fields={
        "event_id": ("messageId",),
        "customer_id": ("userId",),
        "anonymous_id": ("anonymousId",),
        "timestamp": ("timestamp", "originalTimestamp", "receivedAt", "sentAt"),
        "event_name": ("event",),
        "channel": ("context.campaign.source", "properties.utm_source"),
        "device": ("context.device.type",),
    },
    containers=("properties",), call_field="type",
    identity_calls=("identify", "alias", "group"),
    links=(Link("identify", "anonymousId", "userId"), Link("alias", "previousId", "userId")),
    country=("context.location.country",),
    renamed_calls={"page": "Page Viewed", "screen": "Screen Viewed"},
    traits=("traits", "context.traits"),
    metadata=("type", "version", "channel", "projectId", "writeKey", "integrations",
              "receivedAt", "sentAt", "originalTimestamp"),
)

GA4 = EventPreset(
    name="ga4", title="Google Analytics 4 BigQuery export",
    fields={
        # GA4 has none: one person's event of one name at one microsecond is one event, however
        # the export was written (Parquet or JSON, numbers as numbers or as strings).
        "event_id": (),
        "customer_id": ("user_id",),
        "anonymous_id": ("user_pseudo_id",),
        "timestamp": ("event_timestamp",),
        "event_name": ("event_name",),
        # Event-scoped source first; traffic_source is the person's first touch on every row.
        "channel": ("collected_traffic_source.manual_source", "event_params.source",
                    "traffic_source.source"),
        "device": ("device.category",),
    },
    containers=("event_params",), call_field="event_name",
    key_values=("event_params", "user_properties"),
    id_from=("user_pseudo_id", "user_id", "event_timestamp", "event_name",
             "batch_event_index", "event_bundle_sequence_id"),
    country=("geo.country",),
)

POSTHOG = EventPreset(
    name="posthog", title="PostHog events export",
    fields={
        "event_id": ("uuid",),
        "customer_id": (),
        "anonymous_id": (),
        "timestamp": ("timestamp",),
        "event_name": ("event",),
        "channel": ("properties.utm_source", "properties.$initial_utm_source"),
        "device": ("properties.$device_type",),
    },
    containers=("properties",), call_field="event",
    identity_calls=("$identify", "$create_alias", "$merge_dangerously", "$set",
                    "$groupidentify"),
    links=(Link("$identify", "properties.$anon_distinct_id", "distinct_id"),
           Link("$create_alias", "properties.alias", "distinct_id")),
    country=("properties.$geoip_country_code",),
    shared_id=("distinct_id",),
    person_group="person_id",
    traits=("properties.$set", "person_properties"),
)

PRESETS: dict[str, EventPreset] = {p.name: p for p in (MIXPANEL, AMPLITUDE, SEGMENT, GA4,
                                                        POSTHOG)}


def detect_preset(columns: list[str]) -> EventPreset | None:
    """The vendor whose documented export has these top-level columns, if any."""
    have = set(columns)
    if "type" in have and have & {"messageId", "anonymousId", "userId"}:
        return SEGMENT
    if {"event_timestamp", "event_name", "user_pseudo_id"} <= have:
        return GA4
    if {"event_type", "event_time"} <= have and have & {"device_id", "amplitude_id", "user_id"}:
        return AMPLITUDE
    if {"event", "distinct_id", "timestamp"} <= have and have & {"uuid", "person_id",
                                                                 "elements_chain"}:
        return POSTHOG
    if {"event", "properties"} <= have and not have & {"timestamp", "time", "distinct_id",
                                                       "user_id", "userId"}:
        return MIXPANEL
    return None


def choose_preset(fmt: str, columns: list[str], file: str) -> EventPreset | None:
    if fmt not in VENDOR_FORMATS:
        raise ArgumentError("format", f"'{fmt}' is not one of {', '.join(VENDOR_FORMATS)}")
    if fmt == "plain":
        return None
    if fmt == "auto":
        return detect_preset(columns)
    preset = PRESETS[fmt]
    nested = NestedColumns({c: "JSON" for c in columns}, preset.key_values)
    missing = preset.missing(nested)
    if missing:
        raise not_this_export(preset, file, f"it has no {', '.join(missing)}",
                              f"Columns found: {', '.join(columns[:20])}. Load it without "
                              "--format, or with --format plain and a column mapping")
    return preset


def not_this_export(preset: EventPreset, file: str, why: str, hint: str):
    """The error for a file forced into a vendor's shape it does not have."""
    from analytics.errors import InputFileError

    article = "an" if preset.title[0].lower() in "aeiou" else "a"
    return InputFileError(file, f"does not look like {article} {preset.title}: {why}", hint=hint)


def with_mapping(preset: EventPreset, mapping: dict[str, str], file: str,
                 columns: list[str]) -> EventPreset:
    """The preset with the user's own column mapping (SOURCE=field, dotted paths allowed) taking
    precedence for the fields it names."""
    from dataclasses import replace

    from analytics.errors import InputFileError

    if not mapping:
        return preset
    nested = NestedColumns({c: "JSON" for c in columns}, preset.key_values)
    fields = dict(preset.fields)
    for source, target in mapping.items():
        if target not in FLAT_FIELDS and target != "properties":
            raise ArgumentError("mapping", f"{source}={target}: '{target}' is not a field of "
                                           f"events. Fields: {', '.join(FLAT_FIELDS)}, properties")
        if not nested.has(source):
            raise InputFileError(
                file, f"the column mapping names '{source}', which the file does not have",
                hint=f"Top-level columns: {', '.join(columns[:30])}; reach inside one with a "
                     "dotted path such as properties.time")
        if target == "properties":
            preset = replace(preset, containers=(source,))
        else:
            fields[target] = (source,)
    return replace(preset, fields=fields)
