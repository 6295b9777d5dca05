"""The command line under stress: errors as JSON for scripts, Ctrl-C at any moment, progress of
long commands on a terminal (and never inside JSON)."""

from __future__ import annotations

import io
import json
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import click
import pytest

from tests.test_cli import JOURNEY, REPO, journey


def _env() -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "JOURNEY_MODEL", "JOURNEY_HOME")}
    env["COLUMNS"] = "200"
    return env


def _error(result: subprocess.CompletedProcess) -> dict:
    """The one JSON object an error under --json prints, and nothing else anywhere."""
    assert result.stderr == "", result.stderr
    return json.loads(result.stdout)["error"]


# --- --json errors --------------------------------------------------------------------------

def test_errors_under_json_are_one_object_with_the_same_exit_code(demo_store):
    home = demo_store.home
    unknown = journey("funnel", "nope", "signup", "--json", home=home)
    assert unknown.returncode == 2
    error = _error(unknown)
    assert error["kind"] == "UnknownNameError" and error["field"] == "steps"
    assert "nope" in error["message"] and error["name"] == "nope"
    assert set(error) >= {"message", "kind", "field", "hint"}

    missing = journey("friction", "--json", home=home)  # STEP not given: click's usage error
    assert missing.returncode == 2
    error = _error(missing)
    assert (error["kind"], error["field"]) == ("usage", "step")
    assert "STEP" in error["message"] and "--help" in error["hint"]
    # The funnel's steps default to the journey model's main journey.
    default = journey("funnel", "--json", home=home)
    assert default.returncode == 0 and json.loads(default.stdout)["steps"][0]["events"] == [
        "landing_view"]

    bad_value = journey("funnel", "pricing_view", "signup", "--window", "0", "--json", home=home)
    assert bad_value.returncode == 2
    error = _error(bad_value)
    assert (error["kind"], error["field"], error["option"]) == (
        "ArgumentError", "window_days", "--window")

    no_such_option = journey("funnel", "pricing_view", "signup", "--bogus", "--json", home=home)
    assert no_such_option.returncode == 2
    assert _error(no_such_option)["option"] == "--bogus"
    # The top level has no --json of its own: said as JSON all the same.
    assert _error(journey("--json", "status", home=home))["kind"] == "usage"

    no_store = journey("funnel", "a", "b", "--json", home=home.parent / "nothing-here")
    assert no_store.returncode == 2
    assert _error(no_store)["kind"] == "store"


def test_without_json_errors_stay_text(demo_store):
    unknown = journey("funnel", "nope", "signup", home=demo_store.home)
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert unknown.stderr.startswith("Error: Unknown event 'nope'")
    bad = journey("funnel", "pricing_view", "signup", "--window", "x", home=demo_store.home)
    assert bad.returncode == 2 and bad.stderr.startswith("Error: --window:")
    usage = journey("funnel", "pricing_view", "--bogus", home=demo_store.home)
    assert usage.returncode == 2 and "No such option" in usage.stderr
    assert "Usage: journey funnel" in usage.stderr and usage.stdout == ""


def _commands(group: click.Group, words: tuple[str, ...] = ()):
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        if isinstance(command, click.Group):
            yield from _commands(command, words + (name,))
        else:
            yield words + (name,), command


# Servers print a line to say where they listen and then serve; they have no result to print.
SERVERS = {("mcp",), ("ui",), ("run",)}


def test_every_command_that_prints_a_result_takes_json():
    from ui.cli import app

    lacking = [" ".join(words) for words, command in _commands(app)
               if words not in SERVERS
               and not any(isinstance(p, click.Option) and "--json" in p.opts
                           for p in command.params)]
    assert not lacking, lacking


