"""The portable subset, checked on the parse tree: constructs that do not run, or silently
change meaning, on Spark or ClickHouse (DESIGN.md: "write them in a portable subset").

`problems(sql)` lists what a query does outside the subset; the tests run it over every query
the analytics send, so a new analytic that slips out of the subset fails there, not on a
customer's cluster.
"""

from __future__ import annotations

from sqlglot import exp

from analytics.engines.sql_compile import bind_parameters, parse_duckdb

_TRUNCATED = (exp.TimestampTrunc, exp.DateTrunc)


def _truncated(node: exp.Expr) -> bool:
    """A date or a truncated time (or a column holding one, by the analytics' naming): where
    counting boundaries and counting whole units agree."""
    if isinstance(node, exp.Cast) and node.to.is_type("date"):
        return True
    while isinstance(node, exp.Cast):
        node = node.this
    return isinstance(node, _TRUNCATED) or (
        isinstance(node, exp.Column) and node.name.endswith(("_day", "cohort")))


def _column_names(select: exp.Select, outermost: bool) -> list[str]:
    """Inside a CTE or subquery every computed column is named (ClickHouse names `a.x` as
    "a.x", so a later `x` does not find it); no SELECT names two columns alike."""
    found, names = [], []
    for projection in select.expressions:
        if isinstance(projection, exp.Star) or (isinstance(projection, exp.Column)
                                                and projection.is_star):
            continue
        if isinstance(projection, exp.Alias):
            names.append(projection.alias)
        elif isinstance(projection, exp.Column):
            names.append(projection.name)
        elif outermost:
            names.append(projection.sql("duckdb"))  # read by position: only clashes matter
        else:
            found.append(f"unnamed column {projection.sql('duckdb')[:60]} in a CTE or "
                         f"subquery ({select.sql('duckdb')[:90]}...): alias it")
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        found.append(f"two output columns named {', '.join(clashes)}: alias them apart")
    return found


def problems(sql: str, parameters: object = None) -> list[str]:
    found: list[str] = []
    for tree in parse_duckdb(bind_parameters(sql, parameters)):
        for node in tree.walk():
            if isinstance(node, exp.ArrayAgg) and node.find(exp.Order):
                found.append("list(... ORDER BY ...): Spark's COLLECT_LIST ignores the order; "
                             "use string_agg with ORDER BY or a window")
            elif isinstance(node, exp.Bracket | exp.Slice):
                found.append("list index or slice [a:b]: not portable")
            elif isinstance(node, exp.ArraySize):
                found.append("len() of a list: not portable")
            elif isinstance(node, exp.Anonymous) and node.name.lower() in ("epoch", "age",
                                                                            "range"):
                found.append(f"{node.name}(): DuckDB only")
            elif isinstance(node, exp.DateDiff) and not (
                    _truncated(node.this) and _truncated(node.expression)):
                found.append("date_diff on untruncated times: DuckDB counts boundaries "
                             "crossed, Spark whole units elapsed")
            elif isinstance(node, exp.Exists):
                found.append("EXISTS: correlated subqueries do not run everywhere; "
                             "use a (anti-)join")
            elif isinstance(node, exp.Window) and node.args.get("order") is not None and len(
                    node.args["order"].expressions) == 1 and isinstance(
                    node.this, exp.RowNumber | exp.Lead | exp.Lag | exp.FirstValue
                    | exp.LastValue) and _order_is_time_only(node):
                found.append("a window ordered by time alone: add a tie-breaker (ts, event_id)")
            elif isinstance(node, exp.Select) and not (
                    isinstance(node.parent, exp.Union) and node is node.parent.expression) \
                    and not _scalar(node):
                # (a union's later parts take the first part's column names)
                found += _column_names(node, outermost=node is tree or _in_outer_union(node,
                                                                                      tree))
    return found


def _scalar(select: exp.Select) -> bool:
    """A subquery used as a value or an IN list: its one column is read by position."""
    parent = select.parent
    return isinstance(parent, exp.Subquery) and not isinstance(parent.parent,
                                                               exp.From | exp.Join) or \
        isinstance(parent, exp.In)


def _in_outer_union(select: exp.Select, tree: exp.Expr) -> bool:
    node: exp.Expr | None = select.parent
    while isinstance(node, exp.Union):
        if node is tree:
            return True
        node = node.parent
    return False


def _order_is_time_only(window: exp.Window) -> bool:
    key = window.args["order"].expressions[0].this
    return isinstance(key, exp.Column) and key.name in ("ts", "t", "started", "reached_at")
