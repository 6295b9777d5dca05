"""The journey analytics as tools, one question each: funnel, paths, transitions, next steps,
moments of truth, retention, attribution and what changed (anomalies)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from pydantic import BeforeValidator, Field

from tools.base import (
    MAX_STEPS,
    Days,
    FilterArgs,
    Name,
    Names,
    TableView,
    ToolArgs,
    ToolContext,
    _listed,
    duration,
    pct,
)


def _comma_listed(value: Any) -> Any:
    """'1d,7d,30d' (as typed) or a list of durations."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple)) and len(value) == 1 and isinstance(value[0], str):
        return [v.strip() for v in value[0].split(",") if v.strip()]
    return value or []


AttributionModel = Literal["first", "last", "linear", "position", "markov"]


def _seconds(days: float | None) -> int | None:
    return int(round(days * 86400)) if days else None


class FunnelArgs(ToolArgs):
    steps: Optional[list[Name]] = Field(None, min_length=2, max_length=MAX_STEPS,
                                        description="Event names in order (default: the main "
                                                    "journey of the journey model); 'a|b' "
                                                    "means either event; "
                                                    "'$pageview[$pathname=/pricing]' only those "
                                                    "events (property=value, != differs, ~ "
                                                    "contains).")
    order: Literal["strict", "consecutive", "any"] = Field(
        "strict", description="strict: each step after the previous one (other events may "
                              "come between); consecutive: each step the very next event "
                              "(but those in ignore); any: in any order.")
    window_days: Optional[Days] = Field(None, gt=0, description="Conversion window from step 1 "
                                        "(days, or a duration such as 14d, 12h).")
    step_windows: Annotated[list[Days], BeforeValidator(_comma_listed)] = Field(
        default_factory=list, max_length=MAX_STEPS, description="A window per move, one fewer "
        "than the steps, e.g. 1d,7d,30d: each step counts within its window of the previous.")
    exclude: Annotated[list[Name], BeforeValidator(_listed)] = Field(
        default_factory=list, max_length=MAX_STEPS, description="Exclusion steps: a person who "
        "does this event between the funnel's first and last step is removed from the whole "
        "funnel; EVENT@1-2 only between steps 1 and 2; EVENT[plan=trial] only such events.")
    hold: Optional[Name] = Field(None, description="Hold a property constant: every step done "
                                 "with the same value of it (device, channel, or an event "
                                 "property) as step 1.")
    ignore: Names = Field(default_factory=list, description="Noise events skipped by the "
                          "consecutive order (e.g. $pageleave).")
    people: Optional[int] = Field(None, ge=1, le=MAX_STEPS, description="List the people "
                                  "behind step N (for an export with --csv).")
    people_who: Literal["reached", "dropped"] = Field(
        "reached", description="With people: those who reached step N, or who reached the step "
                               "before and dropped there.")
    by: Optional[str] = Field(None, description="Break down by device, channel, plan, country, "
                                                "another customer attribute or an event "
                                                "property such as $browser (first touch; an "
                                                "event property's value by the property "
                                                "rule).")
    filters: FilterArgs = Field(default_factory=FilterArgs)


def funnel_tool(ctx: ToolContext, args: FunnelArgs) -> Any:
    from analytics.funnel import funnel

    with ctx.store.reader() as con:
        steps = args.steps or _main_journey(con)
        return funnel(con, steps, order=args.order, window=_seconds(args.window_days),
                      by=args.by, filters=ctx.scoped_filters(con, args.filters),
                      catalog=ctx.catalog(), exclude=args.exclude,
                      step_windows=[_seconds(w) or 0 for w in args.step_windows] or None,
                      hold=args.hold, ignore=args.ignore, people_at=args.people,
                      people_who=args.people_who)


def _main_journey(con: Any) -> list[str]:
    from analytics.anomalies import key_steps
    from analytics.errors import ArgumentError

    steps = key_steps(con)
    if len(steps) < 2:
        raise ArgumentError("steps", "the data have no main journey yet: name the steps, or "
                                     "set them with `journey model set funnel A B ...`")
    return steps


def funnel_view(args: FunnelArgs, result: Any) -> TableView:
    rows = []
    for name, steps in [("all", result.steps)] + [(g.group, g.steps) for g in result.groups]:
        rows += [[name, "|".join(s.events), s.customers, pct(s.conversion_from_previous),
                  pct(s.conversion_from_first), s.dropped,
                  _median(s), duration(s.p90_seconds_from_previous)] for s in steps]
    notes = []
    if result.exclusions:
        notes.append(f"Removed by the exclusion steps ({', '.join(result.exclusions)}): "
                     f"{result.excluded or 0:,} people.")
    for s in result.steps:
        if s.time_histogram:
            notes.append(f"Time to {'|'.join(s.events)}: " + ", ".join(
                f"{label} {n:,}" for label, n in s.time_histogram if n))
    if result.people_at is not None:
        shown = ", ".join(result.people[:20]) + (" ..." if len(result.people) > 20 else "")
        how = "reached step" if result.people_who == "reached" else "dropped at step"
        notes.append(f"{len(result.people):,} people {how} {result.people_at}: "
                     f"{shown or 'none'}"
                     + (" (all of them with --csv FILE)" if len(result.people) > 20 else ""))
    return TableView("Funnel", ["group", "step", "customers", "from previous", "from first",
                                "dropped", "median time (p25-p75)", "p90 time"], rows,
                     notes=notes, model_rows=24)


