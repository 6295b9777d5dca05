"""Windows of change: every run of consecutive periods tested at once, the best one kept.

A three-week incident that moves a step from 65% to 48% with 80 people a week is not
conclusive in any one week once hundreds of weeks are tested, but it is beyond doubt over its
three weeks together. So each metric is tested over windows of several lengths (one to eight
weeks, one to fourteen days), each window pooled and set against the periods around it, and
the Benjamini-Hochberg correction covers every window tested. Of the flagged windows of a
metric that overlap, the most significant stands for them: its start and end are the change's.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Any

from analytics.change_tests import period_p, z_score

LENGTHS = {"week": (1, 2, 3, 4, 6, 8), "day": (1, 2, 3, 5, 7, 14)}


@dataclass
class WindowTest:
    series: Any  # anomalies.MetricSeries
    start: int  # index of the first period
    length: int
    people: int
    converted: int
    baseline: float
    p: float
    adjusted: float = 1.0

    @property
    def rate(self) -> float:
        return self.converted / self.people

    @property
    def stop(self) -> int:  # index after the last period
        return self.start + self.length


def _around(usable: list[int], first: int, last: int, periods: int) -> list[int]:
    """Usable periods on both sides of the window (half each) where the data go on after it,
    so a slow drift (a growing customer base) is its own baseline; else only before it."""
    below, above = bisect_left(usable, first), bisect_right(usable, last)
    half = periods // 2
    if len(usable) - above >= half and below >= half:
        return usable[below - half:below] + usable[above:above + half]
    return usable[max(0, below - periods):below]


def window_tests(series: Any, lengths: tuple[int, ...], baseline_periods: int,
                 min_people: int, suspect: set[int]) -> list[WindowTest]:
    """Each window of complete periods (each with `min_people`) against the usable periods
    around it, leaving out `suspect` ones (unusual on their own) from every baseline. Single
    periods also get their baseline, z and p written on them, for the chart and the table."""
    weeks = series.weeks
    ok = [w.complete and w.rate is not None and w.people >= min_people for w in weeks]
    usable = [j for j, good in enumerate(ok) if good and j not in suspect]
    out: list[WindowTest] = []
    for length in lengths:
        for i in range(len(weeks) - length + 1):
            if length == 1:
                weeks[i].baseline = weeks[i].z = weeks[i].p_value = None
            history = [weeks[j] for j in _around(usable, i, i + length - 1, baseline_periods)]
            if len(history) < 4:
                continue
            base_people = sum(x.people for x in history)
            base_converted = sum(x.converted for x in history)
            baseline = base_converted / base_people
            if length == 1 and weeks[i].rate is not None:
                weeks[i].baseline = baseline
                weeks[i].z = z_score(weeks[i].rate, baseline, weeks[i].people, base_people)
            if not all(ok[i:i + length]):
                continue
            people = sum(w.people for w in weeks[i:i + length])
            converted = sum(w.converted for w in weeks[i:i + length])
            p = period_p(converted, people, base_converted, base_people)
            if length == 1:
                weeks[i].p_value = p
            out.append(WindowTest(series, i, length, people, converted, baseline, p))
    return out


def best_windows(flagged: list[WindowTest]) -> list[WindowTest]:
    """Of overlapping flagged windows of one metric, the most significant (then the shorter)."""
    chosen: list[WindowTest] = []
    for t in sorted(flagged, key=lambda t: (t.p, t.length, t.start)):
        if not any(c.series is t.series and c.start < t.stop and t.start < c.stop
                   for c in chosen):
            chosen.append(t)
    return chosen
