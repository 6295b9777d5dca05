"""The journey map: the key-step funnel, where people drop, and what those who dropped said.

One result that joins three analytics already defined elsewhere: the funnel over the journey's
key steps (or the steps asked for), the two steps that lose the most people, and at each of
them the friction themes of those who left (feedback of people who did the step and not the
next one). Every number is the funnel's or the friction analysis's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from analytics.catalog import Catalog, load_catalog
from analytics.errors import ArgumentError, JourneyError
from analytics.event_filters import parse_step_event
from analytics.feedback.friction import FrictionResult, friction
from analytics.feedback.index import FeedbackIndex
from analytics.feedback.themes import ThemesResult
from analytics.filters import Filters
from analytics.funnel import FunnelResult, funnel
from analytics.journey_canvas import StageColumn, stage_columns
from analytics.results import AnalyticResult, pct
from analytics.store.connection import Connection


@dataclass
class DropOff:
    step: str  # where people were
    next_step: str  # what they did not reach
    dropped: int
    friction: FrictionResult | None = None  # None when too little feedback to say why
    note: str = ""


@dataclass
class JourneyMapResult(AnalyticResult):
    steps: list[str] = field(default_factory=list)
    funnel: FunnelResult | None = None
    drop_offs: list[DropOff] = field(default_factory=list)
    # The map as drawn: the stages as columns, a row per question (journey_canvas.py).
    columns: list[StageColumn] = field(default_factory=list)
    compare_by: str | None = None
    compared: list[tuple[str, list[StageColumn]]] = field(default_factory=list)
    differs: list[tuple[str, str]] = field(default_factory=list)  # (row, step) most different
    data_range: str = ""

    kind = "journey_map"

    def html(self) -> str:
        from analytics.journey_map_export import map_html

        return map_html(self)

    def write_html(self, path: str) -> None:
        from analytics.export_files import write_text_whole

        write_text_whole(path, self.html())

    def write_png(self, path: str) -> None:
        from analytics.journey_map_export import write_png

        write_png(self, path)

    def write_pdf(self, path: str) -> None:
        from analytics.journey_map_export import write_pdf

        write_pdf(self, path)

    def figure(self):
        fig = self.funnel.figure() if self.funnel else None
        biggest = self.funnel.biggest_dropoff_step if self.funnel else None
        if fig is not None and biggest:
            # Mark the biggest drop-off on the funnel itself.
            step = self.funnel.steps[biggest - 1]
            fig.add_annotation(x=step.customers, y=" | ".join(step.events),
                               text=f"biggest drop-off: {step.dropped:,} lost",
                               showarrow=True, arrowhead=2, ax=120, ay=0)
        return fig


def journey_map(con: Connection, index: FeedbackIndex, steps: list[str], *,
                drop_offs: int = 2, filters: Filters = Filters(),
                themes_result: ThemesResult | None = None, snippets: list | None = None,
                catalog: Catalog | None = None, conversion: str | None = None,
                compare_by: str | None = None, compare_values: list[str] | None = None,
                compare_at: date | None = None) -> JourneyMapResult:
    """`compare_by` draws the map side by side for groups; `compare_at` for the days before
    that date and the days from it on (what a change did), within the filters' own range."""
    if compare_by and compare_at:
        raise ArgumentError("compare_at", "compare either by a property or before/after a "
                                          "date, not both")
    catalog = catalog or load_catalog(con)
    result_funnel = funnel(con, steps, filters=filters, catalog=catalog)
    pairs = [(result_funnel.steps[i].dropped, i) for i in range(1, len(result_funnel.steps))]
    found: list[DropOff] = []
    for dropped, i in sorted(pairs, key=lambda p: (-p[0], p[1]))[:drop_offs]:
        if dropped <= 0:
            continue
        at, to = result_funnel.steps[i - 1].events[0], result_funnel.steps[i].events[0]
        drop = DropOff(step=at, next_step=to, dropped=dropped)
        # Friction reads feedback by event; a step narrowed by a property uses its event, and
        # says so (its people are everyone who did the event, not only the step's).
        at_step = parse_step_event(at, catalog.events)
        to_step = parse_step_event(to, catalog.events)
        at, to = at_step.event, to_step.event
        try:
            drop.friction = friction(con, index, at, next_step=to, themes_result=themes_result,
                                     snippets=snippets, filters=filters, catalog=catalog)
            if at_step.conditions or to_step.conditions:
                drop.note = (f"The feedback is that of everyone who did {at} but not {to}, "
                             "not only of the steps' narrower events.")
        except JourneyError as exc:  # no feedback loaded, too few snippets for themes
            drop.note = str(exc)
        found.append(drop)
    lines = [result_funnel.summary]
    for d in found:
        top = d.friction.themes[0] if d.friction and d.friction.themes else None
        if top is not None:
            lines.append(f"At {d.step} ({d.dropped:,} lost before {d.next_step}): "
                         f"{pct(top.dropped_share, 0)} of those who left and wrote to us mention "
                         f"'{top.label}'." + (f" {d.note}" if d.note else ""))
        elif d.friction is not None and d.friction.behaviour is not None:
            lines.append(f"At {d.step} ({d.dropped:,} lost before {d.next_step}): "
                         + _behaviour_clause(d.friction.behaviour))
        else:
            lines.append(f"At {d.step} ({d.dropped:,} lost before {d.next_step}): too little "
                         "feedback from those who left to say why.")
    stage_of = dict(con.execute("SELECT event_name, stage FROM stage_map").fetchall())
    changes = _changes(con, steps, catalog)

    def canvas(scope: Filters) -> list[StageColumn]:
        frictions: dict[str, object] = {}
        for a, b in zip(steps, steps[1:]):
            try:
                frictions[a] = friction(con, index, a, next_step=b, themes_result=themes_result,
                                        snippets=snippets, filters=scope, catalog=catalog)
            except JourneyError:
                continue
        return stage_columns(con, steps, stage_of, filters=scope, catalog=catalog,
                             conversion=conversion, snippets=snippets, frictions=frictions,
                             changes=changes)

    compared = []
    if compare_at is not None:
        compare_by = "period"
        before, after = _periods(con, filters, compare_at)
        compared = [(f"before {compare_at}", canvas(before)),
                    (f"from {compare_at}", canvas(after))]
    elif compare_by:
        for value in compare_values or _top_values(result_funnel, con, steps, compare_by,
                                                   filters, catalog):
            compared.append((value, canvas(_with(filters, compare_by, value))))
    row = con.execute("SELECT min(ts), max(ts) FROM events").fetchone()
    span = f"{row[0]:%Y-%m-%d} to {row[1]:%Y-%m-%d}" if row and row[0] else ""
    return JourneyMapResult(
        summary=" ".join(lines), steps=list(steps), funnel=result_funnel, drop_offs=found,
        columns=canvas(filters), compare_by=compare_by, compared=compared,
        differs=_differences(compared), data_range=span,
        filters=filters.describe(),
        definitions={"drop_offs": f"the {drop_offs} funnel steps that lose the most people, "
                                  "each with the friction themes of those who left",
                     **result_funnel.definitions})