def test_admin_commands_print_json(tmp_path):
    home = tmp_path / "h"
    events = tmp_path / "e.csv"
    events.write_text("user_id,timestamp,event\nu1,2024-01-01,pricing_view\n"
                      "u2,2024-01-02,signup\n")
    assert journey("ingest", "events", str(events), "--json", home=home).returncode == 0

    def run_json(*args: str, stdin: str | None = None) -> dict:
        done = subprocess.run(JOURNEY + ["--home", str(home), *args, "--json"],
                              capture_output=True, text=True, cwd=REPO, env=_env(),
                              input=stdin, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    assert run_json("stages", "set", "pricing_view", "evaluation") == {
        "event_name": "pricing_view", "stage": "evaluation", "origin": "user"}
    assert run_json("stages", "add", "advocacy")["stages"][-1] == "advocacy"
    exported = run_json("export", "events", str(tmp_path / "out.csv"))
    assert (exported["rows"], exported["table"]) == (2, "events")
    assert run_json("users", "add", "ann", "--role", "admin", "--password-stdin",
                    stdin="a long enough password\n") == {
        "user": "ann", "role": "admin", "added": True}
    assert run_json("users", "remove", "ann") == {"user": "ann", "removed": True}
    token = run_json("tokens", "add", "claude", "--role", "viewer")
    assert token["name"] == "claude" and len(token["token"]) > 20
    assert run_json("tokens", "remove", "claude") == {"name": "claude", "revoked": True}


# --- Ctrl-C ---------------------------------------------------------------------------------

def _big_events_file(path: Path, rows: int = 400_000) -> Path:
    lines = ["user_id,timestamp,event"]
    steps = ("landing_view", "pricing_view", "signup", "trial_started", "subscription_started")
    for i in range(rows):
        day, second = divmod(i * 37, 86_400)
        lines.append(f"u{i % 40_000},2024-{1 + day // 28 % 12:02d}-{1 + day % 28:02d}T"
                     f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z,"
                     f"{steps[i % len(steps)]}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _interrupt(args: list[str], when: Callable[[int], bool], timeout: float = 120
               ) -> subprocess.CompletedProcess:
    """Start `journey ARGS`, wait until `when(pid)` is true, press Ctrl-C (SIGINT)."""
    process = subprocess.Popen(JOURNEY + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=REPO, env=_env(), stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while not when(process.pid) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the command ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(args, process.returncode, out, err)


def _opened(path: Path) -> Callable[[int], bool]:
    """True from 0.3 s after the process opened `path` (the store: the work is under way)."""
    since: list[float] = []

    def check(pid: int) -> bool:
        if not since:
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
                if any(os.readlink(f"/proc/{pid}/fd/{fd}") == os.path.realpath(path)
                       for fd in fds):
                    since.append(time.monotonic())
            except OSError:  # the process is just starting or ending
                pass
        return bool(since) and time.monotonic() - since[0] > 0.3

    return check


def _one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), stderr
    return lines[0]


NO_PROC = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(),
                             reason="sees when the store is open in /proc (Linux)")


@pytest.mark.slow
@NO_PROC
def test_ctrl_c_during_a_big_load_changes_nothing(tmp_path):
    big = _big_events_file(tmp_path / "big.csv")
    home = tmp_path / "h"
    # The load's writer opens the store first; DuckDB then reads 400,000 rows for a second or
    # more, inside the load's transaction.
    result = _interrupt(["--home", str(home), "ingest", "events", str(big)],
                        _opened(home / "journey.duckdb"))
    assert result.returncode == 130, (result.stdout, result.stderr)
    assert _one_line(result.stderr) == "Interrupted: nothing was changed."
    assert result.stdout == ""
    status = journey("status", "--json", home=home)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["events"] == 0
    # And the same file loads in full afterwards: nothing half-done was left in the way.
    again = journey("ingest", "events", str(big), "--json", home=home)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["rows_loaded"] == 400_000


@pytest.mark.slow
@NO_PROC
@pytest.mark.parametrize("as_json", [False, True])
def test_ctrl_c_during_an_analytic_prints_one_line(demo_store, as_json):
    # The churn model reads the store and fits several models, for seconds.
    result = _interrupt(["--home", str(demo_store.home), "churn"] + (["--json"] if as_json
                                                                     else []),
                        _opened(demo_store.path))
    assert result.returncode == 130, (result.stdout, result.stderr)
    assert _one_line(result.stderr) == "Interrupted."
    if as_json:
        error = json.loads(result.stdout)["error"]
        assert (error["kind"], error["message"]) == ("interrupted", "Interrupted.")
    else:
        assert result.stdout == ""


# --- progress -------------------------------------------------------------------------------

def _phases(calls: list[tuple[str, int, int]]) -> dict[str, list[tuple[int, int]]]:
    phases: dict[str, list[tuple[int, int]]] = {}
    for description, done, total in calls:
        phases.setdefault(description, []).append((done, total))
    return phases


def _counts_go_up(calls: list[tuple[str, int, int]]) -> None:
    for description, counts in _phases(calls).items():
        dones = [done for done, _ in counts]
        assert dones == sorted(dones), (description, dones)
        assert all(0 <= done <= total for done, total in counts if total), (description, counts)


