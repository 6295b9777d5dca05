"""`journey users`, `journey tokens` and `journey audit` as a person at the terminal uses them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def journey(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "JOURNEY_HOME"}
    return subprocess.run([sys.executable, "-c", "from ui.cli import run; run()", "--home",
                           str(home), *args], input=stdin, capture_output=True, text=True,
                          cwd=REPO, env={**env, "COLUMNS": "200"}, timeout=120)


def test_users_tokens_and_the_audit_log(tmp_path):
    from analytics.store.accounts import Accounts

    home = tmp_path / "h"
    short = journey(home, "users", "add", "ann", "--role", "admin", "--password-stdin",
                    stdin="short\n")
    assert short.returncode == 2 and "at least 12 characters" in short.stderr
    assert not (home / "access.json").exists()  # nothing half-written
    added = journey(home, "users", "add", "ann", "--role", "admin", "--password-stdin",
                    stdin="correct horse battery\n")
    assert added.returncode == 0, added.stderr
    assert (home / "access.json").stat().st_mode & 0o777 == 0o600
    assert "correct horse" not in (home / "access.json").read_text()
    accounts = Accounts(home)
    assert accounts.sign_in("ann", "correct horse battery").role == "admin"
    assert accounts.sign_in("ann", "correct horse batterY") is None
    assert accounts.sign_in("nobody", "correct horse battery") is None
    bad_role = journey(home, "users", "add", "bo", "--role", "owner", "--password-stdin",
                       stdin="long enough password\n")
    assert bad_role.returncode == 2 and "viewer" in bad_role.stderr
    listed = journey(home, "users", "list", "--json")
    assert json.loads(listed.stdout) == {"ann": "admin"}

    made = journey(home, "tokens", "add", "claude", "--role", "analyst")
    token = made.stdout.strip()
    assert made.returncode == 0 and token.startswith("jat_") and len(token) > 40
    assert "not shown again" in made.stderr  # the token alone on stdout, for scripts
    assert token not in (home / "access.json").read_text()
    assert accounts.holder(token).role == "analyst"
    assert accounts.holder(token + "x") is None
    assert json.loads(journey(home, "tokens", "list", "--json").stdout) == {"claude": "analyst"}
    gone = journey(home, "tokens", "remove", "claude")
    assert gone.returncode == 0 and accounts.holder(token) is None
    missing = journey(home, "users", "remove", "zed")
    assert missing.returncode == 2 and "No user 'zed'" in missing.stderr

    log = json.loads(journey(home, "audit", "--json").stdout)
    assert [e["action"] for e in log] == ["users add", "tokens add", "tokens remove"]
    assert all(e["ok"] and e["role"] == "admin" and "command line" in e["who"] for e in log)
    assert journey(home, "audit", "--last", "1").stdout.count("\n") == 1
