"""Where SQLGlot's translation of our DuckDB SQL is not faithful: the override registry.

Each override names the construct, the dialects it applies to and why; `apply_overrides`
rewrites a parsed query before it is printed for a dialect. Everything not listed here is
SQLGlot's own translation, and the tests run every analytic on every engine to find what is
missing, because a wrong translation raises no error (it returns other numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp


@dataclass(frozen=True)
class Override:
    name: str
    dialects: tuple[str, ...]
    why: str
    rewrite: Callable[[exp.Expr, str], exp.Expr | None]  # None: leave the node


def _target(text: str, dialect: str) -> exp.Expr:
    """A snippet written in the target's own dialect, as a node that prints back the same."""
    return sqlglot.parse_one(text, read=dialect)


def _epoch_ms(node: exp.Expr, dialect: str) -> exp.Expr | None:
    if not (isinstance(node, exp.UnixToTime) and node.args.get("scale") is not None
            and node.args["scale"].name == "3"):
        return None
    inner = node.this.sql(dialect=dialect)
    return _target({
        "spark": f"UNIX_MILLIS({inner})",
        "bigquery": f"UNIX_MILLIS({inner})",
        "clickhouse": f"toUnixTimestamp64Milli({inner})",
        "snowflake": f"DATE_PART(EPOCH_MILLISECOND, {inner})",
        "trino": f"CAST(to_unixtime({inner}) * 1000 AS BIGINT)",
    }[dialect], dialect)


def _quantile(node: exp.Expr, dialect: str) -> exp.Expr | None:
    if not isinstance(node, exp.PercentileCont) or node.args.get("expression") is None:
        return None
    value, level = node.this.sql(dialect=dialect), node.expression.sql(dialect=dialect)
    if dialect == "spark":
        return _target(f"PERCENTILE({value}, {level})", dialect)
    return _target(f"quantileExactInclusive({level})({value})", dialect)


def _empty_group(node: exp.Expr, dialect: str) -> exp.Expr | None:
    if isinstance(node, exp.Select) and node.args.get("group") is not None:
        group = node.args["group"]
        if (len(group.expressions) == 1 and isinstance(group.expressions[0], exp.Tuple)
                and not group.expressions[0].expressions and not group.args.get("grouping_sets")):
            node.set("group", None)
            return node
    return None


def _nullable_neighbour(node: exp.Expr, dialect: str) -> exp.Expr | None:
    if isinstance(node, (exp.Lead, exp.Lag)):
        node.set("this", exp.Anonymous(this="toNullable", expressions=[node.this]))
        return node
    return None


def _timestamp_type(node: exp.Expr, dialect: str) -> exp.Expr | None:
    if isinstance(node, exp.Cast) and node.to.is_type("timestamptz", "timestamp"):
        return exp.Cast(this=node.this, to=exp.DataType.build("Nullable(DateTime64(6, 'UTC'))",
                                                              dialect="clickhouse"))
    return None


def _truncated_timestamp(node: exp.Expr, dialect: str) -> exp.Expr | None:
    if isinstance(node, (exp.TimestampTrunc, exp.DateTrunc)):
        return exp.Anonymous(this="toDateTime64", expressions=[
            node, exp.Literal.number(6), exp.Literal.string("UTC")])
    return None


def _filtered_aggregate(node: exp.Expr, dialect: str) -> exp.Expr | None:
    if not isinstance(node, exp.Filter) or isinstance(node.this, exp.Count):
        return None
    agg, condition = node.this, node.expression.this
    if not isinstance(agg, exp.AggFunc) or agg.this is None:
        return None
    agg = agg.copy()
    agg.set("this", exp.Case(ifs=[exp.If(this=condition.copy(), true=agg.this.copy())]))
    return agg


def _concat_ws(node: exp.Expr, dialect: str) -> exp.Expr | None:
    if not isinstance(node, exp.ConcatWs):
        return None
    separator, *parts = node.expressions
    listed = ", ".join(p.sql(dialect=dialect) for p in parts)
    return _target(f"arrayStringConcat(arrayMap(x -> assumeNotNull(x), arrayFilter(x -> "
                   f"isNotNull(x), [{listed}])), {separator.sql(dialect=dialect)})", dialect)


def _struct_as_tuple(node: exp.Expr, dialect: str) -> exp.Expr | None:
    if not isinstance(node, exp.Struct):
        return None
    values = [e.expression if isinstance(e, exp.PropertyEQ) else e for e in node.expressions]
    return exp.Anonymous(this="tuple", expressions=[v.copy() for v in values])


def _json_keys(node: exp.Expr, dialect: str) -> exp.Expr | None:
    if isinstance(node, exp.JSONKeys):
        return exp.Anonymous(this="JSONExtractKeys", expressions=[
            exp.Anonymous(this="assumeNotNull", expressions=[node.this.copy()])])
    return None


def _json_type(node: exp.Expr, dialect: str) -> exp.Expr | None:
    if not isinstance(node, exp.JSONType):
        return None
    value = node.this.copy()
    if dialect == "clickhouse":
        return _target(f"upper(toString(JSONType(assumeNotNull({value.sql(dialect=dialect)}))))",
                       dialect)
    # Spark has no JSON_TYPE: an object is what has keys.
    inner = value.sql(dialect=dialect)
    return _target(f"CASE WHEN JSON_OBJECT_KEYS({inner}) IS NOT NULL THEN 'OBJECT' END", dialect)


