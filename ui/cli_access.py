"""`journey users`, `journey tokens` and `journey audit`: who may sign in, which MCP clients may
connect, and the record of every write.

These run at the machine, so whoever runs them has every role (see analytics/store/accounts.py);
each change to users or tokens is itself audited.
"""

from __future__ import annotations

import sys

import click

from analytics.store.accounts import ROLE_MEANS, ROLES
from ui.cli_output import data, print_json, say, store_of

ROLE_HELP = "; ".join(f"{role}: {means}" for role, means in ROLE_MEANS.items())
JSON_HELP = "Print the result as JSON."


def _accounts(ctx: click.Context):
    from analytics.store.accounts import Accounts

    return Accounts(store_of(ctx).home)


def _audit(ctx: click.Context, action: str, detail: dict) -> None:
    from analytics.store.accounts import machine_user
    from analytics.store.audit import record

    me = machine_user("command line")
    record(store_of(ctx).home, me.name, me.role, action, ok=True, detail=detail)


def audit(ctx: click.Context, action: str, detail: dict) -> None:
    """Record a write made at the command line (see analytics/store/audit.py)."""
    from analytics.store.accounts import machine_user
    from analytics.store.audit import record

    me = machine_user("command line")
    record(store_of(ctx).home, me.name, me.role, action, ok=True, detail=detail)


def _password(from_stdin: bool, as_json: bool = False) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise click.UsageError("No terminal to type a password in: pipe it with "
                               "--password-stdin.")
    # With --json the question goes to stderr: stdout holds only the JSON.
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True,
                            err=as_json))


@click.group("users", no_args_is_help=True)
def users_group() -> None:
    """Who may sign in to the web app, and with which role."""


@users_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help=ROLE_HELP + ".")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input "
              "(for scripts) instead of asking for it.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def users_add(ctx: click.Context, name: str, role: str, password_stdin: bool,
              as_json: bool) -> None:
    """Add a user, or change a user's role and password."""
    new = _accounts(ctx).add_user(name, role, _password(password_stdin, as_json))
    audit(ctx, "users add" if new else "users change", {"user": name, "role": role})
    if as_json:
        print_json({"user": name, "role": role, "added": new})
        return
    say(f"{'Added' if new else 'Updated'} {data(name)} as {role}. The web app now asks everyone "
        "to sign in.")


@users_group.command("remove")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def users_remove(ctx: click.Context, name: str, as_json: bool) -> None:
    """Remove a user (their sign-in stops working at once)."""
    _accounts(ctx).remove_user(name)
    audit(ctx, "users remove", {"user": name})
    if as_json:
        print_json({"user": name, "removed": True})
        return
    say(f"Removed {data(name)}.")


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def users_list(ctx: click.Context, as_json: bool) -> None:
    """The users and their roles."""
    _print_roles(_accounts(ctx).users(), as_json,
                 "No users: the web app serves only this machine (127.0.0.1), without sign-in. "
                 "Add one with `journey users add NAME --role admin`.")


def _print_roles(roles: dict[str, str], as_json: bool, when_none: str) -> None:
    if as_json:
        print_json(roles)
        return
    if not roles:
        say(when_none)
    for name, role in roles.items():
        say(f"{data(name)}  {role}")


@click.group("tokens", no_args_is_help=True)
def tokens_group() -> None:
    """Bearer tokens for MCP clients over HTTP (`journey mcp --http`)."""


@tokens_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True,
              help=ROLE_HELP + ".")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP + " It holds the token, shown "
              "this once.")
@click.pass_context
def tokens_add(ctx: click.Context, name: str, role: str, as_json: bool) -> None:
    """Make a token for an MCP client (shown once; replaces an earlier token of that name)."""
    token = _accounts(ctx).add_token(name, role)
    audit(ctx, "tokens add", {"token": name, "role": role})
    if as_json:
        print_json({"name": name, "role": role, "token": token})
        return
    say(f"Token {data(name)} ({role}). Copy it now, it is not shown again:", stderr=True)
    click.echo(token)


@tokens_group.command("remove")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def tokens_remove(ctx: click.Context, name: str, as_json: bool) -> None:
    """Revoke a token (clients using it are refused at once)."""
    _accounts(ctx).remove_token(name)
    audit(ctx, "tokens remove", {"token": name})
    if as_json:
        print_json({"name": name, "revoked": True})
        return
    say(f"Revoked {data(name)}.")


@tokens_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def tokens_list(ctx: click.Context, as_json: bool) -> None:
    """The tokens' names and roles (never the tokens themselves)."""
    _print_roles(_accounts(ctx).tokens(), as_json,
                 "No tokens. Make one with `journey tokens add NAME --role viewer`.")


@click.command("audit")
@click.option("--last", type=click.IntRange(min=1), default=50, show_default=True,
              help="How many of the latest writes to show.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def audit_cmd(ctx: click.Context, last: int, as_json: bool) -> None:
    """Who wrote what and when: loads, erasures, users and tokens (no personal data)."""
    from analytics.store.audit import entries

    found = entries(store_of(ctx).home, last)
    if as_json:
        from dataclasses import asdict

        print_json([asdict(entry) for entry in found])
        return
    if not found:
        say("No writes recorded yet.")
    for entry in found:
        outcome = "ok" if entry.ok else "refused or failed"
        details = ", ".join(f"{k}={v}" for k, v in entry.detail.items())
        say(f"{entry.at}  {data(entry.who)} ({entry.role})  {data(entry.action)}  {outcome}"
            + (f"  {data(details)}" if details else ""))


ACCESS_COMMANDS = [users_group, tokens_group, audit_cmd]
