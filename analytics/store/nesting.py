"""Values inside nested columns, named by dotted paths.

Vendors nest what a marketer needs: Mixpanel's `properties.time`, Segment's
`context.campaign.source`, GA4's `device.category`, and GA4's `event_params`, a list of
`{key, value: {string_value | int_value | double_value | float_value}}`. The raw table keeps each
top-level value as it was read (JSON for JSON Lines, STRUCT/LIST for Parquet, JSON text in a CSV
cell); a dotted path names a value inside one of them, whatever its physical type.
"""

from __future__ import annotations

from analytics.store import cells

# GA4's key/value arrays (event_params, user_properties), read as a typed list.
_KEY_VALUE_TYPE = ('[{"key": "VARCHAR", "value": {"string_value": "VARCHAR", "int_value": '
                   '"VARCHAR", "double_value": "VARCHAR", "float_value": "VARCHAR"}}]')


def json_path(keys: list[str]) -> str:
    """A JSON path with every key quoted, so `$browser` or `a.b` as one key reads as written."""
    return "$" + "".join('."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
                         for key in keys)


def as_json(column: str, duck_type: str) -> str:
    """A column as JSON: JSON as is, a CSV cell holding JSON text parsed, a struct serialised."""
    col = cells.quote_ident(column)
    if duck_type.upper() == "JSON":
        return col
    if cells.is_text_type(duck_type):
        # Only an object or a list written as text (PostHog's CSV `properties`) is parsed; a
        # value such as 20241001 or true stays the text it was.
        starts = "regexp_matches(" + col + r", '^\s*[\[{]')"
        return (f"(CASE WHEN {starts} AND json_valid({col}) THEN CAST({col} AS JSON) "
                f"ELSE to_json({col}) END)")
    return f"CAST(to_json({col}) AS JSON)"


def key_value_object(json_sql: str) -> str:
    """GA4's list of {key, value: {..._value}} as one JSON object {key: value}."""
    # from_json ignores keys the shape does not list (GA4 adds set_timestamp_micros and more).
    return (f"(CASE WHEN json_type({json_sql}) = 'ARRAY' THEN "
            "CAST(to_json(map_from_entries(list_transform("
            f"from_json({json_sql}, {cells.quote_literal(_KEY_VALUE_TYPE)}), lambda x: "
            "{'k': x.key, 'v': COALESCE(x.value.string_value, x.value.int_value, "
            "x.value.double_value, x.value.float_value)}))) AS JSON) END)")


class NestedColumns:
    """Resolves dotted paths against a raw table's columns (name -> DuckDB type)."""

    def __init__(self, types: dict[str, str], key_values: tuple[str, ...] = ()) -> None:
        self.types = types
        self.key_values = key_values

    def split(self, path: str) -> tuple[str, list[str]] | None:
        """(column, keys inside it) for a path; a column whose own name has dots wins."""
        if path in self.types:
            return path, []
        parts = path.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            head = ".".join(parts[:cut])
            if head in self.types:
                return head, parts[cut:]
        return None

    def has(self, path: str) -> bool:
        return self.split(path) is not None

    def column_json(self, column: str) -> str:
        base = as_json(column, self.types[column])
        return key_value_object(base) if column in self.key_values else base

    def json(self, path: str) -> str | None:
        """SQL for the JSON value at `path`, or None when its column is not in the file."""
        found = self.split(path)
        if found is None:
            return None
        column, keys = found
        base = self.column_json(column)
        return base if not keys else f"json_extract({base}, {cells.quote_literal(json_path(keys))})"

    def text(self, path: str) -> str | None:
        """SQL for the value at `path` as trimmed text (NULL when absent or empty)."""
        found = self.split(path)
        if found is None:
            return None
        column, keys = found
        if not keys and column not in self.key_values:
            return cells.raw_text(column, self.types[column])
        value = self.json(path)
        return f"NULLIF(trim(json_extract_string({value}, '$')), '')"

    def first_text(self, paths: tuple[str, ...]) -> str:
        """The first of `paths` that holds a value, row by row."""
        parts = [t for t in (self.text(p) for p in paths) if t is not None]
        if not parts:
            return "CAST(NULL AS VARCHAR)"
        return parts[0] if len(parts) == 1 else f"COALESCE({', '.join(parts)})"
