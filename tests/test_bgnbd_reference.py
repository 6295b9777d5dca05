"""P(alive) against an independent BG/NBD implementation: the `lifetimes` package (Davidson-Pilon,
0.11.3), with its own summary of the transactions (frequency, recency, T) and its own fit.

The store holds purchases after the calibration window: the product is asked with `until` the
window's end, lifetimes is given the window's end as its observation period end. Both must find
the same four parameters and the same P(alive) for every customer."""

from __future__ import annotations

import warnings
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

with warnings.catch_warnings():
    # lifetimes sets pandas' mode.chained_assignment at import, an option pandas 3 deprecates
    # (and pandas 4 removes); otherwise 0.11.3 runs unchanged on numpy 2 and pandas 3.
    warnings.simplefilter("ignore")
    import lifetimes  # the test extra pins lifetimes==0.11.3

from analytics.store import EventStore, ingest_files
from tools.base import ToolContext
from tools.registry import call_tool

START = datetime(2024, 1, 1)
WINDOW_END = date(2024, 12, 29)  # 52 weeks in; purchases go on for 26 weeks more
LAST_WEEK = 78


def _purchases(seed: int = 3, people: int = 400) -> list[tuple[str, datetime]]:
    """A BG/NBD world: each buyer buys at a Gamma-distributed weekly rate and, after each repeat
    purchase, stops for good with a Beta-distributed chance; first purchases in the first half
    year, so every buyer is at least 26 weeks old at the window's end."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, datetime]] = []
    for person in range(people):
        rate = rng.gamma(0.8, 1 / 4.0)
        stop = rng.beta(0.8, 2.5)
        week = rng.uniform(0, 26)
        while True:
            rows.append((f"c{person:04d}", START + timedelta(weeks=float(week))))
            week += rng.exponential(1 / rate)
            if week > LAST_WEEK or rng.random() < stop:
                break
    return rows


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    rows = _purchases()
    home = tmp_path_factory.mktemp("bgnbd")
    path = home / "purchases.csv"
    # A visit now and then too: only the purchase event counts.
    lines = [f"{c},{t:%Y-%m-%dT%H:%M:%S}Z,purchase\n" for c, t in rows]
    lines += [f"{c},{t - timedelta(hours=1):%Y-%m-%dT%H:%M:%S}Z,visit\n" for c, t in rows[::5]]
    path.write_text("customer_id,timestamp,event\n" + "".join(lines))
    store = EventStore(home / "home")
    ingest_files(store, "events", [path])
    after = [t for _, t in rows if t.date() > WINDOW_END]
    assert after, "the store must hold purchases after the window"
    ours = call_tool(ToolContext(store), "p_alive", {
        "purchase_event": "purchase", "filters": {"until": WINDOW_END.isoformat()}})
    assert ours.ok, ours.content

    transactions = pd.DataFrame(rows, columns=["customer_id", "when"])
    summary = lifetimes.utils.summary_data_from_transaction_data(
        transactions, "customer_id", "when", observation_period_end=pd.Timestamp(WINDOW_END),
        freq="D")
    frequency, recency, age = (summary["frequency"], summary["recency"] / 7.0,
                               summary["T"] / 7.0)  # weeks, as ours
    theirs = lifetimes.BetaGeoFitter(penalizer_coef=0.0)
    theirs.fit(frequency, recency, age)
    alive = theirs.conditional_probability_alive(frequency, recency, age)
    return ours.result, theirs, dict(zip(summary.index, np.asarray(alive, dtype=float)))


def test_the_fit_finds_the_reference_parameters(fitted):
    ours, theirs, _ = fitted
    for name in ("r", "alpha", "a", "b"):
        assert ours.params[name] == pytest.approx(float(theirs.params_[name]), rel=1e-3), name


def test_p_alive_agrees_for_every_customer(fitted):
    ours, _, alive = fitted
    # The same customers: those who bought by the window's end.
    assert set(ours.scores) == set(alive)
    assert ours.customers == len(alive)
    worst = max(abs(ours.scores[c] - alive[c]) for c in alive)
    assert worst < 1e-4
    # Not a trivial agreement: the customers differ a good deal.
    values = np.array(list(alive.values()))
    assert values.min() < 0.2 and values.max() == 1.0
