"""Feedback as tools: search, themes, friction at a step, and the journey map that joins the
funnel with what those who dropped said. Customer text reaches a model inside an
untrusted-data fence: it is what customers wrote, never instructions to follow."""

from __future__ import annotations

from datetime import date
from typing import Any, Optional

from pydantic import Field

from analytics.constants import FEEDBACK_SOURCES, FeedbackSource, Sentiment
from analytics.errors import ArgumentError, JourneyError
from tools.base import MAX_STEPS, FilterArgs, Name, TableView, ToolArgs, ToolContext, pct


class FeedbackSearchArgs(ToolArgs):
    query: str = Field(..., min_length=1, max_length=1000,
                       description="What to look for, in plain words, e.g. "
                                                      "'too expensive'.")
    k: int = Field(8, ge=1, le=50, description="How many snippets.")
    stage: Optional[str] = Field(None, description="Only feedback from this journey stage.")
    source: Optional[FeedbackSource] = Field(None, description="Only this source: "
                                                       + ", ".join(FEEDBACK_SOURCES) + ".")
    sentiment: Optional[Sentiment] = Field(None, description="positive, neutral or negative.")
    since: Optional[date] = Field(None, description="Only feedback from this day on "
                                                    "(YYYY-MM-DD).")
    until: Optional[date] = Field(None, description="Only feedback up to this day, inclusive "
                                                    "(YYYY-MM-DD).")
    segment: Optional[str] = Field(None, description="Only feedback of one segment (number or "
                                                     "name).")


def feedback_search_tool(ctx: ToolContext, args: FeedbackSearchArgs) -> Any:
    from analytics.feedback.search import feedback_search

    people = None
    if args.stage:
        ctx.catalog().check_stage(args.stage)
    if args.segment:
        with ctx.store.reader(local=True) as con:
            scoped = ctx.scoped_filters(con, FilterArgs(segment=args.segment))
            people = set(scoped.segment_people or ())
    shown = {k: v for k, v in (("stage", args.stage), ("source", args.source),
                               ("sentiment", args.sentiment), ("since", args.since),
                               ("until", args.until), ("segment", args.segment)) if v}
    if args.since and args.until and args.until < args.since:
        raise ArgumentError("until", f"{args.until} is before since {args.since}")
    return feedback_search(ctx.feedback_index(), args.query, k=args.k, stage=args.stage,
                           source=args.source, sentiment=args.sentiment, since=args.since,
                           people=people, filters=shown, until=args.until)


def feedback_search_view(args: FeedbackSearchArgs, result: Any) -> TableView:
    rows = [[f"{s.similarity:.2f}", s.text + (f" (x{s.same_text})" if s.same_text > 1 else ""),
             s.stage, s.source, s.date, s.sentiment, s.customer_id or "anonymous"]
            for s in result.snippets]
    quotes = [f"{s.feedback_id} ({s.source}, {s.stage}, {s.date}, {s.sentiment}, similarity "
              f"{s.similarity:.2f}): {s.text}" for s in result.snippets]
    # The snippets reach a model only inside the fence, never as table cells.
    return TableView(f'Feedback like "{args.query}"', ["similarity", "said", "stage", "source",
                                                       "date", "sentiment", "customer"], rows,
                     quotes=quotes, model_rows=0)


class ThemesArgs(ToolArgs):
    k: Optional[int] = Field(None, ge=2, le=20, description="Number of themes (default: the "
                                                            "best fit).")
    seed: int = Field(0, ge=0, description="Same seed, same themes.")
    by_segment: bool = Field(False, description="Also say which segment each theme is most "
                                                "common in (runs the segmentation first).")
    filters: FilterArgs = Field(default_factory=FilterArgs, description="Only the feedback of "
                                "these people (e.g. did: the cancellation event, for what "
                                "churned customers say): each theme's share among them against "
                                "everyone's.")


def themes_tool(ctx: ToolContext, args: ThemesArgs) -> Any:
    index = ctx.feedback_index()
    index.ensure_current()
    if args.filters != FilterArgs():
        from analytics.feedback.population_themes import population_themes

        base = ctx.themes(args.k)
        snippets, _ = ctx.snippets()
        with ctx.store.reader(local=True) as con:
            filters = ctx.scoped_filters(con, args.filters)
            from analytics.filters import check_filters

            check_filters(filters, ctx.catalog())
            return population_themes(con, base, snippets, filters, population_label(filters))
    if args.seed == 0 and not args.by_segment:
        return ctx.themes(args.k)  # shared with friction and the journey map
    from analytics.feedback.themes import feedback_segments, themes

    by_segment = None
    if args.by_segment:
        with ctx.store.reader(local=True) as con:
            by_segment = feedback_segments(con)
    return themes(index, k=args.k, seed=args.seed, segment_names=by_segment)