def test_next_best_actions_report_how_far_they_are(demo_store):
    from analytics.next_best_action import next_best_actions

    calls: list[tuple[str, int, int]] = []
    with demo_store.reader() as con:
        result = next_best_actions(con, progress=lambda *call: calls.append(call))
    _counts_go_up(calls)
    scoring = _phases(calls)["Scoring customers"]
    assert len(scoring) > 2  # reported along the way, not only at the end
    assert scoring[-1] == (result.customers_considered, result.customers_considered)
    assert [done for done, _ in scoring] == sorted({done for done, _ in scoring})
    # The segmentation it starts with reports too, before the customers are scored.
    order = [description for description, _, _ in calls]
    assert order.index("Choosing the number of segments") < order.index("Scoring customers")


def test_segments_and_p_alive_report_how_far_they_are(demo_store):
    from analytics.bgnbd import p_alive
    from analytics.segments import segments

    calls: list[tuple[str, int, int]] = []
    with demo_store.reader() as con:
        found = segments(con, progress=lambda *call: calls.append(call))
        plain = segments(con)
    _counts_go_up(calls)
    phases = _phases(calls)
    assert phases["Describing the segments"][-1] == (found.k, found.k)
    assert found.assignments == plain.assignments  # reporting changes nothing

    calls.clear()
    with demo_store.reader() as con:
        p_alive(con, "invoice_paid", progress=lambda *call: calls.append(call))
    _counts_go_up(calls)
    assert any(d.startswith("Fitting the purchase model") and done == total == 2
               for d, done, total in calls)


@pytest.mark.slow
def test_the_churn_model_reports_each_step(demo_store):
    from analytics.churn import churn_model

    calls: list[tuple[str, int, int]] = []
    with demo_store.reader() as con:
        churn_model(con, progress=lambda *call: calls.append(call))
    assert [done for _, done, _ in calls] == list(range(len(calls)))
    assert calls[-1][1] == calls[-1][2] == len(calls) - 1
    assert any("drives churn" in d for d, _, _ in calls)


def _on_a_terminal(args: list[str]) -> tuple[subprocess.CompletedProcess, str]:
    """Run with stderr on a pseudo-terminal (where progress is shown) and stdout on a pipe."""
    controller, terminal = pty.openpty()
    seen: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed: the command ended
                return
            if not chunk:
                return
            seen.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        process = subprocess.Popen(JOURNEY + args, stdout=subprocess.PIPE, stderr=terminal,
                                   stdin=subprocess.DEVNULL, cwd=REPO, env=_env())
    finally:
        os.close(terminal)
    out, _ = process.communicate(timeout=120)
    reader.join(timeout=10)
    os.close(controller)
    return (subprocess.CompletedProcess(args, process.returncode, out.decode(), ""),
            b"".join(seen).decode(errors="replace"))


def test_progress_on_a_terminal_and_only_json_with_json(demo_store):
    args = ["--home", str(demo_store.home), "p-alive", "invoice_paid"]
    shown, terminal = _on_a_terminal(args)
    assert shown.returncode == 0
    # The bar, on stderr; which phases it shows depends on how fast they go (10 frames a second).
    assert "invoice_paid" in terminal or "purchase model" in terminal
    assert "\x1b" not in shown.stdout
    as_json, terminal = _on_a_terminal(args + ["--json"])
    assert as_json.returncode == 0
    assert json.loads(as_json.stdout)["kind"] == "p_alive"  # nothing but the JSON
    assert terminal == ""


def test_a_command_that_reports_nothing_still_shows_it_is_working(monkeypatch):
    from ui.cli_output import RowProgress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(RowProgress, "WAIT_S", 0.05)
    for seconds, shown in ((0.6, True), (0.0, False)):
        terminal = Terminal()
        monkeypatch.setattr(sys, "stderr", terminal)
        with RowProgress(waiting="journey paths: working"):
            time.sleep(seconds)
        assert ("journey paths: working" in terminal.getvalue()) is shown


def test_a_press_inside_a_destructor_still_ends_with_one_line(capsys):
    """Python cannot raise a KeyboardInterrupt inside __del__: the hook ends the run instead
    of printing 'Exception ignored' and a traceback."""
    import os as os_module
    from types import SimpleNamespace

    from ui.cli import CtrlC

    ctrl_c = CtrlC(as_json=False)
    exits = []
    original = os_module._exit
    os_module._exit = exits.append
    try:
        ctrl_c.unraisable(SimpleNamespace(exc_type=KeyboardInterrupt))
    finally:
        os_module._exit = original
    assert exits == [130]