def _changes(con: Connection, steps: list[str], catalog: Catalog) -> list:
    from analytics.anomalies import anomalies

    try:
        return anomalies(con, steps=steps, watch_events=False, catalog=catalog).changes
    except JourneyError:
        return []


def _periods(con: Connection, filters: Filters, at: date) -> tuple[Filters, Filters]:
    """The filters for the days before `at` and from `at` on; each side must hold events."""
    from dataclasses import replace

    row = con.execute("SELECT min(ts), max(ts) FROM events").fetchone()
    first, last = (row[0].date(), row[1].date()) if row and row[0] else (None, None)
    start = max(d for d in (filters.start, first) if d) if (filters.start or first) else None
    end = min(d for d in (filters.end, last) if d) if (filters.end or last) else None
    if start is None or end is None or not start < at <= end:
        raise ArgumentError("compare_at", f"{at} must fall after the first day looked at "
                                          f"({start}) and on or before the last ({end}), so "
                                          "that both periods have days")
    return (replace(filters, start=start, end=at - timedelta(days=1)),
            replace(filters, start=at, end=end))


def _top_values(result_funnel: FunnelResult, con: Connection, steps: list[str], by: str,
                filters: Filters, catalog: Catalog, n: int = 3) -> list[str]:
    """The groups with the most people at the first step (none-values left out)."""
    split = funnel(con, steps[:2], by=by, filters=filters, catalog=catalog)
    groups = sorted((g for g in split.groups if g.group not in ("(none)", "None", "")),
                    key=lambda g: (-g.steps[0].customers, g.group))
    return [g.group for g in groups[:n]]


def _with(filters: Filters, by: str, value: str) -> Filters:
    from dataclasses import replace

    if by == "device":
        return replace(filters, device=(value,))
    if by == "channel":
        return replace(filters, channel=(value,))
    return replace(filters, attributes=filters.attributes + ((by, value),))


def _differences(compared: list[tuple[str, list[StageColumn]]]) -> list[tuple[str, str]]:
    """The cells where the segments differ most: the step whose onward conversion is furthest
    apart between them (at least 5 points), and the feeling row's widest gap (0.2 or more)."""
    if len(compared) < 2:
        return []
    marked = []
    for row, least in (("people", 0.05), ("feeling", 0.2)):
        best = None
        columns = compared[0][1]
        # A stage's feeling is one cell, marked at the stage's first step.
        firsts = [k for k, c in enumerate(columns) if k == 0 or columns[k - 1].stage != c.stage]
        for k, col in enumerate(columns):
            if row == "feeling" and k not in firsts:
                continue
            values = [cols[k].cells[row].value for _, cols in compared]
            known = [v for v in values if v is not None]
            if len(known) >= 2 and max(known) - min(known) >= least and (
                    best is None or max(known) - min(known) > best[0]):
                best = (max(known) - min(known), col.step)
        if best:
            marked.append((row, best[1]))
    return marked


def _behaviour_clause(behaviour) -> str:
    """What those who left did instead, when no feedback says why."""
    notable = [i for i in behaviour.instead if i.dropped_share > i.passed_share][:2]
    from analytics.friction_behaviour import did

    said = [f"{pct(i.dropped_share, 0)} of them {did(i)} (against "
            f"{pct(i.passed_share, 0)} of those who went on)" for i in notable]
    if behaviour.exits is not None:
        said.append(f"{pct(behaviour.exits, 0)} did nothing else")
    where = (f"; most in {behaviour.segments[0].dimension} = {behaviour.segments[0].value}"
             if behaviour.segments else "")
    return (", ".join(said) or "no behaviour sets them apart") + where + "."