def population_label(filters: Any) -> str:
    """The people in scope, in words: "people who did subscription_cancelled on mobile"."""
    parts = []
    if filters.did:
        parts.append("who did " + " or ".join(filters.did))
    if filters.device:
        parts.append("on " + "/".join(filters.device))
    if filters.channel:
        parts.append("from " + "/".join(filters.channel))
    parts += [f"with {k} {v}" for k, v in filters.attributes]
    if filters.segment:
        parts.append(f"in segment {filters.segment}")
    if filters.start or filters.end:
        parts.append(f"from {filters.start or 'the start'} to {filters.end or 'the end'}")
    return "people " + " ".join(parts) if parts else "everyone"


def themes_view(args: ThemesArgs, result: Any) -> TableView:
    if getattr(result, "kind", "") == "population_themes":
        rows = [[t.theme, t.label, t.size, pct(t.share), pct(t.share_overall),
                 f"{t.lift:.1f}x" if t.lift else "-", pct(t.negative_share, 0)]
                for t in result.themes]
        quotes = [f"theme {t.theme}: {q['text']}" for t in result.themes[:3] for q in t.quotes[:1]]
        return TableView(f"Themes of {result.snippets:,} feedback items from this population",
                         ["#", "theme", "items", "share", "share of all", "lift", "negative"],
                         rows, quotes=quotes)
    rows = [[t.theme, t.label, t.size, pct(t.negative_share, 0),
             ", ".join(f"{c.value} ({c.lift:.1f}x)" for c in t.stages[:2]),
             ", ".join(f"{c.value} ({c.lift:.1f}x)" for c in t.segments[:1])]
            for t in result.themes]
    quotes = [f"theme {t.theme}: {q['text']}" for t in result.themes for q in t.quotes[:1]]
    return TableView(f"{result.k} themes in {result.snippets:,} snippets",
                     ["#", "theme", "snippets", "negative", "mostly at", "mostly from"], rows,
                     quotes=quotes)


class FrictionArgs(ToolArgs):
    step: str = Field(..., description="The step where customers drop, e.g. pricing_view.")
    next_step: Optional[str] = Field(None, description="The step they should reach (default: "
                                                       "the next key step).")
    filters: FilterArgs = Field(default_factory=FilterArgs)


def friction_tool(ctx: ToolContext, args: FrictionArgs) -> Any:
    from analytics.feedback.friction import friction

    index = ctx.feedback_index()
    index.ensure_current()
    try:
        themes_result, snippets = ctx.themes(), ctx.snippets()[0]
    except JourneyError:  # no feedback, or too little: friction answers from behaviour
        themes_result, snippets = None, None
    with ctx.store.reader(local=True) as con:
        return friction(con, index, args.step, next_step=args.next_step or _next_key_step(
                            ctx, con, args.step),
                        themes_result=themes_result, snippets=snippets,
                        filters=ctx.scoped_filters(con, args.filters), catalog=ctx.catalog())


def key_steps_of(ctx: ToolContext, con: Any) -> list[str]:
    """The journey's key steps, read once while the data stay the same (friction and the
    journey map would otherwise scan the events for them on every question)."""
    from analytics.anomalies import key_steps

    return ctx.cached(ctx.cache, "key_steps", lambda: key_steps(con))


def _next_key_step(ctx: ToolContext, con: Any, step: str) -> str | None:
    """The key step after `step`, as friction's own default would pick it; None when the step
    is not a key step (friction then looks at what people do next)."""
    from analytics.feedback.friction import event_of

    catalog = ctx.catalog()
    steps = [event_of(s, catalog) for s in key_steps_of(ctx, con)]
    if step in steps and steps.index(step) + 1 < len(steps):
        return steps[steps.index(step) + 1]
    return None


