"""The journey map as marketers draw it: the journey's stages as columns and, under each, what
the evidence says, one row per question a workshop asks.

Rows (each cell keeps its number, its definition and the command that shows it):
* people: who reached the stage's step on the main journey, and the share going on to the next;
* time: median time from the step to the next one;
* touchpoints: the stage's most done events and the first-touch channels of its people;
* feeling: the net sentiment of feedback written at that stage (positive minus negative share;
  the mean rating where ratings exist), the classic emotion line across the stages;
* pain point: what those who left the step said most (a theme and a quote), or, with no
  feedback, what they did instead (an error, a support contact);
* moment of truth: the action at that stage that goes most with converting (a correlation);
* changed: the step's flagged change in the last eight weeks of data, if any.

Every number is the funnel's, the friction analysis's, the moments', the what-changed scan's
or the feedback index's own, computed here through those analytics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from analytics.catalog import Catalog
from analytics.errors import JourneyError
from analytics.filters import Filters
from analytics.funnel import FunnelResult, funnel
from analytics.results import duration, pct
from analytics.store.connection import Connection

ROWS = ("people", "time", "touchpoints", "feeling", "pain point", "moment of truth", "changed")
# Rows about the stage as a whole (drawn once across its steps); the others are per step.
STAGE_ROWS = ("touchpoints", "feeling", "moment of truth")
RECENT_WEEKS = 8


@dataclass
class Cell:
    text: str
    value: float | None = None  # the figure the cell is compared on across segments
    definition: str = ""
    source: str = ""  # the command that shows the same numbers


@dataclass
class StageColumn:
    stage: str
    step: str
    cells: dict[str, Cell] = field(default_factory=dict)
    sentiment: float | None = None  # net sentiment, -1..1, for the emotion line


def _q(name: str) -> str:
    return f"'{name}'" if " " in name else name


def stage_columns(con: Connection, steps: list[str], stage_of: dict[str, str], *,
                  filters: Filters = Filters(), catalog: Catalog | None = None,
                  conversion: str | None = None, snippets: list | None = None,
                  frictions: dict[str, object] | None = None,
                  changes: list | None = None) -> list[StageColumn]:
    """One column per step of the main journey (its stage named above it).

    `frictions` (step -> the friction result for leaving it) and `changes` (the what-changed
    scan's) come from the caller when it has them; `snippets` are all indexed feedback."""
    main = funnel(con, steps, filters=filters, catalog=catalog)
    by_channel = _safe(lambda: funnel(con, steps, by="channel", filters=filters,
                                      catalog=catalog))
    columns = [StageColumn(stage=stage_of.get(s, ""), step=s) for s in steps]
    _people_and_time(columns, main, steps)
    _touchpoints(con, columns, by_channel, stage_of, filters)
    mine = snippets or []
    if mine and (filters.device or filters.channel or filters.attributes or filters.did or
                 filters.segment_people is not None or filters.start or filters.end):
        # The segment's own feedback (what its people wrote, in the period looked at), not
        # everyone's at any time.
        from analytics.feedback.population_themes import population_feedback_ids

        ids, _ = population_feedback_ids(con, filters)
        mine = [s for s in mine if s.feedback_id in ids]
    _feeling(columns, mine)
    for col in columns:
        f = (frictions or {}).get(col.step)
        col.cells["pain point"] = _pain(f, col.step)
    _moments(con, columns, conversion, stage_of, filters, catalog)
    _changed(con, columns, changes or [], filters)
    return columns


def _safe(compute):
    try:
        return compute()
    except JourneyError:
        return None


def _people_and_time(columns: list[StageColumn], main: FunnelResult, steps: list[str]) -> None:
    names = " ".join(_q(s) for s in steps)
    for k, col in enumerate(columns):
        step = main.steps[k]
        onward = main.steps[k + 1].conversion_from_previous if k + 1 < len(columns) else None
        text = f"{step.customers:,} people"
        if onward is not None:
            text += f"; {pct(onward)} go on to {columns[k + 1].step}"
        col.cells["people"] = Cell(
            text, onward, "people who reached this step in order on the main journey; the share "
            "of them who reached the next step", f"journey funnel {names}")
        after = main.steps[k + 1].median_seconds_from_previous if k + 1 < len(columns) else None
        col.cells["time"] = Cell(
            f"median {duration(after)} to {columns[k + 1].step}" if after is not None else "-",
            after, "median time from this step to the next, among those who reached it",
            f"journey funnel {names}")


def _touchpoints(con: Connection, columns: list[StageColumn], by_channel: FunnelResult | None,
                 stage_of: dict[str, str], filters: Filters) -> None:
    from analytics.filters import scope_sql

    scope = scope_sql(filters, light=True)
    rows = con.execute(f"""{scope.ctes}
        SELECT event_name, count(DISTINCT person_id) FROM ev GROUP BY event_name""",
                       scope.params).fetchall()
    people_per_event = dict(rows)
    staged = con.execute(f"""{scope.ctes}
        SELECT sm.stage, count(DISTINCT ev.person_id) FROM ev
        JOIN stage_map AS sm ON sm.event_name = ev.event_name GROUP BY sm.stage""",
                         scope.params).fetchall()
    people_per_stage = dict(staged)
    for k, col in enumerate(columns):
        # Shares of everyone who did anything in the stage: never over 100%.
        reached = max(people_per_stage.get(col.stage, 0), 1)
        own = sorted(((e, n) for e, n in people_per_event.items()
                      if stage_of.get(e) == col.stage and col.stage),
                     key=lambda x: (-x[1], x[0]))[:3]  # ties by name: the same every run
        events = ", ".join(f"{e} ({n / reached:.0%})" for e, n in own)
        channels = ""
        if by_channel is not None:
            at = [(g.group, g.steps[k].customers) for g in by_channel.groups
                  if g.steps[k].customers]
            total = sum(n for _, n in at) or 1
            top = sorted(at, key=lambda x: (-x[1], x[0]))[:2]
            channels = "; first touch " + ", ".join(f"{g} {n / total:.0%}" for g, n in top)
        col.cells["touchpoints"] = Cell(
            (events or col.step) + channels, None,
            "the stage's most done events (share of the people who did anything in the stage) "
            "and the first-touch channels of those who reached its first step",
            "journey describe; journey funnel ... --by channel")


def _feeling(columns: list[StageColumn], snippets: list) -> None:
    for col in columns:
        mine = [s for s in snippets if s.stage == col.stage]
        if not mine:
            col.cells["feeling"] = Cell("no feedback at this stage", None,
                                        "net sentiment of feedback written at this stage")
            continue
        positive = sum(s.sentiment == "positive" for s in mine)
        negative = sum(s.sentiment == "negative" for s in mine)
        net = (positive - negative) / len(mine)
        ratings = [s.rating for s in mine if s.rating is not None]
        rating = f"; mean rating {sum(ratings) / len(ratings):.1f}" if ratings else ""
        col.sentiment = net
        mood = "positive" if net > 0.2 else "negative" if net < -0.2 else "mixed"
        col.cells["feeling"] = Cell(
            f"{mood}: net {net:+.0%} of {len(mine):,} items{rating}", net,
            "positive minus negative share of the feedback written at this stage (NPS, CSAT, "
            "reviews, tickets, chats)", f"journey feedback themes (stage {col.stage})")


def _pain(f, step: str) -> Cell:
    if f is None:
        return Cell("-", None, "what those who left the step said or did")
    if not f.dropped:
        return Cell("no one leaves here", 0.0, "people who did the step and never the next")
    command = f"journey friction {_q(f.step)} --next {_q(f.next_step)}"
    if f.themes and f.dropped_with_feedback >= 5:
        top = f.themes[0]
        quote = f" \u201c{top.quotes[0]['text']}\u201d" if top.quotes else ""
        return Cell(f"'{top.label}': {pct(top.dropped_share, 0)} of those who left and wrote "
                    f"to us{quote}", top.dropped_share,
                    "the top theme of feedback from people who did the step and never the next",
                    command)
    notable = [i for i in (f.behaviour.instead if f.behaviour else [])
               if i.dropped_share > i.passed_share and i.kind in ("setback", "support")]
    if notable:
        i = notable[0]
        return Cell(f"{pct(i.dropped_share, 0)} of those who left did {i.event} (against "
                    f"{pct(i.passed_share, 0)} of those who went on)", i.dropped_share,
                    "what people who left the step did instead", command)
    return Cell(f"{f.dropped:,} left; no theme or setback sets them apart", None,
                "what those who left the step said or did", command)


def _moments(con: Connection, columns: list[StageColumn], conversion: str | None,
             stage_of: dict[str, str], filters: Filters, catalog: Catalog | None) -> None:
    from analytics.moments import moments

    result = _safe(lambda: moments(con, conversion, pairs=False, filters=filters,
                                   catalog=catalog)) if conversion else None
    for col in columns:
        found = None
        if result is not None:
            found = next((m for m in result.positive if m.kind == "event"
                          and stage_of.get(m.moment) == col.stage and m.lift), None)
        col.cells["moment of truth"] = Cell(
            f"{found.moment}: {pct(found.outcome_rate_did)} convert against "
            f"{pct(found.outcome_rate_did_not)} without (correlation)" if found else "-",
            found.lift if found else None,
            f"the action at this stage that goes most with reaching {conversion}",
            f"journey moments --outcome {conversion}" if conversion else "")


def _changed(con: Connection, columns: list[StageColumn], changes: list,
             filters: Filters) -> None:
    """Changes flagged in the last weeks of the period looked at (of the data, without one)
    that began within it: a map of the weeks before a change does not show the change."""
    row = con.execute("SELECT max(ts) FROM events").fetchone()
    end = row[0] if row and row[0] else None
    if end is not None and filters.end is not None:
        end = min(end, datetime.combine(filters.end, time.max, tzinfo=end.tzinfo))
    for col in columns:
        recent = [c for c in changes if end is not None and c.kind == "step"
                  and c.metric.endswith(f"-> {col.step}")
                  and c.last_day >= end - timedelta(weeks=RECENT_WEEKS)
                  and c.start <= end
                  and (filters.start is None or c.start.date() >= filters.start)]
        c = recent[0] if recent else None
        col.cells["changed"] = Cell(
            f"into it {c.direction} {pct(c.rate_before)} -> {pct(c.rate_during)} from "
            f"{c.start.date()}" if c else "no flagged change",
            None, f"a flagged change in the move into this step in the last {RECENT_WEEKS} "
                  "weeks of data", "journey anomalies")
