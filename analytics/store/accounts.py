"""Who may do what: the people who sign in to the web app, the tokens MCP clients present, and
the roles that decide which tools each may run.

Roles are ordered: a viewer asks and looks; an analyst also loads data and pushes results out;
an admin also erases customers and manages users. Both live in `access.json` in the data folder
(mode 0600), so they go where the data go. Passwords are hashed with Argon2id (argon2-cffi);
a token is 32 random bytes, so its SHA-256 is enough to keep (nothing to guess, and checking it
on every request must be quick), and it is shown once, when it is made.

With no users at all, on loopback, the person at the machine is `LOCAL`, with every role: they
could read the files anyway. Any other address needs users (ui/cli_admin.py refuses to start).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analytics.errors import JourneyError

ROLES = ("viewer", "analyst", "admin")
# What each role adds, for help texts and refusals.
ROLE_MEANS = {"viewer": "asks and looks", "analyst": "also loads data and pushes results",
              "admin": "also erases customers and manages users"}
ACCESS_FILENAME = "access.json"
TOKEN_PREFIX = "jat_"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD = 12


class AccessError(JourneyError):
    """Signing in, a token or a role that does not allow what was asked."""


@dataclass(frozen=True)
class Actor:
    """Whoever is asking: a signed-in user, a token's holder, or the person at the machine."""

    name: str
    role: str

    def may(self, needed: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(needed)

    def refusal(self, needed: str, what: str) -> AccessError:
        return AccessError(
            f"{what} needs the {needed} role; {self.name} is {_article(self.role)} {self.role} "
            f"({ROLE_MEANS[self.role]}). An admin can change that with `journey users add "
            f"{self.name} --role {needed}`.")


LOCAL = Actor("local user", "admin")


def machine_user(face: str) -> Actor:
    """The person at the machine, named by their login for the audit log: whoever can run the
    command line can read the data folder anyway, so they have every role."""
    import getpass

    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = "unknown"
    return Actor(f"{login} ({face})", "admin")


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccessError(f"Unknown role '{role}': choose one of {', '.join(ROLES)}")
    return role


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name or ""):
        raise AccessError(f"'{name}' cannot be a name: use 1-64 letters, digits, '.', '_', '-' "
                          "or '@', starting with a letter or digit")
    return name


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """The users and tokens of one data folder."""

    def __init__(self, home: Path) -> None:
        self.path = Path(home) / ACCESS_FILENAME

    # -- the file -------------------------------------------------------------------------------

    def _read(self) -> dict[str, dict[str, dict[str, str]]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"users": {}, "tokens": {}}
        except (OSError, ValueError) as exc:
            raise AccessError(f"Cannot read {self.path} ({exc}); fix or remove it, then add "
                              "users again with `journey users add`") from exc
        return {"users": dict(data.get("users", {})), "tokens": dict(data.get("tokens", {}))}

    def _write(self, data: dict) -> None:
        # Written whole to a private temporary file, then renamed: never half a file, never
        # readable by other accounts on the machine.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)

    # -- users ----------------------------------------------------------------------------------

    def has_users(self) -> bool:
        return bool(self._read()["users"])

    def users(self) -> dict[str, str]:
        """Each user's role."""
        return {name: u["role"] for name, u in sorted(self._read()["users"].items())}

    def add_user(self, name: str, role: str, password: str) -> bool:
        """Add a user or change an existing one's role and password; True when new."""
        check_name(name)
        check_role(role)
        if len(password) < MIN_PASSWORD:
            raise AccessError(f"The password is too short: use at least {MIN_PASSWORD} "
                              "characters")
        data = self._read()
        new = name not in data["users"]
        data["users"][name] = {"role": role, "hash": _hasher().hash(password),
                               "since": datetime.now(UTC).isoformat(timespec="seconds")}
        self._write(data)
        return new

    def remove_user(self, name: str) -> None:
        self._remove("users", "user", name)

    def _remove(self, table: str, kind: str, name: str) -> None:
        data = self._read()
        if data[table].pop(name, None) is None:
            raise AccessError(f"No {kind} '{name}' ({table}: "
                              f"{', '.join(data[table]) or 'none'})")
        self._write(data)

    def sign_in(self, name: str, password: str) -> Actor | None:
        """The user, when the password is theirs; None otherwise (the same for an unknown name,
        so a login form does not tell which names exist)."""
        from argon2.exceptions import InvalidHashError, VerificationError

        user = self._read()["users"].get(name or "")
        hasher = _hasher()
        if user is None:
            # Spend the same time as a real check, so timing does not tell names apart either.
            try:
                hasher.verify(_dummy_hash(), password or "")
            except VerificationError:
                pass
            return None
        try:
            hasher.verify(user["hash"], password or "")
        except (VerificationError, InvalidHashError):
            return None
        return Actor(name, user["role"])

    def role_of(self, name: str | None) -> Actor | None:
        user = self._read()["users"].get(name or "")
        return Actor(str(name), user["role"]) if user else None

    # -- tokens ---------------------------------------------------------------------------------

    def tokens(self) -> dict[str, str]:
        return {name: t["role"] for name, t in sorted(self._read()["tokens"].items())}

    def add_token(self, name: str, role: str) -> str:
        """A new token for `name` (replacing any earlier one); the only time it is shown."""
        check_name(name)
        check_role(role)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        data = self._read()
        data["tokens"][name] = {"role": role, "sha256": _token_digest(token),
                                "since": datetime.now(UTC).isoformat(timespec="seconds")}
        self._write(data)
        return token

    def remove_token(self, name: str) -> None:
        self._remove("tokens", "token", name)

    def holder(self, token: str | None) -> Actor | None:
        """Whose token this is, or None."""
        if not token:
            return None
        digest = _token_digest(token)
        for name, entry in self._read()["tokens"].items():
            if hmac.compare_digest(entry["sha256"], digest):
                return Actor(f"token {name}", entry["role"])
        return None


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password, checked against when the name is unknown (see sign_in)."""
    return str(_hasher().hash(secrets.token_hex(16)))
