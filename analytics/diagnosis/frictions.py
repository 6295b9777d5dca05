"""The frictions a quarterly plan can target, found in the event store: each one step of the
main journey, optionally for one segment, with the evidence about that step and segment only.

Four kinds, each sized in people a month at the journey's last stage:
* segment gap: a group (a device, channel, customer attribute value) converts far below everyone
  else at a step ("pricing_view -> signup: mobile 14.2% against 43.8% for the rest"); the
  full gap is what that group would gain converting like the rest;
* step: a step that is below its benchmark range, or where those who leave do something that
  those who go on rarely do (an error, a support contact);
* churn gap: among customers, a group (one attribute value, or two together: "starter, monthly")
  that cancels far more often than the rest;
* retention lever: an action done soon after buying that goes with far less cancelling (a
  correlation: the initiative's test is what proves it).

A gap counts when it is large (at least 5 points and a fifth of the rest's rate), the group is
large enough (30 people at the step), and it is far beyond chance (two-proportion z-test,
p < 0.001, a bar that holds after the few dozen comparisons made here).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from scipy import stats

from analytics.catalog import Catalog
from analytics.errors import JourneyError
from analytics.filters import Filters
from analytics.funnel import FunnelResult, funnel
from analytics.journey_names import is_setback
from analytics.results import pct
from analytics.store.connection import Connection

MIN_GROUP = 30  # people at the step, for a group's rate to be compared
MIN_GAP, MIN_RELATIVE_GAP = 0.05, 0.2
MAX_P = 0.001
MAX_VALUES = 8  # an attribute with more values is an identifier, not a segment
NO_VALUE = ("(none)", "None", "", "unknown")
# Attributes that change with time (an app's version): customers on an old one are the early
# cohorts, who have simply had longer to cancel, so their churn gap says when, not who.
TIME_PROXY = re.compile(r"version|build|release|cohort|signup_(date|month|week)", re.I)
# What a billing system records, not an action a customer takes: a renewal or a paid invoice
# goes with not cancelling by definition.
BILLING_EVENT = re.compile(r"renew|invoice|paid|payment|charge|billing|refund", re.I)


@dataclass
class Evidence:
    text: str
    source: str  # the command that shows the same figures: `journey funnel a b --by device`


@dataclass
class Friction:
    kind: str  # "segment gap", "step", "churn gap", "retention lever"
    step_from: str
    step_to: str
    segment: list[tuple[str, str]]  # (attribute, value) pairs; empty: everyone at the step
    rate: float  # the targeted people's rate now (conversion, or cancelling for churn)
    reference: float | None  # what it is compared with: the rest's rate, or the range's top
    reference_label: str  # "the rest", "desktop", "everyone else", "the top of its range"
    monthly_people: float  # targeted people reaching step_from a month
    downstream: float  # of those reaching step_to, the share who go on to the conversion
    increase: bool  # True: the rate should rise (conversion); False: fall (cancelling)
    stage: str = ""  # the playbook's key for this part of the journey
    p_value: float | None = None
    evidence: list[Evidence] = field(default_factory=list)
    action: str = ""  # for a retention lever: the action to prompt
    doers_share: float = 0.0  # for a retention lever: the share of customers who do it now
    setback: str = ""  # what those who leave run into most (an error event), when anything
    lever_with: float | None = None  # for a retention lever: cancelling with and without it
    lever_without: float | None = None

    @property
    def segment_words(self) -> str:
        return segment_words(self.segment)

    @property
    def target(self) -> str:
        who = f" for {self.segment_words}" if self.segment else ""
        return f"{self.step_from} -> {self.step_to}{who}"

    def gap_people(self) -> float:
        """People a month at the last stage that closing the whole gap is worth."""
        if self.kind == "retention lever" or self.reference is None:
            return 0.0
        gap = (self.reference - self.rate) if self.increase else (self.rate - self.reference)
        return max(gap, 0.0) * self.monthly_people * (self.downstream if self.increase else 1.0)


def months_of_data(con: Connection, event: str | None = None) -> float:
    """The months over which people arrive: the span of the journey's first step (an export
    taken a month after the last arrival does not thin out every monthly figure)."""
    where, params = ("WHERE event_name = ?", [event]) if event else ("", [])
    row = con.execute("SELECT date_diff('day', CAST(min(ts) AS DATE), CAST(max(ts) AS DATE)) "
                      f"FROM events {where}", params).fetchone()
    days = (row[0] if row else 0) or 0
    return max(days / 30.4, 1.0)


def z_test(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided p-value that two shares differ (pooled two-proportion z-test)."""
    if min(n1, n2) == 0:
        return 1.0
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    return float(2 * stats.norm.sf(abs(x1 / n1 - x2 / n2) / se))


