"""Behavioural segments: clusters of people who act alike, each described in plain words.

Features come from `features.person_features` (SQL). Counts are log-scaled, everything is
standardised, and k-means groups people; with no k given, k is the one with the best silhouette
score (computed on a fixed random sample so it stays fast). The same seed gives the same
segments. Each segment is described by its standardised differences from everyone: the features
where its average sits furthest from the overall average, in units of the overall spread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

from analytics.catalog import Catalog, load_catalog
from analytics.errors import ArgumentError, JourneyError
from analytics.features import model_matrix, person_features
from analytics.filters import Filters, check_filters
from analytics.paths import default_conversion_event
from analytics.results import AnalyticResult, pct
from analytics.store.connection import Connection

# (description, done, total) -> None; total 0 when unknown. A face shows it, or nothing does.
Progress = Callable[[str, int, int], None]

SILHOUETTE_SAMPLE = 4000
# Two segments almost always just split "went far" from "did not"; a marketer needs more.
MIN_K = 3


@dataclass
class FeatureDifference:
    feature: str
    segment_mean: float
    overall_mean: float
    standardised_difference: float


@dataclass
class Segment:
    segment: int
    name: str
    size: int
    share: float
    conversion_rate: float | None
    churn_rate: float | None  # among members with a known churn flag
    customers_with_churn_flag: int
    distinguishing: list[FeatureDifference] = field(default_factory=list)
    top_last_events: dict[str, float] = field(default_factory=dict)


@dataclass
class SegmentsResult(AnalyticResult):
    k: int = 0
    silhouette_by_k: dict[int, float] = field(default_factory=dict)
    seed: int = 0
    population: int = 0
    conversion_event: str | None = None
    segments: list[Segment] = field(default_factory=list)
    assignments: dict[str, int] = field(default_factory=dict, repr=False)

    internal = ("assignments",)  # one entry per person: too big for an answer
    kind = "segments"


    def figure(self):
        import plotly.graph_objects as go

        features = sorted({d.feature for s in self.segments for d in s.distinguishing[:4]})
        z = [[next((d.standardised_difference for d in s.distinguishing if d.feature == f), 0.0)
              for f in features] for s in self.segments]
        fig = go.Figure(go.Heatmap(z=z, x=features, y=[f"{s.segment}: {s.name}"
                                                        for s in self.segments],
                                   colorscale="RdBu", zmid=0,
                                   colorbar={"title": "std. diff."}))
        fig.update_layout(title="Segment profiles (difference from everyone, in std units)")
        return fig


def _no_progress(description: str, done: int, total: int) -> None:
    pass


def _pretty_event(name: str) -> str:
    for suffix in ("_view", "_started", "_completed", "_created", "_visit", "_click"):
        if name.endswith(suffix):
            return name[: -len(suffix)].replace("_", " ")
    return name.replace("_", " ")


def _name(members, everyone, conversion_rate, overall_conversion, churn_rate, overall_churn
          ) -> str:
    parts: list[str] = []
    device_cols = [c for c in members.columns if c.startswith("device_")]
    for col in device_cols:
        if members[col].mean() >= 0.7 and everyone[col].mean() < 0.7:
            parts.append(col.removeprefix("device_"))
    channel_cols = [c for c in members.columns if c.startswith("channel_")]
    over = [(members[c].mean() / max(everyone[c].mean(), 1e-9), c) for c in channel_cols
            if members[c].mean() >= 0.35]
    if over:
        ratio, col = max(over)
        if ratio >= 1.4:
            parts.append(col.removeprefix("channel_").replace("_", "-"))
    if churn_rate is not None and overall_churn and churn_rate >= 1.4 * overall_churn:
        parts.append("high churn")
    if "n_payment_failed" in members and members["n_payment_failed"].mean() >= max(
            3 * everyone["n_payment_failed"].mean(), 0.3):
        parts.append("billing failures")
    if conversion_rate is not None and overall_conversion:
        if conversion_rate <= 0.5 * overall_conversion:
            last = members["last_event"].value_counts().index[0]
            parts.append(f"stalls at {_pretty_event(last)}")
        elif conversion_rate >= 1.5 * overall_conversion:
            parts.append("converts")
    if members["revenue"].mean() >= 2 * max(everyone["revenue"].mean(), 1e-9) and \
            members["revenue"].mean() > 0:
        parts.append("high revenue")
    return ", ".join(parts) if parts else "typical"


def segments(con: Connection, *, k: int | None = None, seed: int = 0,
             customers_only: bool = False, conversion_event: str | None = None,
             max_k: int = 8, filters: Filters = Filters(),
             catalog: Catalog | None = None,
             progress: Progress | None = None) -> SegmentsResult:
    report = progress or _no_progress
    catalog = catalog or load_catalog(con)
    check_filters(filters, catalog)
    conversion_event = conversion_event or default_conversion_event(con)
    if conversion_event:
        catalog.check_event(conversion_event)
    report("Reading what each person did", 0, 0)
    table = person_features(con, filters=filters, customers_only=customers_only)
    frame = table.frame
    n = len(frame)
    if n < 10:
        raise JourneyError(f"Only {n} people in scope: too few to find segments")
    if k is not None and not 2 <= k <= min(20, n - 1):
        raise ArgumentError("k", "must be between 2 and 20 (and below the number of people)")
    values, columns = model_matrix(table)
    scaled = StandardScaler().fit_transform(values)
    scores: dict[int, float] = {}
    if k is None:
        rng = np.random.default_rng(seed)
        sample = rng.choice(n, size=min(n, SILHOUETTE_SAMPLE), replace=False)
        candidates = range(MIN_K, min(max_k, n - 1) + 1)
        for tried, candidate in enumerate(candidates):
            report("Choosing the number of segments", tried, len(candidates))
            labels = KMeans(candidate, n_init=3, random_state=seed).fit_predict(scaled[sample])
            if len(set(labels)) > 1:
                scores[candidate] = float(silhouette_score(scaled[sample], labels))
        report("Choosing the number of segments", len(candidates), len(candidates))
        k = max(scores, key=lambda c: (round(scores[c], 3), -c))
    report(f"Grouping {n:,} people into {k} segments", 0, 0)
    model = KMeans(k, n_init=4, random_state=seed).fit(scaled)
    labels = model.labels_
    # Number segments by size so that the same data always gives the same numbering.
    order = {old: new for new, (old, _) in enumerate(
        sorted(zip(*np.unique(labels, return_counts=True)), key=lambda t: (-t[1], t[0])))}
    labels = np.array([order[x] for x in labels])
    frame = frame.assign(segment=labels)
    converted = set()
    if conversion_event:
        converted = {r[0] for r in con.execute(
            "SELECT DISTINCT person_id FROM journey_events WHERE event_name = ?",
            [conversion_event]).fetchall()}
    frame["converted"] = frame.index.isin(converted)
    overall_conversion = frame["converted"].mean()
    known_churn = frame["churned"].notna()
    overall_churn = frame.loc[known_churn, "churned"].astype(float).mean() if known_churn.any() \
        else None
    raw = frame[columns]
    means, stds = raw.mean(), raw.std(ddof=0).replace(0, np.nan)
    result_segments = []
    for seg in range(k):
        report("Describing the segments", seg, k)
        members = frame[frame["segment"] == seg]
        churn_known = members["churned"].notna()
        churn_rate = (float(members.loc[churn_known, "churned"].astype(float).mean())
                      if churn_known.any() else None)
        conversion_rate = float(members["converted"].mean())
        diffs = ((members[columns].mean() - means) / stds).dropna()
        top = diffs.reindex(diffs.abs().sort_values(ascending=False).index)[:8]
        result_segments.append(Segment(
            segment=seg,
            name=_name(members, frame, conversion_rate, overall_conversion, churn_rate,
                       overall_churn),
            size=len(members), share=len(members) / n, conversion_rate=conversion_rate,
            churn_rate=churn_rate, customers_with_churn_flag=int(churn_known.sum()),
            distinguishing=[FeatureDifference(f, float(members[f].mean()), float(means[f]),
                                              float(v)) for f, v in top.items()],
            top_last_events={e: float(s) for e, s in members["last_event"].value_counts(
                normalize=True).head(3).items()}))
    report("Describing the segments", k, k)
    seen: dict[str, int] = {}
    for s in result_segments:  # make names unique by adding the strongest feature
        seen[s.name] = seen.get(s.name, 0) + 1
    for s in result_segments:
        if seen[s.name] > 1 and s.distinguishing:
            d = s.distinguishing[0]
            s.name += f" ({'more' if d.standardised_difference > 0 else 'less'} {d.feature})"
    result = SegmentsResult(
        k=k, silhouette_by_k=scores, seed=seed, population=n, conversion_event=conversion_event,
        segments=result_segments, assignments={p: int(s) for p, s in frame["segment"].items()},
        filters=filters.describe(), definitions={
            "features": "per person, before the end of the data: event counts per stage and per "
                        "event, active days, recency, tenure, furthest stage, revenue, support "
                        "tickets, first device and first channel (counts log-scaled, then all "
                        "standardised)",
            "k": f"given, or the k in {MIN_K}..{max_k} with the best silhouette score on a fixed "
                 "sample",
            "standardised_difference": "(segment mean - everyone's mean) / everyone's std",
            "conversion_rate": f"members who did {conversion_event} / members",
            "churn_rate": "churned customers / members with a churn flag (customers table)",
        })
    largest = max(result_segments, key=lambda s: s.size)
    result.summary = (f"{n:,} people fall into {k} segments. The largest, '{largest.name}', "
                      f"holds {pct(largest.share)}.")
    churny = [(s.churn_rate, s) for s in result_segments if s.churn_rate is not None
              and s.customers_with_churn_flag >= 20]
    if churny:
        churn_rate, worst = max(churny, key=lambda c: c[0])
        result.summary += (f" Highest churn: '{worst.name}' ({pct(churn_rate)} of "
                           f"{worst.customers_with_churn_flag:,} customers).")
    return result


def segment_filter(con: Connection, spec: str, filters: Filters = Filters(),
                   *, seed: int = 0, customers_only: bool = False,
                   progress: Progress | None = None) -> Filters:
    """`filters` narrowed to one segment of the default segmentation (number or name part).

    The segmentation is the one `journey segments` shows with the same seed and population, so
    "segment 2" means the same people in every command.
    """
    from dataclasses import replace

    result = segments(con, seed=seed, customers_only=customers_only, filters=filters,
                      progress=progress)
    names = {s.segment: s.name for s in result.segments}
    wanted = [k for k, name in names.items()
              if spec.strip() == str(k) or spec.strip().lower() in name.lower()]
    if len(wanted) != 1:
        from analytics.errors import UnknownNameError

        raise UnknownNameError("segment", spec, [f"{k}: {n}" for k, n in names.items()])
    members = tuple(sorted(p for p, s in result.assignments.items() if s == wanted[0]))
    return replace(filters, segment_people=members, segment=f"{wanted[0]}: {names[wanted[0]]}")
