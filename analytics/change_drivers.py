"""Where a change is concentrated, and what moved with it.

For a change found by anomalies.py, the people behind its metric during the window are set
against those of the baseline just before it, split by each dimension we know about them: the
device and channel of the event that put them in the metric, their plan and country, and every
property of that event with a few values (an app version, a region, a price variant). The
overall change of rate decomposes exactly into the values' own changes weighted by their share
of people now, plus a mix term:

    r1 - r0 = sum_v s1_v * (r1_v - r0_v) + sum_v (s1_v - s0_v) * r0_v

A value's share of the change is its term of the first sum over r1 - r0; the value that explains
much more of the change than its share of people (iOS: 90% of a drop from 35% of the people)
is where the change is concentrated, as a root-cause analysis would rank it. Correlation, as
always: a cause shows up where it acts, but so can anything that travels with it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from analytics.results import pct
from analytics.store.connection import Connection

MAX_VALUES = 30  # a property with more values is an id or an amount, not a segment
MAX_KEYS = 25
MIN_PEOPLE = 10  # of a value in the baseline, to have a rate before
EXPLAINED = 5  # changes explained (the largest first)
# How much more of the change than of the people a value must carry to be "where it is": a
# change that hits every value in proportion to its rate (desktop converts more, so loses more)
# is not concentrated anywhere.
MIN_CONCENTRATION = 0.2
MIN_RELATIVE = 0.25  # and its own rate must move by a quarter more (relative) than the rest


def explain_changes(con: Connection, scope: Any, changes: list, grain: str,
                    window_days: int, baseline_span: timedelta, parsed: dict) -> None:
    """`parsed`: each step's text -> its parsed alternatives (funnel.parse_steps)."""
    """Fill each change's `concentrated_in` and `co_moving` (the largest changes only)."""
    from analytics.catalog import load_catalog

    keys = [k for k in load_catalog(con).event_properties
            if '"' not in k and "'" not in k][:MAX_KEYS]
    for change in changes[:EXPLAINED]:
        rows = _segment_rows(con, scope, change, grain, window_days, baseline_span, keys,
                             parsed)
        change.concentrated_in = decompose(rows)[:5]
    from analytics.change_metrics import TROUBLE_WORDS
    from analytics.journey_names import is_setback

    def trouble(c: Any) -> bool:
        name = c.metric.removeprefix("event: ")
        return is_setback(name) or any(w in name.lower() for w in TROUBLE_WORDS)

    for change in changes:
        overlapping = [other for other in changes if other is not change
                       and other.start < change.end and change.start < other.end]
        # Errors and support contacts first: what rises with trouble says what broke.
        overlapping.sort(key=lambda c: (not trouble(c), -abs((c.rate_during or 0)
                                                             - (c.rate_before or 0))))
        said: dict[str, str] = {}  # one line per metric: its largest overlapping change
        for other in overlapping:
            said.setdefault(other.metric, _said(other))
        change.co_moving = list(said.values())[:5]


def _said(change: Any) -> str:
    name = change.metric.removeprefix("event: ")
    per = " of active people" if change.kind == "event" else ""
    return (f"{name} {change.direction} from {pct(change.rate_before)} to "
            f"{pct(change.rate_during)}{per}")


def _units_sql(change: Any, scope: Any, grain: str, window_days: int,
               parsed: dict) -> tuple[str, list]:
    """CTE `units` (did, during, t, device, channel, properties): one row per person in the
    metric (step) or per person and period (event rate)."""
    if change.kind == "step":
        from analytics.change_metrics import step_rate_ctes

        a, b = change.metric.split(" -> ", 1)
        ctes, params = step_rate_ctes(scope, parsed[a], parsed[b], window_days)
        return f"""{ctes},
units AS (
    SELECT f.person_id AS person_id, f.t AS t, f.device AS device, f.channel AS channel,
           f.properties AS properties, r.did AS did
    FROM firsts AS f JOIN reached AS r ON r.person_id = f.person_id)""", params
    event = change.metric.removeprefix("event: ")
    return f"""
{scope.ctes},
units AS (
    SELECT person_id, min(ts) AS t, arg_min(device, ts) AS device,
           arg_min(channel, ts) AS channel, arg_min(properties, ts) AS properties,
           max(CASE WHEN event_name = ? THEN 1 ELSE 0 END) AS did
    FROM ev GROUP BY person_id, date_trunc('{grain}', ts))""", scope.params + [event]


