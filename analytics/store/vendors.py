"""Event exports as each vendor writes them: where its ids, times, names and properties live.

A preset says, for one vendor's documented raw export, which nested path feeds each field of
the store, which calls only link identities (Segment identify, PostHog and Mixpanel $identify),
and how ids are linked. Ingest reads the file as it is, recognises the vendor from the file's
shape (or is told with `--format`), and rewrites it into the store's own columns before the
usual checks run, so every rule about bad rows, repeats and transactions applies unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from analytics.errors import ArgumentError
from analytics.store import cells
from analytics.store.nesting import NestedColumns

VendorFormat = Literal["auto", "mixpanel", "amplitude", "segment", "ga4", "posthog", "plain"]
VENDOR_FORMATS: tuple[str, ...] = ("auto", "mixpanel", "amplitude", "segment", "ga4", "posthog",
                                   "plain")

# The store's event fields a preset fills, as the flat table the loader reads next.
FLAT_FIELDS = ("event_id", "customer_id", "anonymous_id", "timestamp", "event_name", "channel",
               "device")
ROW_COLUMN = "_journey_row"
_UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


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
    from analytics.errors import InputFileError

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
        article = "an" if preset.title[0].lower() in "aeiou" else "a"
        raise InputFileError(file, f"does not look like {article} {preset.title}: it has no "
                             f"{', '.join(missing)}",
                             hint=f"Columns found: {', '.join(columns[:20])}. Load it without "
                                  "--format, or with --format plain and a column mapping")
    return preset


@dataclass
class FlatPlan:
    """The SQL that rewrites the raw table, and what it read from where (for the report)."""

    links_sql: str | None  # alias, canonical, ts_text: one row per link found on identity calls
    flat_sql: str  # the flat table (FLAT_FIELDS, properties, ROW_COLUMN); needs _journey_aliases
    identity_rows_sql: str  # counts the identity calls, which are not loaded as events
    traits_sql: str | None  # customer_id, traits, ts_text of identity calls that describe people
    customers_sql: str | None  # the ids the file itself names as customers (Mixpanel $user_id)
    sources: dict[str, list[str]]  # field -> the paths it may come from


def _in_list(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join(cells.quote_literal(v) for v in values)


def flat_plan(preset: EventPreset, types: dict[str, str], row_sql: str) -> FlatPlan:
    nested = NestedColumns(types, preset.key_values)
    call = nested.text(preset.call_field) or "CAST(NULL AS VARCHAR)"
    is_identity = (f"COALESCE({call} IN ({_in_list(preset.identity_calls)}), FALSE)"
                   if preset.identity_calls else "FALSE")
    exprs: dict[str, str] = {}
    sources: dict[str, list[str]] = {}
    for name in FLAT_FIELDS:
        paths = tuple(p for p in preset.fields.get(name, ()) if nested.has(p))
        sources[name] = list(paths)
        exprs[name] = nested.first_text(paths)
    exprs["device"] = device_category(exprs["device"])
    parts = [nested.text(p) for p in preset.id_from if nested.has(p)]
    if parts and not sources["event_id"]:
        joined = " || chr(31) || ".join(f"COALESCE({p}, '')" for p in parts)
        exprs["event_id"] = f"'{preset.name}:' || substr(md5({joined}), 1, 24)"
        used = ", ".join(p for p in preset.id_from if nested.has(p))
        sources["event_id"] = [f"made from {used}"]
    if preset.renamed_calls:
        renames = " ".join(f"WHEN {cells.quote_literal(k)} THEN {cells.quote_literal(v)}"
                           for k, v in preset.renamed_calls.items())
        exprs["event_name"] = f"COALESCE({exprs['event_name']}, CASE {call} {renames} END)"
        sources["event_name"].append(f"{preset.call_field} ({', '.join(preset.renamed_calls)})")
    named = exprs["customer_id"]
    customers_sql = (None if named == "CAST(NULL AS VARCHAR)" else
                     f"SELECT DISTINCT {named} FROM _raw WHERE {named} IS NOT NULL")
    shared = tuple(p for p in preset.shared_id if nested.has(p))
    if shared:
        # Linked by an identity call: the anonymous side of a person. Unlinked: a customer when
        # some call named it as the person it links to, or when it is not a UUID (the SDKs'
        # anonymous ids are UUIDs; server-side events carry the product's own user id). Told
        # from the file alone, so loading it again reads every row the same way.
        one_id = nested.first_text(shared)
        device_marked = "FALSE"
        if preset.alias_prefix:  # Mixpanel's $device:ID is an anonymous device, by name
            prefix = cells.quote_literal(preset.alias_prefix)
            device_marked = f"starts_with({one_id}, {prefix})"
            one_id = (f"(CASE WHEN {device_marked} THEN substr({one_id}, "
                      f"{len(preset.alias_prefix) + 1}) ELSE {one_id} END)")
        linked = f"{one_id} IN (SELECT alias FROM _journey_aliases)"
        anonymous = (f"({linked} OR {device_marked} OR ({one_id} NOT IN (SELECT canonical FROM "
                     f"_journey_canonicals) AND regexp_full_match({one_id}, '{_UUID}')))")
        unlinked_sql = f"CASE WHEN NOT {anonymous} THEN {one_id} END"
        anon_sql = f"CASE WHEN {anonymous} THEN {one_id} END"
        if exprs["anonymous_id"] != "CAST(NULL AS VARCHAR)":
            # Mixpanel: the shared id counts only where $device_id is absent.
            unlinked_sql = f"CASE WHEN {exprs['anonymous_id']} IS NULL THEN {unlinked_sql} END"
        exprs["customer_id"] = f"COALESCE({exprs['customer_id']}, {unlinked_sql})"
        exprs["anonymous_id"] = f"COALESCE({exprs['anonymous_id']}, {anon_sql})"
        sources["customer_id"] += list(shared)
        sources["anonymous_id"] += [f"{p} (when anonymous)" for p in shared]
    properties = _properties_sql(preset, nested, types)
    columns = [f"{sql} AS {cells.quote_ident(name)}" for name, sql in exprs.items()]
    flat_sql = (f"SELECT {', '.join(columns)}, {properties} AS properties, {row_sql} AS "
                f"{ROW_COLUMN} FROM _raw WHERE NOT {is_identity}")
    links_sql = _links_sql(preset, nested, call, exprs["timestamp"])
    traits = [t for t in (nested.json(p) for p in preset.traits) if t is not None]
    person = (nested.first_text(preset.fields["customer_id"] + shared)
              if preset.fields["customer_id"] + shared else None)
    traits_sql = None
    if traits and person and preset.identity_calls:
        value = traits[0] if len(traits) == 1 else f"COALESCE({', '.join(traits)})"
        # Kept under the person's lasting id: an anonymous id's traits go to whom it links to.
        traits_sql = (f"SELECT COALESCE(l.canonical, {person}) AS customer_id, {value} AS traits, "
                      f"{exprs['timestamp']} AS ts_text FROM _raw "
                      f"LEFT JOIN (SELECT alias, min(canonical) AS canonical FROM _journey_links "
                      f"GROUP BY alias) AS l ON l.alias = {person} WHERE {is_identity} "
                      f"AND {person} IS NOT NULL AND json_type({value}) = 'OBJECT'")
    return FlatPlan(links_sql=links_sql, flat_sql=flat_sql,
                    identity_rows_sql=f"SELECT count(*) FROM _raw WHERE {is_identity}",
                    traits_sql=traits_sql, customers_sql=customers_sql, sources=sources)


def device_category(text_sql: str) -> str:
    """desktop / mobile / tablet from what vendors write (Amplitude's `Apple iPhone`, Mixpanel's
    `$os`, Segment's `ios`); a value it does not know is kept, lower-cased."""
    value = f"lower({text_sql})"
    return (f"(CASE WHEN {text_sql} IS NULL THEN NULL "
            f"WHEN regexp_matches({value}, 'ipad|tablet|kindle|galaxy tab') THEN 'tablet' "
            f"WHEN regexp_matches({value}, 'iphone|android|mobile|phone|^ios$|ipod') "
            "THEN 'mobile' "
            f"WHEN regexp_matches({value}, 'desktop|windows|mac|linux|chrome os|ubuntu') "
            f"THEN 'desktop' ELSE {value} END)")


def _properties_sql(preset: EventPreset, nested: NestedColumns, types: dict[str, str]) -> str:
    """The event's properties: its containers' keys as they are, the other top-level columns
    under their own names (nested ones stay nested), and the country where the vendor keeps it."""
    used = {p for paths in preset.fields.values() for p in paths if "." not in p}
    used |= set(preset.shared_id) | {preset.call_field} | set(preset.containers)
    leftovers = [c for c in types if c not in used and c not in preset.metadata
                 and c != ROW_COLUMN]
    parts: list[str] = []
    countries = tuple(p for p in preset.country if nested.has(p))
    if countries:
        parts.append(f"json_object('country', {nested.first_text(countries)})")
    if leftovers:
        pairs = ", ".join(f"{cells.quote_literal(c)}, {nested.column_json(c)}" for c in leftovers)
        parts.append(f"json_object({pairs})")
    for container in preset.containers:
        if nested.has(container):
            value = nested.json(container)
            parts.append(f"(CASE WHEN json_type({value}) = 'OBJECT' THEN {value} END)")
    if not parts:
        return "CAST(NULL AS JSON)"
    # Later parts win a key they share; NULL members drop out (json_merge_patch is NULL then).
    merged = f"COALESCE({parts[0]}, '{{}}')"
    for part in parts[1:]:
        merged = f"json_merge_patch({merged}, COALESCE({part}, '{{}}'))"
    # A JSON null member would otherwise stay as a key with no value; strip nothing else.
    return f"CAST({merged} AS JSON)"


def _links_sql(preset: EventPreset, nested: NestedColumns, call: str,
               timestamp_sql: str) -> str | None:
    parts = []
    for link in preset.links:
        alias, canonical = nested.text(link.alias), nested.text(link.canonical)
        if alias is None or canonical is None:
            continue
        if preset.alias_prefix:  # the anonymous events carry the bare device id
            prefix = cells.quote_literal(preset.alias_prefix)
            alias = (f"(CASE WHEN starts_with({alias}, {prefix}) THEN "
                     f"substr({alias}, {len(preset.alias_prefix) + 1}) ELSE {alias} END)")
        parts.append(f"SELECT {alias} AS alias, {canonical} AS canonical, {timestamp_sql} AS "
                     f"ts_text FROM _raw WHERE {call} = {cells.quote_literal(link.call_value)}")
    if preset.person_group and nested.has(preset.person_group) and preset.shared_id:
        group = nested.text(preset.person_group)
        one_id = nested.first_text(tuple(p for p in preset.shared_id if nested.has(p)))
        # Every id of one person links to the person's latest id (after sign-up, the user id).
        parts.append(f"""
            SELECT DISTINCT r.id AS alias, g.canonical AS canonical, r.ts_text AS ts_text
            FROM (SELECT {group} AS grp, {one_id} AS id, min({timestamp_sql}) AS ts_text
                  FROM _raw WHERE {group} IS NOT NULL AND {one_id} IS NOT NULL
                  GROUP BY ALL) AS r
            JOIN (SELECT {group} AS grp, arg_max({one_id}, {timestamp_sql}) AS canonical
                  FROM _raw WHERE {group} IS NOT NULL AND {one_id} IS NOT NULL
                    AND {call} NOT IN ({_in_list(preset.identity_calls) or "''"})
                  GROUP BY ALL) AS g USING (grp)""")
    if not parts:
        return None
    return (f"SELECT alias, canonical, min(ts_text) AS ts_text FROM ({' UNION ALL '.join(parts)}) "
            "WHERE alias IS NOT NULL AND canonical IS NOT NULL AND alias <> canonical "
            "GROUP BY alias, canonical")


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
