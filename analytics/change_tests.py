"""The statistics of "what changed": one honest test per period, one correction for all of them.

A period's rate is compared with its baseline (the pooled periods around it) on the 2x2 table
(converted / not, this period / baseline) by Fisher's exact test whenever an expected cell is
small, so a week of 15 people is neither flagged on noise nor hidden by a normal
approximation; with every expected cell at 10 or more the pooled z-test, as exact there and a
thousand times quicker. Watching every
step and every frequent event week by week makes hundreds of tests, so the p-values are
corrected together with Benjamini-Hochberg: of the periods flagged, at most the chosen share
(the false discovery rate) are expected to be flukes.
"""

from __future__ import annotations

import math

# Fisher's exact test costs milliseconds on large tables, where the normal approximation is
# exact enough: with every expected cell at least this big, the pooled z-test is used.
EXACT_BELOW = 10


def period_p(converted: int, people: int, base_converted: int, base_people: int) -> float:
    """Two-sided p-value of this period against its baseline: Fisher's exact test when any
    expected cell is small (a week of 15 people, a rare event), else the pooled z-test."""
    total = people + base_people
    hits = converted + base_converted
    expected = min(people * hits, people * (total - hits), base_people * hits,
                   base_people * (total - hits)) / total
    if expected < EXACT_BELOW:
        if base_people >= 20 * people:
            # A baseline twenty times the period is as good as known: the exact binomial test
            # of the period's count against its rate (doubled tail), a hundred times quicker.
            from scipy.stats import binom

            rate = base_converted / base_people
            tail = min(binom.cdf(converted, people, rate), binom.sf(converted - 1, people, rate))
            return float(min(1.0, 2 * tail))
        return fisher_p(converted, people, base_converted, base_people)
    pooled = hits / total
    spread = (pooled * (1 - pooled) * (1 / people + 1 / base_people)) ** 0.5
    z = (converted / people - base_converted / base_people) / spread
    return math.erfc(abs(z) / math.sqrt(2))


def fisher_p(converted: int, people: int, base_converted: int, base_people: int) -> float:
    """Two-sided p-value of Fisher's exact test: this period against its baseline."""
    from scipy.stats import fisher_exact

    table = [[converted, people - converted],
             [base_converted, base_people - base_converted]]
    return float(fisher_exact(table, alternative="two-sided")[1])


def z_score(rate: float, baseline: float, people: int, base_people: int) -> float:
    """Two-proportion z of the period against the pooled baseline (shown, not tested)."""
    variance = baseline * (1 - baseline) * (1 / people + 1 / base_people)
    return (rate - baseline) / max(variance ** 0.5, 1e-9)


def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """Adjusted p-values (step-up, monotone): flag those at or under the false discovery rate."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        adjusted[i] = min(running, 1.0)
    return adjusted