def _median(step: Any) -> str:
    if step.p25_seconds_from_previous is None:
        return duration(step.median_seconds_from_previous)
    return (f"{duration(step.median_seconds_from_previous)} "
            f"({duration(step.p25_seconds_from_previous)}-"
            f"{duration(step.p75_seconds_from_previous)})")



class PathsArgs(ToolArgs):
    top: int = Field(10, ge=1, le=25, description="How many paths to list (the rest are summed "
                                                  "as '(other paths)').")
    from_event: Optional[str] = Field(None, description="Start paths at this event.")
    to_event: Optional[str] = Field(None, description="End paths at this event.")
    max_steps: int = Field(6, ge=2, le=12, description="Steps shown per path.")
    collapse_repeats: bool = Field(True, description="Count a repeated event once "
                                                     "(a > a > b reads a > b).")
    conversion_event: Optional[str] = Field(None, description="The conversion event (default: "
                                                              "the journey's own).")
    before_event: Optional[Name] = Field(None, description="Paths leading to this event: the "
                                         "last steps up to each person's first one.")
    within: Optional[Days] = Field(None, gt=0, description="Only the steps this close to the "
                                   "anchor (from_event, before_event or the funnel step they "
                                   "last reached), e.g. 30m, 1d.")
    funnel_steps: Annotated[list[Name], BeforeValidator(_comma_listed)] = Field(
        default_factory=list, max_length=MAX_STEPS, description="With dropped_at: the strict "
        "funnel whose leavers' paths are shown (a,b,c, or the flag once per step).")
    dropped_at: Optional[int] = Field(None, ge=2, le=MAX_STEPS, description="The paths of the "
                                      "people who reached the step before this one and not "
                                      "this one, from that step on.")
    by_session: bool = Field(False, description="Each session is a journey (the export's "
                                                "session id, else 30 minutes without an "
                                                "event): paths and shares of sessions.")
    filters: FilterArgs = Field(default_factory=FilterArgs)


def paths_tool(ctx: ToolContext, args: PathsArgs) -> Any:
    from analytics.paths import top_paths

    with ctx.store.reader() as con:
        return top_paths(con, top=args.top, from_event=args.from_event, to_event=args.to_event,
                         max_steps=args.max_steps, collapse_repeats=args.collapse_repeats,
                         conversion_event=args.conversion_event,
                         filters=ctx.scoped_filters(con, args.filters), catalog=ctx.catalog(),
                         before_event=args.before_event, within=_seconds(args.within),
                         funnel_steps=args.funnel_steps or None, dropped_at=args.dropped_at,
                         by_session=args.by_session)


def paths_view(args: PathsArgs, result: Any) -> TableView:
    rows = [[p.path, p.customers, pct(p.share), pct(p.conversion_rate)] for p in result.paths]
    unit = "sessions" if result.unit == "sessions" else "customers"
    title = "Top paths"
    if result.dropped_at:
        title = (f"Paths after {result.funnel_steps[result.dropped_at - 2]} of those who did "
                 f"not reach {result.funnel_steps[result.dropped_at - 1]}")
    elif result.before_event:
        title = f"Paths leading to {result.before_event}"
    elif result.unit == "sessions":
        title = "Top paths within a session"
    return TableView(f"{title} (conversion: {result.conversion_event})",
                     ["path", unit, "share", "converted"], rows, model_rows=26)


class MatchArgs(ToolArgs):
    pattern: str = Field(..., max_length=2000, description="Events joined by '->' (anything "
                         "between) or '->[^X|Y]*->' (no X or Y between), e.g. "
                         "'checkout_started ->[^payment_error]*-> subscription_started'.")
    conversion_event: Optional[Name] = Field(None, description="The conversion counted after "
                                             "the match (default: the journey's own).")
    filters: FilterArgs = Field(default_factory=FilterArgs)


def match_tool(ctx: ToolContext, args: MatchArgs) -> Any:
    from analytics.path_match import match

    with ctx.store.reader() as con:
        return match(con, args.pattern, conversion_event=args.conversion_event,
                     filters=ctx.scoped_filters(con, args.filters), catalog=ctx.catalog())


