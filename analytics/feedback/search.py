"""Feedback search as an analytic result: what customers said about a topic, by meaning."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from analytics.feedback.index import FeedbackIndex, Snippet
from analytics.results import AnalyticResult

DEFINITIONS = {
    "similarity": "cosine similarity of the embeddings (0-1)",
    "same_text": "matching snippets with exactly this text (shown once)",
    "text": "redacted: personal data replaced by placeholders",
}


@dataclass
class FeedbackSearchResult(AnalyticResult):
    query: str = ""
    snippets: list[Snippet] = field(default_factory=list)

    kind = "feedback_search"

    def figure(self):
        import plotly.graph_objects as go

        counts: dict[str, int] = {}
        for s in self.snippets:
            counts[s.stage] = counts.get(s.stage, 0) + s.same_text
        fig = go.Figure(go.Bar(x=list(counts), y=list(counts.values())))
        fig.update_layout(title=f'Where customers say things like "{self.query}"',
                          xaxis_title="journey stage", yaxis_title="snippets")
        return fig


def feedback_search(index: FeedbackIndex, query: str, *, k: int = 8, stage: str | None = None,
                    source: str | None = None, sentiment: str | None = None,
                    since: date | None = None, people: set[str] | None = None,
                    filters: dict | None = None, until: date | None = None
                    ) -> FeedbackSearchResult:
    hits = index.search(query, k=k, stage=stage, source=source, sentiment=sentiment,
                        since=since, people=people, until=until)
    shown = sum(h.same_text for h in hits)
    summary = (f"{len(hits)} distinct snippets ({shown} in all) like '{query}'." if hits
               else f"No feedback found like '{query}'.")
    return FeedbackSearchResult(summary=summary, definitions=dict(DEFINITIONS),
                                filters=filters or {}, query=query, snippets=hits)
