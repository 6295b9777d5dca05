"""The themes of one population's feedback: what churned customers, or mobile users, talk about.

The themes are those of all feedback (one clustering, shared with friction and the map), so a
population's themes can be compared with everyone's: for each theme, its share of the
population's snippets, its share of all snippets, and their ratio (lift). Quotes come from the
population's own snippets. "What do churned customers complain about?" is answered with the
theme that is largest among their negative snippets, not with the themes of everyone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from analytics.errors import JourneyError
from analytics.filters import Filters, _utc, scope_sql
from analytics.results import AnalyticResult, pct
from analytics.store.connection import Connection

MIN_SNIPPETS = 3  # fewer than this and a share means nothing


@dataclass
class PopulationTheme:
    theme: int
    label: str
    size: int  # the population's snippets in this theme
    share: float  # of the population's snippets
    share_overall: float  # of all snippets
    lift: float | None
    negative_share: float
    quotes: list[dict] = field(default_factory=list)


@dataclass
class PopulationThemesResult(AnalyticResult):
    population: dict = field(default_factory=dict)
    people: int = 0  # people in the population
    snippets: int = 0  # their snippets
    snippets_overall: int = 0
    themes: list[PopulationTheme] = field(default_factory=list)

    kind = "population_themes"

    def figure(self):
        import plotly.graph_objects as go

        labels = [t.label for t in self.themes]
        fig = go.Figure([
            go.Bar(name="this population", y=labels, x=[t.share for t in self.themes],
                   orientation="h", marker_color="#0072B2"),
            go.Bar(name="everyone", y=labels, x=[t.share_overall for t in self.themes],
                   orientation="h", marker_color="#E69F00")])
        fig.update_layout(title="Share of feedback by theme", barmode="group",
                          xaxis_tickformat=".0%", yaxis={"autorange": "reversed"})
        return fig


def population_feedback_ids(con: Connection, filters: Filters) -> tuple[set[str], int]:
    """The feedback ids written by the people in scope (within the date range, if any), and
    how many people are in scope."""
    scope = scope_sql(filters, date_range=False, light=True)
    rows = con.execute(f"""{scope.ctes}
        SELECT DISTINCT person_id FROM ev""", scope.params).fetchall()
    people = {r[0] for r in rows}
    if not people:
        return set(), 0
    conditions = ["person_id IN (SELECT unnest(?::VARCHAR[]))"]
    params: list = [sorted(people)]
    if filters.start:
        conditions.append("ts >= ?")
        params.append(_utc(filters.start))
    if filters.end:
        from datetime import timedelta

        conditions.append("ts < ?")
        params.append(_utc(filters.end + timedelta(days=1)))
    where = " AND ".join(conditions)
    found = con.execute(f"SELECT feedback_id FROM journey_feedback WHERE {where}",
                        params).fetchall()
    return {r[0] for r in found}, len(people)


def population_themes(con: Connection, base, snippets: list, filters: Filters,
                      label: str) -> PopulationThemesResult:
    """`base` is the themes result of all feedback, `snippets` all indexed snippets."""
    ids, people = population_feedback_ids(con, filters)
    mine = [s for s in snippets if s.feedback_id in ids]
    definition = {
        "population": label,
        "share": "the theme's snippets among the population's snippets (feedback they wrote"
                 + (" in the date range" if filters.start or filters.end else "") + ")",
        "share_overall": "the theme's snippets among all snippets",
        "lift": "share / share_overall: above 1, the population talks about it more",
        "themes": "those of all feedback (k-means on the embeddings), so shares compare"}
    result = PopulationThemesResult(population=filters.describe(), people=people,
                                    snippets=len(mine), snippets_overall=len(snippets),
                                    definitions=definition, filters=filters.describe())
    if len(mine) < MIN_SNIPPETS:
        raise JourneyError(f"{label.capitalize()} wrote {len(mine)} feedback item(s) "
                           f"({people:,} people in scope): too few to say what they talk about")
    overall = Counter(base.assignments.get(s.feedback_id) for s in snippets)
    inside = Counter(base.assignments.get(s.feedback_id) for s in mine)
    by_theme = {t.theme: t for t in base.themes}
    found = []
    for theme, count in inside.most_common():
        if theme is None or theme not in by_theme:
            continue
        members = [s for s in mine if base.assignments.get(s.feedback_id) == theme]
        share, share_all = count / len(mine), overall[theme] / len(snippets)
        typical = sorted(members, key=lambda s: -base.typicality.get(s.feedback_id, 0.0))
        quotes, seen = [], set()
        for s in typical:
            if s.text.lower() not in seen:
                seen.add(s.text.lower())
                quotes.append({"feedback_id": s.feedback_id, "text": s.text, "source": s.source,
                               "date": s.date, "stage": s.stage, "sentiment": s.sentiment})
            if len(quotes) == 2:
                break
        found.append(PopulationTheme(
            theme=theme, label=by_theme[theme].label, size=count, share=share,
            share_overall=share_all, lift=share / share_all if share_all else None,
            negative_share=sum(s.sentiment == "negative" for s in members) / count,
            quotes=quotes))
    result.themes = found
    # The complaint: the theme with the most negative snippets among the population's.
    top = max(found, key=lambda t: (t.size * t.negative_share, t.size))
    lift = f", {top.lift:.1f}x its share among everyone" if top.lift else ""
    result.summary = (f"{label.capitalize()} ({people:,} people) wrote {len(mine):,} feedback "
                      f"items. Their top complaint is '{top.label}': {top.size:,} items, "
                      f"{pct(top.share)} of theirs against {pct(top.share_overall)} of all "
                      f"feedback{lift}.")
    return result