def breakdown_dimensions(attribute_values: dict[str, list[str]]) -> list[str]:
    """Device and channel, then every customer attribute with a few values (not a twin of one
    already taken: billing and billing_period hold the same thing)."""
    dims = ["device", "channel"]
    seen_values: list[set[str]] = []
    for attribute, values in attribute_values.items():
        usable = {v for v in values if v not in NO_VALUE}
        if not 2 <= len(usable) <= MAX_VALUES or usable in seen_values:
            continue
        seen_values.append(usable)
        dims.append(attribute)
    return dims


def _command(steps: list[str], by: str | None = None,
             where: list[tuple[str, str]] | None = None) -> str:
    names = " ".join(f"'{s}'" if " " in s else s for s in steps)
    parts = [f"journey funnel {names}"]
    if by:
        parts.append(f"--by {by}")
    for attribute, value in where or []:
        parts.append(f"--{attribute} {_quoted(value)}" if attribute in ("device", "channel")
                     else f"--where {_quoted(f'{attribute}={value}')}")
    return " ".join(parts)


def _quoted(text: str) -> str:
    return f"'{text}'" if " " in text else text


def _filters(segment: list[tuple[str, str]]) -> Filters:
    device = tuple(v for a, v in segment if a == "device")
    channel = tuple(v for a, v in segment if a == "channel")
    attributes = tuple((a, v) for a, v in segment if a not in ("device", "channel"))
    return Filters(device=device, channel=channel, attributes=attributes)


def segment_gaps(con: Connection, steps: list[str], overall: FunnelResult, months: float,
                 dims: list[str], catalog: Catalog | None = None) -> list[Friction]:
    """The largest gap of each step, whichever breakdown shows it."""
    best: dict[int, Friction] = {}
    last = overall.steps[-1].customers
    for dim in dims:
        try:
            split = funnel(con, steps, by=dim, catalog=catalog)
        except JourneyError:
            continue  # an attribute the funnel cannot split by here
        for k in range(1, len(steps)):
            n_all, x_all = overall.steps[k - 1].customers, overall.steps[k].customers
            unknown = sum(g.steps[k - 1].customers for g in split.groups if g.group in NO_VALUE)
            if unknown > n_all / 2:
                continue  # recorded for few, often by the outcome itself (an error code)
            # The rest is the people with another value: those with none (direct traffic,
            # no plan recorded) are not a benchmark anyone can be asked to match.
            n_known = n_all - unknown
            x_known = x_all - sum(g.steps[k].customers for g in split.groups
                                  if g.group in NO_VALUE)
            for g in split.groups:
                if g.group in NO_VALUE:
                    continue
                n, x = g.steps[k - 1].customers, g.steps[k].customers
                n_rest, x_rest = n_known - n, x_known - x
                if n < MIN_GROUP or n_rest < MIN_GROUP:
                    continue
                rate, rest = x / n, x_rest / n_rest
                if _by_definition(rate, rest) or rest - rate < max(MIN_GAP,
                                                                    MIN_RELATIVE_GAP * rest):
                    continue
                p = z_test(x, n, x_rest, n_rest)
                if p > MAX_P:
                    continue
                downstream = g.steps[-1].customers / x if x else (last / x_all if x_all else 0)
                found = Friction(
                    kind="segment gap", step_from=steps[k - 1], step_to=steps[k],
                    segment=[(dim, g.group)], rate=rate, reference=rest,
                    reference_label=_rest_label(split, g.group, dim),
                    monthly_people=n / months, downstream=downstream, increase=True,
                    p_value=p)
                found.evidence.append(Evidence(
                    f"{steps[k - 1]} -> {steps[k]} on the main journey: {g.group} {pct(rate)} of "
                    f"{n:,} against {pct(rest)} of the other {n_rest:,} ({chance(p)})",
                    _command(steps, by=dim)))
                if k not in best or found.gap_people() > best[k].gap_people():
                    best[k] = found
    return list(best.values())


def chance(p: float) -> str:
    """A p-value as a marketer reads it."""
    return "far beyond chance" if p < 1e-6 else f"p = {p:.1g}"


def _by_definition(rate: float, rest: float) -> bool:
    """A value that settles the outcome (a 'trial' plan never pays, a lost reason is only
    given to lost deals) describes the outcome, not a friction."""
    return rate <= 0.01 or rate >= 0.99 or rest <= 0.01 or rest >= 0.99