def match_view(args: MatchArgs, result: Any) -> TableView:
    rows = [[m.kind, m.pattern, m.people, pct(m.share), m.converted, pct(m.conversion)]
            for m in result.matches]
    return TableView(f"Who did {result.pattern}", ["", "pattern", "people", "of everyone",
                                                   f"then {result.conversion_event or '-'}",
                                                   "conversion"], rows)


class TransitionsArgs(ToolArgs):
    collapse_repeats: bool = Field(False, description="Count a > a once.")
    top: int = Field(25, ge=1, le=200, description="Transitions listed in the table, most "
                                                   "frequent first (the result has all).")
    filters: FilterArgs = Field(default_factory=FilterArgs)


def transitions_tool(ctx: ToolContext, args: TransitionsArgs) -> Any:
    from analytics.paths import transitions

    with ctx.store.reader() as con:
        return transitions(con, collapse_repeats=args.collapse_repeats,
                           filters=ctx.scoped_filters(con, args.filters), catalog=ctx.catalog())


def transitions_view(args: TransitionsArgs, result: Any) -> TableView:
    ranked = sorted(result.transitions, key=lambda t: (-t.transitions, t.source, t.target))
    rows = [[t.source, t.target, t.transitions, t.customers, pct(t.probability)]
            for t in ranked[:args.top]]
    return TableView("Most frequent transitions", ["from", "to", "transitions", "customers",
                                                   "probability"], rows, model_rows=15)


class NextStepsArgs(ToolArgs):
    after: list[Name] = Field(..., min_length=1, max_length=MAX_STEPS,
                              description="A partial path, in order, e.g. "
                                                            "pricing_view signup.")
    top: int = Field(10, ge=1, le=30, description="How many next steps to list.")
    collapse_repeats: bool = Field(False, description="Count a repeated event once.")
    filters: FilterArgs = Field(default_factory=FilterArgs)


def next_steps_tool(ctx: ToolContext, args: NextStepsArgs) -> Any:
    from analytics.paths import next_steps

    with ctx.store.reader() as con:
        return next_steps(con, args.after, top=args.top, collapse_repeats=args.collapse_repeats,
                          filters=ctx.scoped_filters(con, args.filters), catalog=ctx.catalog())


def next_steps_view(args: NextStepsArgs, result: Any) -> TableView:
    rows = [[n.event, n.occurrences, n.customers, pct(n.probability)] for n in result.next_steps]
    return TableView("Next step after " + " > ".join(args.after),
                     ["next", "times", "customers", "probability"], rows)


class MomentsArgs(ToolArgs):
    outcome: str = Field(..., description="The outcome event, e.g. subscription_started or a "
                                          "cancellation event.")
    among: Optional[str] = Field(None, description="Only people who did this event.")
    anchor: Optional[str] = Field(None, description="Count only actions after this event "
                                                    "(and within the time window, if given).")
    within_days: Optional[Days] = Field(None, gt=0, description="Only actions within this time "
                                        "of the anchor (days, or a duration such as 7d).")
    min_support: int = Field(30, ge=5, description="Minimum customers in each group compared.")
    top: int = Field(10, ge=1, le=30, description="Moments listed on each side.")
    filters: FilterArgs = Field(default_factory=FilterArgs)


def moments_tool(ctx: ToolContext, args: MomentsArgs) -> Any:
    from analytics.moments import moments

    with ctx.store.reader() as con:
        return moments(con, args.outcome, among=args.among, anchor=args.anchor,
                       within_seconds=_seconds(args.within_days), min_support=args.min_support,
                       top=args.top, filters=ctx.scoped_filters(con, args.filters),
                       catalog=ctx.catalog())


def moments_view(args: MomentsArgs, result: Any) -> TableView:
    rows = [[sign, m.moment, m.did, pct(m.outcome_rate_did), pct(m.outcome_rate_did_not),
             f"{m.lift:.2f}" if m.lift else "n/a",
             f"{m.q_value:.1g}" if m.q_value is not None else "n/a"]
            for sign, items in (("+", result.positive), ("-", result.negative)) for m in items]
    return TableView(f"Moments for {args.outcome}", ["", "moment", "did", "rate if did",
                                                     "rate if not", "lift", "q"], rows,
                     notes=[result.note], model_rows=20)


class RetentionArgs(ToolArgs):
    period: Literal["week", "month"] = Field("month", description="Cohorts and returns by week "
                                                                  "or month.")
    cohort_event: Optional[str] = Field(None, description="Cohort by the first time people did "
                                                          "this event (default: signup dates "
                                                          "from the customers table, else "
                                                          "each person's first event).")
    return_event: Optional[str] = Field(None, description="Count only this event as coming "
                                                          "back.")
    filters: FilterArgs = Field(default_factory=FilterArgs)