def friction_view(args: FrictionArgs, result: Any) -> TableView:
    rows = [["said: " + t.label, pct(t.dropped_share, 0), pct(t.passed_share, 0),
             t.dropped_people] for t in result.themes[:6]]
    behaviour = result.behaviour
    notes = []
    if behaviour is not None:
        rows += [[f"did: {i.event} ({i.kind})", pct(i.dropped_share, 0),
                  pct(i.passed_share, 0), i.dropped_people] for i in behaviour.instead[:6]]
        if behaviour.exits is not None:
            rows.append([f"did nothing else within {behaviour.horizon_days} days",
                         pct(behaviour.exits, 0), "", round(behaviour.exits * behaviour.dropped)])
        notes += [f"Left most in {s.dimension} = {s.value}: {pct(s.left_rate, 0)} of "
                  f"{s.people:,} left, against {pct(s.others_rate, 0)} elsewhere"
                  for s in behaviour.segments[:3]]
    if result.feedback_note:
        notes.append(f"Feedback: {result.feedback_note}")
    quotes = [f"{q['feedback_id']} ({t.label}): {q['text']}" for t in result.themes[:3]
              for q in t.quotes[:2]]
    return TableView(f"Left at {result.step} vs went on to {result.next_step}",
                     ["evidence", "left", "went on", "people"], rows, notes=notes,
                     quotes=quotes)


class JourneyMapArgs(ToolArgs):
    steps: Optional[list[Name]] = Field(None, max_length=MAX_STEPS,
                                        description="The journey's steps in order "
                                                         "(default: one key step per stage).")
    drop_offs: int = Field(2, ge=1, le=5, description="How many of the biggest drop-offs to "
                                                      "explain with feedback.")
    compare_by: Optional[Name] = Field(None, description="Draw the map side by side for the "
                                       "largest groups of this (device, channel or a customer "
                                       "attribute), marking where they differ most.")
    compare_values: Optional[list[Name]] = Field(None, max_length=3, description="The groups "
                                                 "to compare (default: the three largest).")
    compare_at: Optional[date] = Field(None, description="Draw the map for the days before "
                                       "this date (YYYY-MM-DD) and from it on, side by side: "
                                       "what a change did. Not with compare_by.")
    filters: FilterArgs = Field(default_factory=FilterArgs)


def journey_map_tool(ctx: ToolContext, args: JourneyMapArgs) -> Any:
    from analytics.journey_map import journey_map

    index = ctx.feedback_index()
    index.ensure_current()
    with ctx.store.reader(local=True) as con:
        steps = args.steps or list(key_steps_of(ctx, con))
        try:
            themes_result, snippets = ctx.themes(), ctx.snippets()[0]
        except JourneyError:  # no feedback yet: the map still shows the funnel
            themes_result, snippets = None, None
        from analytics.paths import default_conversion_event

        if args.compare_by and args.compare_by not in ("device", "channel"):
            ctx.catalog().check_attribute(args.compare_by)
        return journey_map(con, index, steps, drop_offs=args.drop_offs,
                           filters=ctx.scoped_filters(con, args.filters),
                           themes_result=themes_result, snippets=snippets,
                           catalog=ctx.catalog(), conversion=default_conversion_event(con),
                           compare_by=args.compare_by, compare_values=args.compare_values,
                           compare_at=args.compare_at)


def journey_map_view(args: JourneyMapArgs, result: Any) -> TableView:
    if len(result.compared) >= 2:
        return _compared_view(result)
    rows = []
    for d in result.drop_offs:
        top = d.friction.themes[0] if d.friction and d.friction.themes else None
        rows.append([f"{d.step} -> {d.next_step}", d.dropped, top.label if top else "-",
                     pct(top.dropped_share, 0) if top else "-"])
    quotes = [f"{q['feedback_id']} (at {d.step}): {q['text']}" for d in result.drop_offs
              if d.friction and d.friction.themes for q in d.friction.themes[0].quotes[:2]]
    return TableView("Where the journey loses people", ["drop-off", "lost", "top theme of "
                                                        "those who left", "of those who wrote"],
                     rows, quotes=quotes)


def _compared_view(result: Any) -> TableView:
    """Side by side: per step, each group's onward share and feeling; '*' marks the cells
    that differ most (the outlined ones in the drawn map)."""
    marked = set(result.differs)
    names = [value for value, _ in result.compared]
    rows = []
    for k, col in enumerate(result.compared[0][1]):
        for row in ("people", "time", "feeling", "pain point"):
            cells = [cols[k].cells.get(row) for _, cols in result.compared]
            if row == "feeling" and k and result.compared[0][1][k - 1].stage == col.stage:
                continue  # a stage's feeling once, at its first step
            texts = [c.text if c else "-" for c in cells]
            if all(t in ("-", "no feedback at this stage") for t in texts):
                continue
            flag = " *" if (row, col.step) in marked else ""
            rows.append([f"{col.stage}: {col.step}" if col.stage else col.step, row + flag,
                         *texts])
    notes = ["* where they differ most."] if marked else []
    return TableView(f"The journey map by {result.compare_by}", ["step", "row", *names], rows,
                     notes=notes, model_rows=24)
