"""Every analytic is reachable from the command line with --json (and its chart as HTML)."""

from __future__ import annotations

import json
import re

import pytest

from tests.test_cli import journey


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("cli") / "h"
    result = journey("demo-data", "--customers", "3000", "--seed", "3", "--json", home=home)
    assert result.returncode == 0, result.stderr
    return home


@pytest.mark.parametrize("args, kind", [
    (["funnel", "pricing_view", "signup", "--by", "device", "--window", "14d"], "funnel"),
    (["paths", "--top", "5", "--collapse-repeats"], "paths"),
    (["transitions"], "transitions"),
    (["next", "pricing_view"], "next_steps"),
    (["moments", "--outcome", "subscription_started"], "moments"),
    (["retention", "--period", "month"], "retention"),
    (["attribution", "--conversion", "subscription_started", "--model", "linear"], "attribution"),
    (["anomalies"], "anomalies"),
    (["segments", "--customers-only", "--k", "3"], "segments"),
    (["churn"], "churn"),
    (["p-alive", "invoice_paid"], "p_alive"),
    (["map", "--device", "mobile"], "journey_map"),
    (["match", "checkout_started ->[^payment_error]*-> subscription_started"], "match"),
    (["paths", "--before", "subscription_started", "--within", "1d", "--max-steps", "3"],
     "paths"),
    (["paths", "--funnel", "plan_selected,checkout_started", "--dropped-at", "2"], "paths"),
    (["paths", "--sessions", "--from", "pricing_view", "--within", "30m"], "paths"),
    (["next-best-action", "--avoid", "subscription_cancelled", "--min-support", "10"],
     "next_best_action"),
])
def test_json_output(home, args, kind):
    result = journey(*args, "--json", home=home)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["kind"] == kind
    assert data["summary"] and data["definitions"]


def test_filters_and_chart(home, tmp_path):
    chart = tmp_path / "funnel.html"
    result = journey("funnel", "landing_view", "pricing_view", "--device", "mobile",
                     "--where", "plan=trial", "--since", "2026-02-01", "--until", "2026-06-30",
                     "--chart", str(chart), "--json", home=home)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["filters"]["device"] == ["mobile"] and data["filters"]["plan"] == "trial"
    html = chart.read_text()
    # plotly.js is inlined: the page loads no script from anywhere.
    assert "Plotly.newPlot" in html and not re.search(r"<script[^>]*\bsrc=", html)


def test_wrong_names_get_suggestions(home):
    result = journey("funnel", "pricing_view", "sigup", home=home)
    assert result.returncode == 2 and "signup" in result.stderr
    result = journey("funnel", "pricing_view", "signup", "--by", "devise", home=home)
    assert result.returncode == 2 and "device" in result.stderr
    result = journey("funnel", "pricing_view", "signup", "--since", "yesterday", home=home)
    assert result.returncode == 2 and "YYYY-MM-DD" in result.stderr


def test_segment_filter_narrows_every_analytic(home):
    everyone = json.loads(journey("funnel", "landing_view", "pricing_view", "--json",
                                  home=home).stdout)
    result = journey("funnel", "landing_view", "pricing_view", "--segment", "0", "--json",
                     home=home)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["filters"]["segment"].startswith("0: ")
    assert 0 < data["steps"][0]["customers"] < everyone["steps"][0]["customers"]
    wrong = journey("funnel", "landing_view", "pricing_view", "--segment", "99", home=home)
    assert wrong.returncode == 2 and "Unknown segment" in wrong.stderr


@pytest.mark.parametrize("args", [
    ["match", "checkout_started -> subscription_started"],
    ["paths", "--funnel", "pricing_view,signup", "--dropped-at", "2"],
])
def test_every_chart_draws(home, tmp_path, args):
    chart = tmp_path / "chart.html"
    result = journey(*args, "--chart", str(chart), home=home)
    assert result.returncode == 0, result.stderr
    assert "plotly" in chart.read_text()
