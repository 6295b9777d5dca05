"""Attribution: how much credit each channel's touchpoints get for conversions.

A person's touchpoints are their events that carry a channel, in time order (ties by event id),
up to their first conversion. Heuristic models split each conversion over its touchpoints:
first, last, linear (equal shares) and position (40% first, 40% last, 20% shared by the middle).
The Markov model is the exact removal effect of an absorbing Markov chain over channel-to-channel
transitions: how much the probability of converting from the start falls when a channel is
removed, computed with linear algebra (no simulation); credits are those effects normalised to
the number of conversions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from analytics.catalog import Catalog, load_catalog
from analytics.errors import ArgumentError, JourneyError
from analytics.filters import Filters, check_filters, scope_sql
from analytics.results import AnalyticResult, pct
from analytics.store.connection import Connection, one

Model = Literal["first", "last", "linear", "position", "markov"]
MODELS: tuple[str, ...] = ("first", "last", "linear", "position", "markov")


@dataclass
class ChannelCredit:
    channel: str
    credit: float  # conversions credited, by the chosen model
    share: float
    people_reached: int
    conversions_per_1000_reached: float
    by_model: dict[str, float] = field(default_factory=dict)


@dataclass
class AttributionResult(AnalyticResult):
    conversion_event: str = ""
    model: str = "markov"
    conversions: int = 0
    converters_with_touchpoints: int = 0
    channels: list[ChannelCredit] = field(default_factory=list)
    markov_conversion_probability: float | None = None
    removal_effects: dict[str, float] = field(default_factory=dict)

    kind = "attribution"

    def figure(self):
        import plotly.graph_objects as go

        fig = go.Figure()
        for model in MODELS:
            fig.add_trace(go.Bar(name=model, x=[c.channel for c in self.channels],
                                 y=[c.by_model.get(model, 0) for c in self.channels]))
        fig.update_layout(barmode="group", title=f"Conversions credited ({self.conversion_event})",
                          yaxis_title="conversions")
        return fig


def markov_removal_effects(transitions: dict[tuple[str, str], int]
                           ) -> tuple[float, dict[str, float]]:
    """P(conversion from start) and each channel's removal effect, from transition counts.

    States: 'start', channels, and the absorbing 'conversion' and 'null'. Removing a channel
    sends every transition into it to 'null'.
    """
    channels = sorted(({s for s, _ in transitions} | {t for _, t in transitions})
                      - {"start", "conversion", "null"})
    transient = ["start"] + channels
    index = {s: i for i, s in enumerate(transient)}
    q = np.zeros((len(transient), len(transient)))
    r = np.zeros((len(transient), 2))  # columns: conversion, null
    for (source, target), n in transitions.items():
        if source not in index:
            continue
        i = index[source]
        if target == "conversion":
            r[i, 0] += n
        elif target == "null":
            r[i, 1] += n
        else:
            q[i, index[target]] += n
    totals = q.sum(axis=1) + r.sum(axis=1)
    totals[totals == 0] = 1
    q /= totals[:, None]
    r /= totals[:, None]

    def p_convert(qm: np.ndarray, rm: np.ndarray) -> float:
        absorbed = np.linalg.solve(np.eye(len(transient)) - qm, rm)
        return float(absorbed[0, 0])

    base = p_convert(q, r)
    effects = {}
    for channel in channels:
        j = index[channel]
        q2, r2 = q.copy(), r.copy()
        r2[:, 1] += q2[:, j]
        q2[:, j] = 0.0
        effects[channel] = (base - p_convert(q2, r2)) / base if base > 0 else 0.0
    return base, effects


def attribution(con: Connection, conversion_event: str, *,
                model: Model = "markov", filters: Filters = Filters(),
                catalog: Catalog | None = None) -> AttributionResult:
    if model not in MODELS:
        raise ArgumentError("model", f"must be one of {', '.join(MODELS)}")
    catalog = catalog or load_catalog(con)
    catalog.check_event(conversion_event)
    check_filters(filters, catalog)
    scope = scope_sql(filters)
    base = f"""
{scope.ctes},
conv AS (SELECT person_id, min(ts) AS t_conv FROM ev WHERE event_name = ? GROUP BY person_id),
touches AS (
    SELECT e.person_id AS person_id, e.channel AS channel,
           row_number() OVER (PARTITION BY e.person_id ORDER BY e.ts, e.event_id) AS i,
           c.t_conv IS NOT NULL AS converted
    FROM ev AS e LEFT JOIN conv AS c ON c.person_id = e.person_id
    WHERE e.channel IS NOT NULL AND (c.t_conv IS NULL OR e.ts <= c.t_conv)
),
sized AS (SELECT *, max(i) OVER (PARTITION BY person_id) AS n FROM touches)"""
    params = scope.params + [conversion_event]
    # Fractional credits are summed as decimals: a float sum's last digits depend on the order
    # threads add in, and the same question must give the same figures every time.
    heuristic = con.execute(base + """