def retention_tool(ctx: ToolContext, args: RetentionArgs) -> Any:
    from analytics.retention import retention

    with ctx.store.reader() as con:
        return retention(con, period=args.period, cohort_event=args.cohort_event,
                         return_event=args.return_event,
                         filters=ctx.scoped_filters(con, args.filters), catalog=ctx.catalog())


def retention_view(args: RetentionArgs, result: Any) -> TableView:
    shown = min(len(result.curve), 9)
    rows = [[c.cohort.strftime("%Y-%m-%d"), c.size,
             *[pct(r, 0) if r is not None else "" for r in c.rates[:shown]]]
            for c in result.cohorts]
    rows.append(["all", sum(c.size for c in result.cohorts),
                 *[pct(r, 0) for r in result.curve[:shown]]])
    # The model reads the overall curve (the last row) first.
    return TableView(f"Retention by {args.period}", ["cohort", "size",
                                                     *[str(k) for k in range(shown)]],
                     rows[-1:] + rows[:-1], model_rows=14)


class AttributionArgs(ToolArgs):
    conversion_event: Optional[str] = Field(None, description="The conversion to credit "
                                                              "(default: the journey's own).")
    model: AttributionModel = Field("markov", description="first, last, linear, position or "
                                                          "markov (removal effect).")
    filters: FilterArgs = Field(default_factory=FilterArgs)


def attribution_tool(ctx: ToolContext, args: AttributionArgs) -> Any:
    from analytics.attribution import attribution
    from analytics.paths import default_conversion_event

    with ctx.store.reader() as con:
        conversion = args.conversion_event or default_conversion_event(con)
        if conversion is None:
            from analytics.errors import ArgumentError

            raise ArgumentError("conversion_event", "the data has no purchase-stage event to "
                                                    "credit; name the conversion event")
        return attribution(con, conversion, model=args.model,
                           filters=ctx.scoped_filters(con, args.filters), catalog=ctx.catalog())


def attribution_view(args: AttributionArgs, result: Any) -> TableView:
    from analytics.attribution import MODELS

    rows = [[c.channel, f"{c.credit:,.1f}", pct(c.share), c.people_reached,
             f"{c.conversions_per_1000_reached:,.1f}",
             *[f"{c.by_model[m]:,.1f}" for m in MODELS]] for c in result.channels]
    return TableView(f"Attribution ({args.model})", ["channel", "credit", "share", "reached",
                                                     "per 1,000 reached", *MODELS], rows)


class AnomaliesArgs(ToolArgs):
    steps: Optional[list[Name]] = Field(None, max_length=MAX_STEPS,
                                        description="Steps to watch (default: the main "
                                                    "journey of the journey model).")
    window_days: int = Field(7, ge=1, le=31, description="Days after A within which B counts.")
    grain: Literal["auto", "week", "day"] = Field("auto", description="Compare weeks or days "
                                                  "(auto: days when the data are dense).")
    false_discovery_rate: float = Field(0.05, gt=0, lt=0.5, description="Share of flagged "
                                        "periods allowed to be flukes (Benjamini-Hochberg "
                                        "over every test).")
    filters: FilterArgs = Field(default_factory=FilterArgs)


def anomalies_tool(ctx: ToolContext, args: AnomaliesArgs) -> Any:
    from analytics.anomalies import anomalies

    with ctx.store.reader() as con:
        return anomalies(con, steps=args.steps or None, window_days=args.window_days,
                         grain=args.grain, false_discovery_rate=args.false_discovery_rate,
                         filters=ctx.scoped_filters(con, args.filters), catalog=ctx.catalog())


def anomalies_view(args: AnomaliesArgs, result: Any) -> TableView:
    rows = []
    for c in result.changes:
        top = c.concentrated_in[0] if c.concentrated_in else None
        where = (f"{top.dimension} = {top.value} ({pct(top.rate_before)} -> "
                 f"{pct(top.rate_during)}, {pct(top.share_of_change, 0)} of the change)"
                 if top else "")
        rows.append([c.metric, f"{c.start:%Y-%m-%d} to {c.last_day:%Y-%m-%d}",
                     f"{pct(c.rate_before)} -> {pct(c.rate_during)}", f"{c.people:,}",
                     f"{c.p_adjusted:.2g}", where])
    notes = [f"{c.metric}: at the same time {'; '.join(c.co_moving)}"
             for c in result.changes[:3] if c.co_moving]
    notes += [f"{s.metric}: {s.last_week_change * 100:+.1f} points since the {result.grain} "
              "before" for s in result.series
              if s.kind == "step" and s.last_week_change is not None]
    notes.append(result.definitions.get("test", ""))
    return TableView("What changed", ["metric", "window", "usual -> then", "people",
                                      "adjusted p", "concentrated in"], rows, notes=notes)