def _rest_label(split: FunnelResult, group: str, dim: str) -> str:
    others = [g.group for g in split.groups if g.group != group and g.group not in NO_VALUE]
    return others[0] if len(others) == 1 else f"the other {dim} groups"


def churn_gap(con: Connection, conversion: str, churn: str, months: float,
              attribute_values: dict[str, list[str]],
              catalog: Catalog | None = None) -> Friction | None:
    """The customers (one attribute value, or two together) who cancel most beyond the rest."""
    dims = [d for d in breakdown_dimensions(attribute_values) if not TIME_PROXY.search(d)]
    overall = funnel(con, [conversion, churn], catalog=catalog)
    n_all, x_all = overall.steps[0].customers, overall.steps[1].customers
    if n_all < 2 * MIN_GROUP:
        return None
    candidates: list[tuple[float, list[tuple[str, str]], int, int]] = []

    def consider(segment: list[tuple[str, str]], n: int, x: int) -> None:
        n_rest, x_rest = n_all - n, x_all - x
        if n < MIN_GROUP or n_rest < MIN_GROUP:
            return
        rate, rest = x / n, x_rest / n_rest
        if _by_definition(rate, rest) or rate - rest < max(MIN_GAP, MIN_RELATIVE_GAP * rest) \
                or z_test(x, n, x_rest, n_rest) > MAX_P:
            return
        candidates.append((n * (rate - rest), segment, n, x))

    singles: dict[str, list[str]] = {}
    for dim in dims:
        try:
            split = funnel(con, [conversion, churn], by=dim, catalog=catalog)
        except JourneyError:
            continue
        singles[dim] = [g.group for g in split.groups if g.group not in NO_VALUE]
        for g in split.groups:
            if g.group not in NO_VALUE:
                consider([(dim, g.group)], g.steps[0].customers, g.steps[1].customers)
    # Two together only around the two values that show the largest gaps alone, split by
    # each other attribute (a few funnels, not every pair of every value).
    top = [c[1][0] for c in sorted(candidates, key=lambda c: -c[0])[:2]]
    for a, value in top:
        for b in singles:
            if b == a:
                continue
            try:
                split = funnel(con, [conversion, churn], by=b, filters=_filters([(a, value)]),
                               catalog=catalog)
            except JourneyError:
                continue
            for g in split.groups:
                if g.group not in NO_VALUE:
                    consider(sorted([(a, value), (b, g.group)], key=lambda p: dims.index(
                        p[0])), g.steps[0].customers, g.steps[1].customers)
    if not candidates:
        return None
    # The excess cancellations weighted by how concentrated they are (the group's rate over
    # the rest's): a pair wins over one attribute only where it narrows to people who cancel
    # clearly more, not where it adds a near-universal value (desktop) to it.
    def weight(c: tuple[float, list[tuple[str, str]], int, int]) -> float:
        rest = (x_all - c[3]) / (n_all - c[2])
        return c[0] * (c[3] / c[2]) / rest if rest else c[0]

    _, segment, n, x = max(candidates, key=weight)
    n_rest, x_rest = n_all - n, x_all - x
    rate, rest = x / n, x_rest / n_rest
    p = z_test(x, n, x_rest, n_rest)
    found = Friction(kind="churn gap", step_from=conversion, step_to=churn, segment=segment,
                     rate=rate, reference=rest, reference_label="the other customers",
                     monthly_people=n / months, downstream=1.0, increase=False, p_value=p)
    words = segment_words(segment)
    found.evidence.append(Evidence(
        f"{pct(rate)} of the {n:,} {words} customers did {churn}, against {pct(rest)} of the "
        f"other {n_rest:,} ({chance(p)}; everyone: {pct(x_all / n_all)} of {n_all:,})",
        _command([conversion, churn], where=segment) + "; everyone: "
        + _command([conversion, churn])))
    risk = _segment_risk(con, conversion, churn, segment, catalog)
    if risk is not None:
        found.evidence.append(risk)
    return found


