"""Themes: what customers talk about, found by clustering the snippets' embeddings.

Snippets are grouped with k-means on their (unit-length) embeddings; k is the one with the best
silhouette on a fixed sample unless given. Each theme is labelled by its most distinctive words,
scored c-TF-IDF style: a word's frequency in the theme times log(1 + average words per theme /
the word's frequency in all themes), so words every theme uses score low. For each theme: size,
sentiment, the stages and segments where it is over-represented, and the two quotes closest to
its centre.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer
from sklearn.metrics import silhouette_score

from analytics.errors import ArgumentError, JourneyError
from analytics.feedback.index import FeedbackIndex, Snippet
from analytics.results import AnalyticResult, pct

PLACEHOLDERS = re.compile(r"\[(EMAIL|PHONE|CARD|IBAN|URL)\]")
STOP = list(ENGLISH_STOP_WORDS | {"ve", "ll", "don", "didn", "doesn", "isn", "just", "really",
                                  "use", "using"})


@dataclass
class Concentration:
    value: str
    share_in_theme: float
    share_overall: float
    lift: float


@dataclass
class Theme:
    theme: int
    label: str
    keywords: list[str]
    size: int
    share: float
    negative_share: float
    positive_share: float
    mean_sentiment: float
    stages: list[Concentration] = field(default_factory=list)
    segments: list[Concentration] = field(default_factory=list)
    sources: dict[str, int] = field(default_factory=dict)
    quotes: list[dict] = field(default_factory=list)


@dataclass
class ThemesResult(AnalyticResult):
    snippets: int = 0
    k: int = 0
    themes: list[Theme] = field(default_factory=list)
    assignments: dict[str, int] = field(default_factory=dict, repr=False)
    # feedback id -> cosine to its theme's centre: how typical of the theme a snippet is.
    typicality: dict[str, float] = field(default_factory=dict, repr=False)

    internal = ("assignments", "typicality")  # one entry per snippet: too big for an answer
    kind = "themes"


    def figure(self):
        import plotly.graph_objects as go

        fig = go.Figure(go.Bar(
            x=[t.size for t in self.themes], y=[t.label for t in self.themes], orientation="h",
            marker_color=[t.mean_sentiment for t in self.themes], marker_colorscale="RdYlGn",
            marker_cmin=-1, marker_cmax=1))
        fig.update_layout(title="Feedback themes (colour: mean sentiment)",
                          yaxis={"autorange": "reversed"})
        return fig


def _concentration(values: list, members: np.ndarray, min_share: float = 0.15
                   ) -> list[Concentration]:
    overall = Counter(values)
    inside = Counter(v for v, m in zip(values, members) if m)
    n_all, n_in = len(values), int(members.sum())
    found = []
    for value, count in inside.items():
        share_in, share_all = count / n_in, overall[value] / n_all
        if share_in >= min_share:
            found.append(Concentration(str(value), share_in, share_all, share_in / share_all))
    return sorted(found, key=lambda c: (-c.lift, -c.share_in_theme))[:3]


def keywords_by_theme(texts: list[str], labels: np.ndarray, k: int, top: int = 6
                      ) -> list[list[str]]:
    # Redaction placeholders are not words customers used.
    joined = [PLACEHOLDERS.sub(" ", " ".join(t for t, l in zip(texts, labels) if l == c))
              for c in range(k)]
    vectorizer = CountVectorizer(stop_words=STOP, token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z-]+\b",
                                 ngram_range=(1, 1))
    counts = vectorizer.fit_transform(joined).toarray().astype(float)
    words = vectorizer.get_feature_names_out()
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    average_words = counts.sum() / k
    idf = np.log(1 + average_words / np.maximum(counts.sum(axis=0), 1))
    scores = tf * idf
    return [[words[i] for i in np.argsort(-scores[c])[:top] if scores[c, i] > 0]
            for c in range(k)]


def themes(index: FeedbackIndex, *, k: int | None = None, seed: int = 0, max_k: int = 10,
           segment_names: dict[str, str] | None = None) -> ThemesResult:
    """`segment_names` (feedback id -> segment name) adds where each theme concentrates."""
    snippets, vectors = index.all_snippets()
    segment_of = segment_names or {}
    n = len(snippets)
    if n < 10:
        raise JourneyError(f"Only {n} feedback snippets: too few to find themes")
    # Survey reasons and ticket templates repeat word for word: there cannot be more themes
    # than different texts (k-means would leave clusters empty).
    distinct = len(np.unique(np.round(vectors, 5), axis=0))
    if distinct < 3:
        raise JourneyError(f"The {n} feedback snippets say only {distinct} different thing(s): "
                           "too few to find themes; read them with `journey feedback search`")
    scores: dict[int, float] = {}
    if k is None:
        rng = np.random.default_rng(seed)
        sample = rng.choice(n, size=min(n, 1500), replace=False)
        for candidate in range(2 if distinct < 5 else 4, min(max_k, n - 1, distinct) + 1):
            labels = KMeans(candidate, n_init=2, random_state=seed).fit_predict(vectors[sample])
            if len(set(labels)) > 1:
                scores[candidate] = float(silhouette_score(vectors[sample], labels,
                                                           metric="cosine"))
        if not scores:  # every sampled clustering put all snippets together
            scores[min(2, distinct)] = 0.0
        k = max(scores, key=lambda c: (round(scores[c], 3), -c))
    if not 2 <= k <= min(40, n - 1, distinct):
        raise ArgumentError("k", f"must be between 2 and {min(40, n - 1, distinct)} (below the "
                                 "number of snippets and of different texts)")
    model = KMeans(k, n_init=4, random_state=seed).fit(vectors)
    raw = model.labels_
    order = {old: new for new, (old, _) in enumerate(
        sorted(zip(*np.unique(raw, return_counts=True)), key=lambda t: (-t[1], t[0])))}
    labels = np.array([order[x] for x in raw])
    k = len(order)  # a cluster k-means left empty is no theme
    centres = np.array([vectors[labels == c].mean(axis=0) for c in range(k)])
    texts = [s.text for s in snippets]
    keywords = keywords_by_theme(texts, labels, k)
    stages = [s.stage for s in snippets]
    segs = [segment_of.get(s.feedback_id, "-1") for s in snippets]
    result_themes = []
    for c in range(k):
        members = labels == c
        idx = np.flatnonzero(members)
        sentiments = [snippets[i].sentiment for i in idx]
        closeness = vectors[idx] @ centres[c]
        quotes, seen = [], set()
        for i in idx[np.argsort(-closeness)]:
            key = snippets[i].text.lower()
            if key not in seen:
                seen.add(key)
                quotes.append(_quote(snippets[i]))
            if len(quotes) == 2:
                break
        compounds = [snippets[i] for i in idx]
        result_themes.append(Theme(
            theme=c, label=", ".join(keywords[c][:3]) or f"theme {c}", keywords=keywords[c],
            size=int(members.sum()), share=float(members.mean()),
            negative_share=sentiments.count("negative") / len(idx),
            positive_share=sentiments.count("positive") / len(idx),
            mean_sentiment=float(np.mean([_compound(s) for s in compounds])),
            stages=_concentration(stages, members),
            segments=[x for x in _concentration(segs, members) if x.value != "-1"],
            sources=dict(Counter(snippets[i].source for i in idx).most_common()),
            quotes=quotes))
    result = ThemesResult(
        snippets=n, k=k, themes=result_themes,
        assignments={s.feedback_id: int(l) for s, l in zip(snippets, labels)},
        typicality={s.feedback_id: float(v @ centres[l])
                    for s, v, l in zip(snippets, vectors, labels)},
        definitions={
            "theme": "a k-means cluster of snippet embeddings (all-MiniLM-L6-v2); k by silhouette"
                     " unless given",
            "keywords": "most distinctive words of the theme (c-TF-IDF)",
            "stages/segments": "where the theme is over-represented: share in the theme, share "
                               "overall, and their ratio (lift); shown when >= 15% of the theme",
            "quotes": "the two distinct snippets closest to the theme's centre (redacted)",
            "sentiment": "VADER with a support-language lexicon",
        })
    biggest_negative = max(result_themes, key=lambda t: t.size * t.negative_share)
    result.summary = (f"{n:,} snippets in {k} themes. The largest complaint is "
                      f"'{biggest_negative.label}' ({biggest_negative.size:,} snippets, "
                      f"{pct(biggest_negative.negative_share)} negative).")
    return result


def _compound(snippet: Snippet) -> float:
    return {"negative": -1.0, "positive": 1.0}.get(snippet.sentiment, 0.0)


def _quote(s: Snippet) -> dict:
    return {"feedback_id": s.feedback_id, "text": s.text, "source": s.source, "date": s.date,
            "stage": s.stage, "sentiment": s.sentiment}


def feedback_segments(con, seed: int = 0) -> dict[str, str]:
    """feedback id -> 'N: name' of its author's segment (the default segmentation)."""
    from analytics.segments import segments

    result = segments(con, seed=seed)
    names = {s.segment: f"{s.segment}: {s.name}" for s in result.segments}
    rows = con.execute("SELECT feedback_id, person_id FROM journey_feedback").fetchall()
    return {fid: names[result.assignments[p]] for fid, p in rows if p in result.assignments}