def _segment_rows(con: Connection, scope: Any, change: Any, grain: str, window_days: int,
                  baseline_span: timedelta, keys: list[str], parsed: dict) -> list[tuple]:
    """(dimension, value, during 0/1, people, converted) over the baseline and the window."""
    units, params = _units_sql(change, scope, grain, window_days, parsed)
    span = [change.start - baseline_span, change.end]
    windowed = (f"{units},\nscoped AS (SELECT u.*, c.plan AS plan, c.country AS country, "
                f"CASE WHEN u.t >= ? THEN 1 ELSE 0 END AS during FROM units AS u "
                f"LEFT JOIN customers AS c ON c.customer_id = u.person_id "
                f"WHERE u.t >= ? AND u.t < ?)")
    params = params + [change.start] + span
    extract = {k: f"json_extract_string(properties, '$.\"{k}\"')" for k in keys}
    if extract:
        counts = con.execute(
            f"{windowed}\nSELECT " + ", ".join(
                f"count(DISTINCT {sql}) AS k{i}" for i, sql in enumerate(extract.values()))
            + " FROM scoped", params).fetchone() or ()
        extract = {k: sql for (k, sql), n in zip(extract.items(), counts)
                   if 2 <= (n or 0) <= MAX_VALUES}
    dimensions = {"device": "device", "channel": "channel", "plan": "plan",
                  "country": "country", **{k: v for k, v in extract.items()
                                           if k not in ("device", "channel", "plan",
                                                        "country")}}
    union = "\nUNION ALL\n".join(
        f"SELECT '{name.replace(chr(39), chr(39) * 2)}' AS dimension, CAST({sql} AS VARCHAR) "
        f"AS value, during, did FROM scoped" for name, sql in dimensions.items())
    return con.execute(f"""{windowed},
split AS ({union})
SELECT dimension, value, during, count(*) AS people, sum(did) AS converted
FROM split WHERE value IS NOT NULL GROUP BY dimension, value, during
""", params).fetchall()


def decompose(rows: list[tuple]) -> list:
    """Values ranked by how much more of the change they explain than their share of people."""
    from analytics.anomalies import Contribution

    by_dim: dict[str, dict[str, dict[int, tuple[int, int]]]] = {}
    for dim, value, during, people, converted in rows:
        by_dim.setdefault(dim, {}).setdefault(value, {})[int(during)] = (people, converted)
    out = []
    for dim, values in by_dim.items():
        if len(values) < 2:
            continue
        n0 = sum(v.get(0, (0, 0))[0] for v in values.values())
        n1 = sum(v.get(1, (0, 0))[0] for v in values.values())
        if not n0 or not n1:
            continue
        r0 = sum(v.get(0, (0, 0))[1] for v in values.values()) / n0
        r1 = sum(v.get(1, (0, 0))[1] for v in values.values()) / n1
        change = r1 - r0
        parts = {value: (h.get(0, (0, 0)), h.get(1, (0, 0))) for value, h in values.items()}
        rate_effect = sum(d[0] / n1 * (d[1] / d[0] - b[1] / b[0])
                          for b, d in parts.values() if b[0] and d[0])
        if not change or abs(rate_effect) < 0.5 * abs(change):
            continue  # mostly a change in who was there (mix), not in any value's own rate
        for value, halves in values.items():
            before, during = halves.get(0, (0, 0)), halves.get(1, (0, 0))
            if before[0] < MIN_PEOPLE or not during[0]:
                continue
            share = during[0] / n1
            rate_before, rate_during = before[1] / before[0], during[1] / during[0]
            explained = share * (rate_during - rate_before) / change
            if explained - share < MIN_CONCENTRATION:
                continue  # in proportion, or the other way
            # A change that cuts every value's rate by the same factor (a form broken for all)
            # gives the high-rate value the larger part without being concentrated there.
            others_before = (n0 - before[0], sum(b[1] for b, _ in parts.values()) - before[1])
            others_during = (n1 - during[0], sum(d[1] for _, d in parts.values()) - during[1])
            if others_before[0] and others_during[0] and others_before[1]:
                others_rel = (others_during[1] / others_during[0]) / (
                    others_before[1] / others_before[0]) - 1
                own_rel = rate_during / rate_before - 1 if rate_before else 0.0
                if abs(own_rel) - abs(others_rel) < MIN_RELATIVE:
                    continue
            out.append(Contribution(dim, value, share, rate_before, rate_during, explained,
                                    explained - share))
    out.sort(key=lambda c: -(c.concentration or 0))
    return out