def _sample_as_limit(node: exp.Expr, dialect: str) -> exp.Expr | None:
    sample = node.args.get("sample") if isinstance(node, exp.Select) else None
    if sample is None or sample.args.get("size") is None:
        return None
    table = node.args["from_"].this
    rows = int(sample.args["size"].name)
    node.set("sample", None)
    table.replace(exp.select("*").from_(table.copy()).limit(rows).subquery(table.alias_or_name))
    return node


def _regexp_replace_all(node: exp.Expr, dialect: str) -> exp.Expr | None:
    if isinstance(node, exp.RegexpReplace) and node.args.get("modifiers") is not None:
        if node.args["modifiers"].name != "g":
            return None  # other flags: left for the engine to refuse, loudly
        node.set("modifiers", None)  # REGEXP_REPLACE is replaceRegexpAll there: every match
        node.set("single_replace", None)
        return node
    return None


def _not_materialized(node: exp.Expr, dialect: str) -> exp.Expr | None:
    if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
        node.set("materialized", None)
        return node
    return None


def _double_literal(node: exp.Expr, dialect: str) -> exp.Expr | None:
    if (isinstance(node, exp.Literal) and not node.is_string
            and any(c in node.this for c in ".eE")
            and not isinstance(node.parent, exp.Cast)):
        return exp.Cast(this=node.copy(), to=exp.DataType.build("DOUBLE"))
    return None


OVERRIDES: list[Override] = [
    Override("epoch_ms(timestamp)", ("spark", "clickhouse", "bigquery", "snowflake", "trino"),
             "DuckDB's epoch_ms is overloaded; SQLGlot reads it as epoch_ms(BIGINT) -> TIMESTAMP "
             "and prints the inverse. The analytics only pass timestamps: milliseconds out.",
             _epoch_ms),
    Override("quantile_cont", ("spark", "clickhouse"),
             "Spark's PERCENTILE_CONT(x, q) and ClickHouse's need WITHIN GROUP; percentile and "
             "quantileExactInclusive interpolate between the closest ranks as DuckDB does.",
             _quantile),
    Override("GROUP BY ()", ("spark",),
             "Spark has no empty grouping set; without GROUP BY the aggregate is the same single "
             "row, zero-count included.", _empty_group),
    Override("lead/lag Nullable", ("clickhouse",),
             "Over a non-Nullable column ClickHouse's lead()/lag() return the type's default "
             "('' or 0) past the partition's edge, not NULL.", _nullable_neighbour),
    Override("TIMESTAMPTZ", ("clickhouse",),
             "SQLGlot prints DateTime (seconds, up to 2106); the store's times are microseconds "
             "in UTC: DateTime64(6, 'UTC').", _timestamp_type),
    Override("date_trunc", ("clickhouse",),
             "ClickHouse truncates to a Date for weeks and months; the analytics compare and "
             "return timestamps.", _truncated_timestamp),
    Override("aggregate FILTER (WHERE ...)", ("clickhouse",),
             "maxIf() and friends over no rows return the type's default ('' or 0), not NULL, "
             "on a non-Nullable column: the condition goes inside, as CASE WHEN, which is "
             "Nullable (count(*) FILTER is countIf and stays).", _filtered_aggregate),
    Override("concat_ws", ("clickhouse",),
             "DuckDB's concat_ws skips NULL parts; ClickHouse's returns NULL when any part is.",
             _concat_ws),
    Override("regexp_replace(..., 'g')", ("clickhouse",),
             "ClickHouse's replaceRegexpAll takes no flags and always replaces every match.",
             _regexp_replace_all),
    Override("AS MATERIALIZED", ("spark", "clickhouse"),
             "A hint to DuckDB's planner that the others do not parse; the result is the same.",
             _not_materialized),
    Override("decimal literal", ("spark",),
             "Spark reads 60000.0 as DECIMAL, and a division by it rounds to a few decimals; "
             "DuckDB reads it as DOUBLE.", _double_literal),
    Override("struct literal", ("clickhouse",),
             "A named tuple literal does not parse there; arg_min/arg_max order by a positional "
             "tuple the same way (field by field).", _struct_as_tuple),
    Override("json_keys", ("clickhouse",),
             "JSON_KEYS does not exist: JSONExtractKeys, which takes no Nullable.", _json_keys),
    Override("json_type", ("spark", "clickhouse"),
             "Spark has no JSON_TYPE; ClickHouse's JSONType names types in CamelCase.",
             _json_type),
    Override("USING SAMPLE reservoir(N ROWS)", ("spark", "clickhouse"),
             "Neither samples a fixed number of rows with a seed: the first N rows instead "
             "(only the catalog's property-key discovery samples).", _sample_as_limit),
]


def apply_overrides(tree: exp.Expr, dialect: str) -> exp.Expr:
    """`tree` with every override for `dialect` applied, innermost nodes first, each node
    through all of them: a rewrite that prints its arguments sees them rewritten already."""
    tree = tree.copy()
    rules = [o for o in OVERRIDES if dialect in o.dialects]
    for node in reversed(list(tree.dfs())):  # children before their parents
        current = node
        for rule in rules:
            # Where the node sits, taken first: a rewrite may wrap it inside its replacement.
            parent, key, index = current.parent, current.arg_key, current.index
            new = rule.rewrite(current, dialect)
            if new is None or new is current:
                continue
            if parent is None or key is None:
                tree = new
            else:
                parent.set(key, new, index)
            current = new
    return tree
