"""A vendor's export rewritten into the store's own event fields, as SQL over the raw table.

The preset (vendors.py) says where each field lives; this module writes the SELECT that reads
them there, the links and traits the identity calls carry, and the event's properties.
"""

from __future__ import annotations

from dataclasses import dataclass

from analytics.store import cells
from analytics.store.nesting import NestedColumns
from analytics.store.vendors import FLAT_FIELDS, ROW_COLUMN, UUID_PATTERN, EventPreset


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
                     f"_journey_canonicals) AND regexp_full_match({one_id}, '{UUID_PATTERN}')))")
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
    `$os`, Segment's `ios`), matched without regard to case; a value it does not know is kept
    as the vendor wrote it."""
    value = f"lower({text_sql})"
    return (f"(CASE WHEN {text_sql} IS NULL THEN NULL "
            f"WHEN regexp_matches({value}, 'ipad|tablet|kindle|galaxy tab') THEN 'tablet' "
            f"WHEN regexp_matches({value}, 'iphone|android|mobile|phone|^ios$|ipod') "
            "THEN 'mobile' "
            f"WHEN regexp_matches({value}, 'desktop|windows|mac|linux|chrome os|ubuntu') "
            f"THEN 'desktop' ELSE {text_sql} END)")


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
