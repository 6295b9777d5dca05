"""One way in: every tool has a command, an MCP listing and documented options, and the
command's --json is the tool's own result, byte for byte (datasette-style completeness tests:
adding a tool or an option without its face or its documentation fails here)."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from tests.test_cli import journey
from tools.base import ToolContext, to_json
from tools.registry import BY_NAME, READ_TOOLS, TOOLS, call_tool
from ui.cli import app
from ui.cli_reference import README, current, reference
from ui.cli_tools import CLI, params_of
from ui.mcp_server import offered

# One representative call per tool: (command-line words after the command, tool arguments).
EXAMPLES: dict[str, tuple[list[str], dict]] = {
    "describe_data": ([], {}),
    "funnel": (["pricing_view", "signup", "--by", "device", "--window", "14d",
                "--device", "mobile", "--device", "desktop"],
               {"steps": ["pricing_view", "signup"], "by": "device", "window_days": 14,
                "filters": {"device": ["mobile", "desktop"]}}),
    "journey_map": (["--channel", "paid_search"], {"filters": {"channel": "paid_search"}}),
    "paths": (["--top", "4", "--from", "pricing_view"], {"top": 4, "from_event": "pricing_view"}),
    "transitions": (["--collapse-repeats"], {"collapse_repeats": True}),
    "match": (["checkout_started ->[^payment_error]*-> subscription_started", "--conversion",
               "invoice_paid"],
              {"pattern": "checkout_started ->[^payment_error]*-> subscription_started",
               "conversion_event": "invoice_paid"}),
    "next_steps": (["pricing_view", "signup"], {"after": ["pricing_view", "signup"]}),
    "moments": (["--outcome", "subscription_cancelled", "--among", "subscription_started",
                 "--anchor", "signup", "--within", "7d"],
                {"outcome": "subscription_cancelled", "among": "subscription_started",
                 "anchor": "signup", "within_days": 7}),
    "segments": (["--customers-only"], {"customers_only": True}),
    "churn": (["--top", "5"], {"top": 5}),
    "p_alive": (["invoice_paid", "--top", "5"], {"purchase_event": "invoice_paid", "top": 5}),
    "next_best_action": (["--avoid", "subscription_cancelled", "--min-support", "10"],
                         {"avoid": "subscription_cancelled", "min_support": 10}),
    "retention": (["--period", "week", "--where", "plan=starter"],
                  {"period": "week", "filters": {"where": {"plan": "starter"}}}),
    "sessions": (["--by", "device", "--gap-minutes", "45", "--path-steps", "3"],
                 {"by": "device", "gap_minutes": 45, "path_steps": 3}),
    "event_counts": (["subscription_cancelled", "--by", "plan", "--people-listed", "5"],
                     {"event": "subscription_cancelled", "by": "plan", "people_listed": 5}),
    "time_to_value": (["subscription_started", "--within", "14d", "--by", "plan"],
                      {"to_event": "subscription_started", "within_days": 14, "by": "plan"}),
    "attribution": (["--model", "linear"], {"model": "linear"}),
    "anomalies": ([], {}),
    "feedback_search": (["too expensive", "-k", "3", "--source", "survey"],
                        {"query": "too expensive", "k": 3, "source": "survey"}),
    "themes": ([], {}),
    "friction": (["pricing_view", "--device", "mobile"],
                 {"step": "pricing_view", "filters": {"device": ["mobile"]}}),
    "diagnose": (["@metrics"], {"metrics_text": "@metrics"}),
    "plan": (["--quarter", "2027-Q1"], {"quarter": "2027-Q1"}),
    "journey_model": ([], {}),
    "set_journey_model": (["funnel", "pricing_view", "signup", "subscription_started"],
                          {"part": "funnel",
                           "events": ["pricing_view", "signup", "subscription_started"]}),
    "ingest": (["events", "@events"], {"kind": "events", "paths": ["@events"]}),
    "forget": (["@customer", "--yes"], {"customer_id": "@customer"}),
}
METRICS = "Awareness: 12k visitors/month\nTrials: 300/month, 30% go on to a call\nCustomers: 60"


def test_every_tool_has_an_example_a_command_and_an_mcp_listing():
    assert set(EXAMPLES) == set(BY_NAME) == set(CLI)
    for spec in TOOLS:
        group = app
        for word in CLI[spec.name].words:
            group = group.commands[word]  # type: ignore[attr-defined]
        assert group.help == spec.description
    assert [t.name for t in offered(allow_writes=False)] == [t.name for t in READ_TOOLS]
    assert [t.name for t in offered(allow_writes=True)] == [t.name for t in TOOLS]
    assert {"next_best_action", "p_alive", "journey_map"} <= {t.name for t in READ_TOOLS}
    assert {t.name for t in TOOLS if t.writes} == {"ingest", "forget", "set_journey_model"}


@pytest.mark.parametrize("name", list(BY_NAME))
def test_every_option_is_in_help_and_in_the_readme(name):
    words = CLI[name].words
    shown = CliRunner().invoke(app, [*words, "--help"], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    readme = README.read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines()
               if line.startswith(f"| `journey {' '.join(words)}` |"))
    for p in params_of(BY_NAME[name]):
        assert p.shown(CLI[name]) in shown.output, (name, p.spelling)
        if p.path[0] != "filters":
            assert p.shown(CLI[name]) in row, (name, p.spelling)
        if p.info.description and not p.positional:
            assert p.info.description.split(" (")[0][:40] in " ".join(shown.output.split())


def test_the_readme_reference_is_the_generated_one():
    assert current(README.read_text(encoding="utf-8")) == reference(), \
        "README.md is out of date: run `python -m ui.cli_reference --write`"


def _fill(value, files):
    if isinstance(value, str) and value.startswith("@"):
        return files[value[1:]]
    if isinstance(value, list):
        return [_fill(v, files) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, files) for k, v in value.items()}
    return value


@pytest.mark.slow
@pytest.mark.parametrize("name", [t.name for t in TOOLS])
def test_cli_json_is_the_tool_result_byte_for_byte(name, demo_store, tmp_path_factory):
    base = tmp_path_factory.mktemp(name)
    with demo_store.reader() as con:
        customer = con.execute("SELECT min(customer_id) FROM customers").fetchone()[0]
    files = {"metrics": str(base / "metrics.txt"), "events": str(base / "events.csv"),
             "customer": customer}
    (base / "metrics.txt").write_text(METRICS)
    (base / "events.csv").write_text("user_id,timestamp,event\nZ1,2026-06-01T10:00:00Z,signup\n")
    cli_args, tool_args = EXAMPLES[name]
    stores = []
    for side in ("cli", "tool"):
        if BY_NAME[name].writes:  # each side writes to its own copy of the demo store
            home = base / side
            shutil.copytree(demo_store.home, home)
        else:
            home = demo_store.home
        stores.append(home)
    if name == "diagnose":
        cli_args = [files["metrics"]]
        tool_args = {"metrics_text": METRICS}
    ran = journey(*CLI[name].words, *_fill(cli_args, files), "--json", home=stores[0])
    assert ran.returncode == 0, ran.stderr
    from analytics.store import EventStore

    result = call_tool(ToolContext(EventStore(stores[1])), name, _fill(tool_args, files))
    assert result.ok, result.content
    expected = to_json(result.data())
    if BY_NAME[name].writes:
        expected = expected.replace(str(stores[1]), str(stores[0]))
    assert ran.stdout == expected


def test_defaults_live_in_the_argument_model_only(demo_store):
    """An option not typed on the command line is not sent: the tool's default applies."""
    from ui.cli_tools import arguments_from

    spec = BY_NAME["paths"]
    command = app.commands["paths"]
    with command.make_context("paths", ["--top", "3"]) as ctx:
        # Typed text goes to the argument model as typed: it converts and validates.
        assert arguments_from(spec, ctx.params, ctx) == {"top": "3"}
    assert spec.args().collapse_repeats is True and spec.args().top == 10


def test_errors_name_the_field_and_each_face_spells_it(demo_store):
    from ui.cli_tools import spell_error
    from ui.web import problem

    ctx = ToolContext(demo_store)
    cases = [({"steps": ["pricing_view"]}, "steps", "STEPS"),
             ({"steps": ["pricing_view", "signup"], "order": "sideways"}, "order", "--order"),
             ({"steps": ["pricing_view", "signup"], "window_days": "soon"}, "window_days",
              "--window"),
             ({"steps": ["pricing_view", "signup"], "filters": {"since": "2026-02-30"}},
              "filters.since", "--since")]
    for arguments, field, flag in cases:
        result = call_tool(ctx, "funnel", arguments)
        assert not result.ok and result.error.field == field, result.content
        assert "--" not in str(result.error)  # the analytics and tools name no flag
        assert spell_error(BY_NAME["funnel"], result).startswith(f"{flag}: ")
    web = call_tool(ctx, "journey_map", {"filters": {"since": "2026-02-30"}})
    assert problem(web).startswith("From: ")
