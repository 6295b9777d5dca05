"""The `journey` command as a user runs it: a real process, exit codes, stdout and stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

JOURNEY = [sys.executable, "-c", "from ui.cli import run; run()"]
REPO = Path(__file__).resolve().parents[1]


def journey(*args: str, home: Path | None = None, cwd: Path | None = None,
            env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "JOURNEY_MODEL")}
    full_env.update({"COLUMNS": "200", **(env or {})})
    full_env.pop("JOURNEY_HOME", None)
    if env and "JOURNEY_HOME" in env:
        full_env["JOURNEY_HOME"] = env["JOURNEY_HOME"]
    prefix = ["--home", str(home)] if home else []
    return subprocess.run(JOURNEY + prefix + list(args), capture_output=True, text=True,
                          cwd=cwd or REPO, env=full_env, timeout=120, stdin=subprocess.DEVNULL)


def test_help_is_written_for_a_marketer():
    top = journey("--help")
    assert top.returncode == 0
    for command in ("ingest", "demo-data", "status", "stages", "run"):
        assert command in top.stdout
    assert "drop off" in top.stdout
    for command in (["ingest"], ["demo-data"], ["status"], ["stages", "set"], ["stages", "add"]):
        result = journey(*command, "--help")
        assert result.returncode == 0, result.stderr
        assert "Usage" in result.stdout


def test_ingest_then_status_json(tmp_path):
    events = tmp_path / "events.csv"
    events.write_text("user_id,event_time,event_name,channel\n"
                      "u1,2024-03-01T10:00:00Z,pricing_view,email\n"
                      "u2,2024-03-02T10:00:00Z,signup,referral\n")
    loaded = journey("ingest", "events", str(events), "--json", home=tmp_path / "h")
    assert loaded.returncode == 0, loaded.stderr
    summary = json.loads(loaded.stdout)
    assert (summary["rows_loaded"], summary["rows_skipped"]) == (2, 0)
    status = json.loads(journey("status", "--json", home=tmp_path / "h").stdout)
    assert (status["events"], status["people"]) == (2, 2)
    assert status["first_event"].startswith("2024-03-01T10:00:00")
    assert [e["event_name"] for e in status["event_names"]] == ["pricing_view", "signup"]
    assert status["channels"] == ["email", "referral"]


def test_home_from_environment_and_default_folder(tmp_path):
    events = tmp_path / "e.csv"
    events.write_text("user_id,timestamp,event\nu1,2024-01-01,a\n")
    result = journey("ingest", "events", str(events), env={"JOURNEY_HOME": str(tmp_path / "env")})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "env" / "journey.duckdb").exists()
    result = journey("ingest", "events", str(events), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / ".journey" / "journey.duckdb").exists()


def test_bad_input_exits_non_zero_with_the_location(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,timestamp,event\nu1,soon,a\n")
    result = journey("ingest", "events", str(bad), home=tmp_path / "h")
    assert result.returncode == 2
    assert "bad.csv, row 1 (line 2), column 'timestamp'" in result.stderr.replace("\n", "")
    assert "Traceback" not in result.stderr
    skipped = journey("ingest", "events", str(bad), "--on-error", "skip", home=tmp_path / "h")
    assert skipped.returncode == 2  # its one row was rejected: nothing loaded is a failure
    assert (tmp_path / "h" / "rejects" / "bad.csv.rejected.csv").exists()


def test_usage_errors_are_clear(tmp_path):
    result = journey("ingest", "orders", "x.csv", home=tmp_path)
    assert result.returncode == 2
    assert "orders" in result.stderr and "events" in result.stderr
    result = journey("status", home=tmp_path / "empty")
    assert result.returncode == 0 and "No data yet" in result.stdout


def test_demo_data_and_stage_editing(tmp_path):
    home = tmp_path / "h"
    result = journey("demo-data", "--customers", "300", "--seed", "5", "--json", home=home)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["events_loaded"] > 2000 and summary["customers_loaded"] > 10
    assert Path(summary["manifest"]).exists()
    mixed = journey("demo-data", "--customers", "400", home=home)
    assert mixed.returncode == 2 and "--force" in mixed.stderr
    moved = journey("stages", "set", "case_study_view", "evaluation", home=home)
    assert moved.returncode == 0, moved.stderr
    typo = journey("stages", "set", "pricing_veiw", "consideration", home=home)
    assert typo.returncode == 2 and "pricing_view" in typo.stderr
    added = journey("stages", "add", "advocacy", "--after", "retention", home=home)
    assert "retention -> advocacy" in added.stdout
    shown = json.loads(journey("stages", "show", "--json", home=home).stdout)
    assert shown["stages"][-1] == "advocacy"
    assignments = {e["event_name"]: (e["stage"], e["origin"]) for e in shown["events"]}
    assert assignments["case_study_view"] == ("evaluation", "user")
    assert assignments["pricing_view"] == ("consideration", "rule")
    forced = journey("demo-data", "--customers", "400", "--force", "--json", home=home)
    assert forced.returncode == 0, forced.stderr


def test_version():
    from importlib.metadata import version

    done = journey("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"journey {version('journey-agent')}"


def test_a_load_that_rejects_every_row_fails(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,event_name,timestamp\nu1,signup,not-a-date\n"
                   "u2,signup,1970-01-01\n")
    done = journey("ingest", "events", str(bad), "--on-error", "skip", home=tmp_path / "h")
    assert done.returncode == 2
    assert "every row was rejected" in done.stderr
    assert "before 1990-01-01" in done.stdout  # the reasons are still shown
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("customer_id,event_name,timestamp\nu1,signup,2026-01-01T10:00:00\n"
                     "u2,signup,1970-01-01\n")
    done = journey("ingest", "events", str(mixed), "--on-error", "skip", home=tmp_path / "h")
    assert done.returncode == 0, done.stderr


def test_a_command_run_in_process_leaves_no_reader_holding_the_store(tmp_path):
    """A read-only command keeps its reader open only in its own one-shot process (ui.cli.run).
    Run inside a long-lived process (CliRunner here; a test run, an app embedding the CLI), the
    reader is closed: left open, it held the store's lock against every later writer, and an
    MCP server then could not erase a customer for 30 s (the CI failure after the engine tests)."""
    from click.testing import CliRunner

    from analytics.store import EventStore, ingest_files
    from ui.cli import app

    events = tmp_path / "e.csv"
    events.write_text("user_id,timestamp,event\nu1,2024-01-01,signup\nu1,2024-01-02,buy\n")
    store = EventStore(tmp_path / "home")
    ingest_files(store, "events", [events])
    result = CliRunner().invoke(app, ["--home", str(store.home), "funnel", "signup", "buy",
                                      "--json"])
    assert result.exit_code == 0, result.output
    write = (f"import duckdb; duckdb.connect({str(store.path)!r}).execute('CHECKPOINT'); "
             "print('wrote')")
    other = subprocess.run([sys.executable, "-c", write], capture_output=True, text=True,
                           timeout=60)
    assert other.returncode == 0 and "wrote" in other.stdout, other.stderr


def test_the_entry_point_called_twice_in_one_process_judges_each_run_alone(tmp_path):
    """ui.cli.run() after a read-only command in the same process: a failed load must end with
    SystemExit(2), not os._exit from the earlier command's flag (that ended the whole test run
    with exit code 2 and no summary)."""
    events = tmp_path / "e.csv"
    events.write_text("user_id,timestamp,event\nu1,2024-01-01,signup\nu1,2024-01-02,buy\n")
    script = f"""
import sys
from click.testing import CliRunner
from analytics.store import EventStore, ingest_files
from ui import cli
store = EventStore({str(tmp_path / "home")!r})
ingest_files(store, "events", [{str(events)!r}])
home = str(store.home)
assert CliRunner().invoke(cli.app, ["--home", home, "funnel", "signup", "buy"]).exit_code == 0
sys.argv = ["journey", "--home", home, "ingest", "events", {str(tmp_path / "nope.csv")!r}]
try:
    cli.run()
except SystemExit as exc:
    print("still here, exit", exc.code)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=REPO, timeout=120, stdin=subprocess.DEVNULL)
    assert "still here, exit 2" in done.stdout, done.stdout + done.stderr