SELECT channel,
       sum(CASE WHEN i = 1 THEN 1 ELSE 0 END) FILTER (WHERE converted) AS first_touch,
       sum(CASE WHEN i = n THEN 1 ELSE 0 END) FILTER (WHERE converted) AS last_touch,
       sum(CAST(1.0 / n AS DECIMAL(38, 12))) FILTER (WHERE converted) AS linear,
       sum(CAST(CASE WHEN n = 1 THEN 1.0 WHEN n = 2 THEN 0.5
                     WHEN i = 1 OR i = n THEN 0.4 ELSE 0.2 / (n - 2) END AS DECIMAL(38, 12)))
           FILTER (WHERE converted) AS position,
       count(DISTINCT person_id) AS reached
FROM sized GROUP BY channel ORDER BY channel
""", params).fetchall()
    conversions = one(con, base + " SELECT count(*) FROM conv", params)[0]
    with_touch = one(con, base + " SELECT count(DISTINCT person_id) FROM touches "
                                 "WHERE converted", params)[0]
    edges = con.execute(base + """,
collapsed AS (
    SELECT person_id, channel, converted, i,
           lag(channel) OVER (PARTITION BY person_id ORDER BY i) AS prev
    FROM touches
),
steps AS (
    SELECT person_id, channel, converted,
           row_number() OVER (PARTITION BY person_id ORDER BY i) AS j
    FROM collapsed WHERE prev IS NULL OR prev <> channel
),
moves AS (
    SELECT channel AS source,
           COALESCE(lead(channel) OVER (PARTITION BY person_id ORDER BY j),
                    CASE WHEN converted THEN 'conversion' ELSE 'null' END) AS target
    FROM steps
    UNION ALL
    SELECT 'start' AS source, channel AS target FROM steps WHERE j = 1
)
SELECT source, target, count(*) AS n FROM moves GROUP BY source, target ORDER BY source, target
""", params).fetchall()
    if not heuristic:
        raise JourneyError("No events with a channel in scope, so there is nothing to attribute. "
                           "Load events with a channel/utm_source column.")
    p_convert, effects = markov_removal_effects({(s, t): n for s, t, n in edges})
    total_effect = sum(effects.values())
    credits = []
    for channel, first, last, linear, position, reached in heuristic:
        markov = (effects.get(channel, 0.0) / total_effect * with_touch) if total_effect else 0.0
        by_model = {"first": float(first or 0), "last": float(last or 0),
                    "linear": float(linear or 0), "position": float(position or 0),
                    "markov": markov}
        credits.append(ChannelCredit(channel, by_model[model], 0.0, reached,
                                     1000 * by_model[model] / reached if reached else 0.0,
                                     by_model))
    total_credit = sum(c.credit for c in credits)
    for c in credits:
        c.share = c.credit / total_credit if total_credit else 0.0
    credits.sort(key=lambda c: (-c.credit, c.channel))
    result = AttributionResult(
        conversion_event=conversion_event, model=model, conversions=conversions,
        converters_with_touchpoints=with_touch, channels=credits,
        markov_conversion_probability=p_convert, removal_effects=effects,
        filters=filters.describe(), definitions={
            "touchpoint": f"an event with a channel, up to the person's first {conversion_event}",
            "credit": f"conversions credited to the channel by the {model} model; all channels "
                      f"together: the {with_touch:,} converters who had a touchpoint",
            "markov": "removal effect = drop in P(conversion from start) when the channel is "
                      "removed (absorbing chain, consecutive repeats collapsed); credits "
                      "proportional to it",
            "conversions_per_1000_reached": "credit per 1,000 people the channel touched: "
                                            "efficiency, not volume",
        })
    top = credits[0]
    efficient = max(credits, key=lambda c: c.conversions_per_1000_reached)
    # The least effective too: "which one would you cut?" is the other half of a budget.
    weakest = min(credits, key=lambda c: (c.conversions_per_1000_reached, c.channel))
    least = (f"; the least is {weakest.channel} ({weakest.conversions_per_1000_reached:,.1f} "
             "per 1,000)" if len(credits) > 1 and weakest is not efficient else "")
    result.summary = (f"{conversions:,} conversions ({with_touch:,} with touchpoints). By the "
                      f"{model} model {top.channel} earns the most credit ({top.credit:,.1f}, "
                      f"{pct(top.share)}); per person reached, {efficient.channel} is the most "
                      f"effective ({efficient.conversions_per_1000_reached:,.1f} per 1,000, "
                      f"{efficient.conversions_per_1000_reached / 10:.1f}% of the people it "
                      f"reached){least}.")
    return result