def _segment_risk(con: Connection, conversion: str, churn: str,
                  segment: list[tuple[str, str]], catalog: Catalog | None) -> Evidence | None:
    """Within the group, the event that goes most with cancelling (billing failures)."""
    from analytics.moments import moments

    try:
        m = moments(con, churn, among=conversion, pairs=False, min_support=10,
                    filters=_filters(segment), catalog=catalog)
    except JourneyError:
        return None
    risky = [x for x in m.positive if x.kind == "event" and x.outcome_rate_did_not is not None
             and x.p_value is not None and x.p_value <= 0.01 and x.moment != churn]
    if not risky:
        return None
    top = risky[0]
    where = " ".join(f"--{a} {v}" if a in ("device", "channel") else f"--where {a}={v}"
                     for a, v in segment)
    return Evidence(f"in this group, those who had {top.moment} cancelled "
                    f"{pct(top.outcome_rate_did)} against {pct(top.outcome_rate_did_not)} "
                    f"({top.did:,} had it)",
                    f"journey moments --outcome {churn} --among {conversion} {where}")


def segment_words(segment: list[tuple[str, str]]) -> str:
    """ "mobile", "starter (plan), monthly (billing period)": values first, as people say."""
    return ", ".join(v if a in ("device", "channel") else f"{v} ({a.replace('_', ' ')})"
                     for a, v in segment)


def retention_lever(con: Connection, conversion: str, churn: str, months: float,
                    catalog: Catalog | None = None,
                    anchors: list[str] | None = None) -> Friction | None:
    """The action taken in the first week after a journey step (signing up, buying) that goes
    with the least cancelling among customers: the week it matters in, not "ever"."""
    from analytics.moments import moments

    best = None
    for anchor in list(dict.fromkeys((anchors or []) + [conversion])):
        try:
            m = moments(con, churn, among=conversion, anchor=anchor, within_seconds=WEEK,
                        pairs=False, min_support=MIN_GROUP, catalog=catalog)
        except JourneyError:
            continue
        for x in m.negative:
            if x.kind != "event" or x.outcome_rate_did_not is None or x.p_value is None or \
                    x.p_value > MAX_P or x.moment in (conversion, churn, anchor) or \
                    BILLING_EVENT.search(x.moment) or is_setback(x.moment):
                continue  # a renewal or a crash is no action to prompt
            gap = x.outcome_rate_did_not - x.outcome_rate_did
            if best is None or gap > best[0]:
                best = (gap, anchor, x, m.population)
            break
    if best is None:
        return None
    _, anchor, top, customers = best
    reached, uptake, converted = _uptake(con, anchor, top.moment, conversion)
    if not reached:
        return None
    found = Friction(kind="retention lever", step_from=anchor, step_to=churn, segment=[],
                     rate=uptake / reached, reference=None, reference_label="",
                     monthly_people=reached / months, downstream=converted / reached,
                     increase=True, p_value=top.p_value, action=top.moment,
                     doers_share=uptake / reached, lever_with=top.outcome_rate_did,
                     lever_without=top.outcome_rate_did_not)
    found.evidence.append(Evidence(
        f"customers who did {top.moment} within 7 days of {anchor}: {pct(top.outcome_rate_did)} "
        f"later cancelled, against {pct(top.outcome_rate_did_not)} of those who did not "
        f"({top.did:,} of {customers:,} customers did; correlation, not cause)",
        f"journey moments --outcome {churn} --among {conversion} --anchor {_quoted(anchor)} "
        f"--within 7d"))
    found.evidence.append(Evidence(
        f"{pct(uptake / reached)} of the {reached:,} people who did {anchor} did {top.moment} "
        f"within 7 days", f"journey funnel {_quoted(anchor)} {_quoted(top.moment)} --window 7d"))
    return found


WEEK = 7 * 86400


def _uptake(con: Connection, anchor: str, action: str, conversion: str) -> tuple[int, int, int]:
    """People who did the anchor; of them, who did the action within 7 days after it, and who
    ever converted."""
    from analytics.filters import scope_sql

    scope = scope_sql(Filters())
    row = con.execute(f"""{scope.ctes},
        anchored AS (SELECT person_id, min(ts) AS t FROM ev WHERE event_name = ?
                     GROUP BY person_id),
        acted AS (SELECT DISTINCT a.person_id FROM anchored a JOIN ev e
                  ON e.person_id = a.person_id AND e.event_name = ? AND e.ts >= a.t
                  AND e.ts <= a.t + INTERVAL {WEEK} SECOND),
        bought AS (SELECT DISTINCT person_id FROM ev WHERE event_name = ?)
        SELECT count(*), count(c.person_id), count(b.person_id)
        FROM anchored a LEFT JOIN acted c ON c.person_id = a.person_id
        LEFT JOIN bought b ON b.person_id = a.person_id""",
                      [*scope.params, anchor, action, conversion]).fetchone()
    return (int(row[0]), int(row[1]), int(row[2])) if row else (0, 0, 0)
