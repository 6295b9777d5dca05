"""Per-person behavioural features, computed in one SQL query.

Shared by segmentation, the churn model and next-best-action. Counts per event name are
pivoted with `count(*) FILTER (WHERE ...)`, one column per event (the most common events when
there are many), so the feature table has one row per person and no Python loops over events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from analytics.filters import Filters, observation_end, scope_sql
from analytics.store.connection import Connection
from analytics.store.deals import won_revenue_sql

MAX_EVENT_COLUMNS = 40


def safe_column(prefix: str, name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() else "_" for ch in name.lower()).strip("_")
    return f"{prefix}{cleaned}"


def top_events(con: Connection, limit: int = MAX_EVENT_COLUMNS) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT event_name FROM events GROUP BY event_name "
        "ORDER BY count(DISTINCT COALESCE(customer_id, anonymous_id)) DESC, event_name LIMIT ?",
        [limit]).fetchall()]


@dataclass
class FeatureTable:
    frame: pd.DataFrame  # one row per person; index person_id
    numeric: list[str]  # columns fed to models (counts, recency, ...)
    categorical: list[str]  # one-hot columns (device_*, channel_*)
    as_of: datetime


def person_features(con: Connection, *, filters: Filters = Filters(),
                    as_of: datetime | None = None, customers_only: bool = False,
                    events: list[str] | None = None) -> FeatureTable:
    """Features from events strictly before `as_of` (default: the end of the data)."""
    events = events if events is not None else top_events(con)
    stages = [r[0] for r in con.execute("SELECT stage FROM stages ORDER BY position").fetchall()]
    if as_of is None:
        as_of = observation_end(con, filters) + timedelta(seconds=1)
    scope = scope_sql(filters)
    params = list(scope.params)
    event_cols = []
    for name in events:
        column = safe_column("n_", name)
        event_cols.append(f"count(*) FILTER (WHERE event_name = ?) AS \"{column}\"")
        params.append(name)
    stage_cols = []
    for stage in stages:
        column = safe_column("stage_", stage)
        stage_cols.append(f"count(*) FILTER (WHERE stage = ?) AS \"{column}\"")
        params.append(stage)
    params.append(as_of)
    who = "AND customer_id IS NOT NULL" if customers_only else ""
    params.append(as_of)
    frame = con.execute(f"""
{scope.ctes},
scoped AS (SELECT * FROM ev WHERE ts < ? {who}),
per_person AS (
    SELECT person_id,
           max(customer_id) AS customer_id,
           count(*) AS events,
           count(DISTINCT CAST(ts AS DATE)) AS active_days,
           date_diff('day', CAST(max(ts) AS DATE), CAST(? AS DATE)) AS recency_days,
           date_diff('day', CAST(min(ts) AS DATE), CAST(max(ts) AS DATE)) AS tenure_days,
           max(stage_position) AS furthest_stage,
           arg_max(event_name, {{'ts': ts, 'id': event_id}}) AS last_event,
           arg_min(device, {{'ts': ts, 'id': event_id}}) FILTER (WHERE device IS NOT NULL)
               AS device,
           arg_min(channel, {{'ts': ts, 'id': event_id}}) FILTER (WHERE channel IS NOT NULL)
               AS first_channel,
           {', '.join(stage_cols + event_cols)}
    FROM scoped GROUP BY person_id
)
SELECT p.*, COALESCE(c.revenue, w.won_amount, 0) AS revenue, c.churned AS churned,
       COALESCE(c.opted_out, FALSE) AS opted_out, c.plan AS plan,
       (SELECT count(*) FROM feedback AS f WHERE f.customer_id = p.customer_id
          AND f.source = 'ticket' AND f.ts < ?) AS tickets
FROM per_person AS p LEFT JOIN customers AS c ON c.customer_id = p.customer_id
LEFT JOIN ({won_revenue_sql()}) AS w ON w.customer_id = p.customer_id
ORDER BY p.person_id
""", _reorder(params, len(scope.params), len(events), len(stages))).df()
    frame = frame.set_index("person_id")
    numeric = (["events", "active_days", "recency_days", "tenure_days", "furthest_stage",
                "revenue", "tickets"]
               + [safe_column("stage_", s) for s in stages]
               + [safe_column("n_", e) for e in events])
    categorical = []
    for column, prefix in (("device", "device_"), ("first_channel", "channel_")):
        values = frame[column].fillna("unknown")
        # Names are kept as loaded, so "iOS" and "ios" may both be there: one column for the
        # spellings that make one column name, never the same column twice.
        for value in sorted(values.unique()):
            name = safe_column(prefix, value)
            hit = (values == value).astype(float)
            if name in categorical:
                frame[name] = frame[name].clip(lower=hit)
            else:
                frame[name] = hit
                categorical.append(name)
    for column in numeric:
        frame[column] = frame[column].astype(float).fillna(0.0)
    return FeatureTable(frame=frame, numeric=numeric, categorical=categorical, as_of=as_of)


def _reorder(params: list, n_scope: int, n_events: int, n_stages: int) -> list:
    """Parameters in the order their placeholders appear in the query text."""
    scope = params[:n_scope]
    events = params[n_scope:n_scope + n_events]
    stages = params[n_scope + n_events:n_scope + n_events + n_stages]
    as_of_scoped, as_of_recency = params[-2], params[-1]
    # Text order: scope, scoped.ts < ?, recency ?, stage filters, event filters, tickets ?
    return scope + [as_of_scoped, as_of_recency] + stages + events + [as_of_recency]


def model_matrix(table: FeatureTable) -> tuple[np.ndarray, list[str]]:
    """Counts log-scaled (heavy tails), one-hots as they are."""
    columns = table.numeric + table.categorical
    values = table.frame[columns].to_numpy(dtype=float)
    n_numeric = len(table.numeric)
    values[:, :n_numeric] = np.log1p(np.clip(values[:, :n_numeric], 0, None))
    return values, columns
