"""Who is asking and what they may do: ``login``, ``logout``, ``whoami``, ``token``, ``user``,
``access`` and ``audit``."""

from __future__ import annotations

import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from podium import credentials
from podium.cli.client import CliError, PodiumClient, quote_segment
from podium.cli.context import CliContext, current_client, json_option, server_option
from podium.cli.output import local_time, print_json, stdout_console

ROLES = ("viewer", "operator", "owner", "admin")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _server() -> str:
    obj = click.get_current_context().find_object(CliContext)
    return obj.server if obj is not None else "http://127.0.0.1:8080"


def _echo(text: str) -> None:
    stdout_console().print(text, markup=False, highlight=False)


# -- login, logout, whoami -------------------------------------------------------------


@click.command()
@click.option(
    "--token",
    metavar="TOKEN",
    help="The token (default: read from stdin, hidden when typed at a terminal).",
)
@json_option
@server_option
def login(token: str | None, as_json: bool) -> None:
    """Store a token for this server, after checking it works (0600 file under
    ~/.config/podium). Get one from an admin, or: podium token create NAME."""
    server = _server()
    if token is None:
        if sys.stdin.isatty():
            token = click.prompt(f"Token for {server}", hide_input=True)
        else:
            token = sys.stdin.readline()
    token = (token or "").strip()
    if not token:
        raise CliError("no token given: podium login --token TOKEN, or pipe it in", exit_code=2)
    client = PodiumClient(server, token=token)
    try:
        me = client.get("/whoami")
    finally:
        client.close()
    path = credentials.store_token(server, token)
    if as_json:
        print_json({"server": server, "credentials": str(path), **me})
        return
    _echo(f"logged in to {server} as {me['name']} ({me.get('role') or 'no global role'})")


@click.command()
@server_option
def logout() -> None:
    """Forget the token stored for this server."""
    server = _server()
    if credentials.forget_token(server):
        _echo(f"logged out of {server}")
    else:
        _echo(f"no token was stored for {server}")


@click.command()
@json_option
@server_option
def whoami(as_json: bool) -> None:
    """Who this server knows you as, and what you may do."""
    me = current_client().get("/whoami")
    if as_json:
        print_json(me)
        return
    line = f"{me['name']} ({me['kind']}), role {me.get('role') or 'none'}"
    if me.get("groups"):
        line += f", groups {', '.join(me['groups'])}"
    if me.get("token_role"):
        line += f"; this token is capped at {me['token_role']}"
    if me.get("token_workflows") is not None:
        line += f"; this token reaches only {', '.join(me['token_workflows']) or 'no workflow'}"
    _echo(line)


# -- tokens ------------------------------------------------------------------------------


def _expires_days(value: str) -> float | None:
    if value == "never":
        return None
    match = _DURATION.match(value.strip())
    if match is None:
        try:
            return float(value)
        except ValueError:
            raise CliError(
                f"bad --expires {value!r}: give days (90), a duration (12h, 30d, 2w) or never",
                exit_code=2,
            ) from None
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)] / 86400


@click.group()
def token() -> None:
    """API tokens: create (shown once, stored hashed), list and revoke them."""


@token.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), help="The most the token may do.")
@click.option(
    "--expires",
    default="90d",
    show_default=True,
    help="When it stops working: days, a duration (12h, 30d, 2w) or never.",
)
@click.option("--user", metavar="USER", help="Whose token (an admin only; default: yours).")
@click.option(
    "--workflow",
    "workflows",
    multiple=True,
    metavar="WF",
    help="Limit the token to this workflow (repeatable).",
)
@click.option(
    "--db",
    "db_url",
    metavar="URL",
    help="Make an admin token straight in this database, with no server (to recover access).",
)
@json_option
@server_option
def token_create(
    name: str,
    role: str | None,
    expires: str,
    user: str | None,
    workflows: tuple[str, ...],
    db_url: str | None,
    as_json: bool,
) -> None:
    """Create the token NAME and print it once: keep it, the server stores only its hash."""
    if db_url is not None:
        document = _local_token(db_url, name, user)
    else:
        body: dict[str, Any] = {"name": name, "expires_days": _expires_days(expires)}
        if role is not None:
            body["role"] = role
        if user is not None:
            body["user"] = user
        if workflows:
            body["workflows"] = list(workflows)
        document = current_client().post("/tokens", body)
    if as_json:
        print_json(document)
        return
    expiry = local_time(document.get("expires_at")) if document.get("expires_at") else "never"
    _echo(f"token {document['name']} of {document['user']} (expires {expiry}):")
    _echo(str(document["token"]))
    _echo("It is shown only now. Use it with: podium login --token TOKEN, or PODIUM_TOKEN")


def _local_token(db_url: str, name: str, user: str | None) -> dict[str, Any]:
    from podium.control import principals
    from podium.control.workflows import os_user
    from podium.processes import open_database

    owner = user or os_user() or "admin"
    db, _settings = open_database(db_url)
    try:
        made = principals.local_admin_token(db, name, principal=owner, now=time.time())
    finally:
        db.dispose()
    return {"name": name, "user": owner, "role": "admin", "expires_at": None, "token": made}


@token.command("list")
@click.option("--user", metavar="USER", help="Whose tokens (an admin only; default: yours).")
@json_option
@server_option
def token_list(user: str | None, as_json: bool) -> None:
    """Your tokens (an admin: anyone's), never their secrets."""
    document = current_client().get("/tokens", {"user": user} if user else None)
    if as_json:
        print_json(document)
        return
    tokens = document.get("tokens") or []
    if not tokens:
        _echo("no tokens: podium token create NAME")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("name", "user", "role", "expires", "last used", "state"):
        table.add_column(column, no_wrap=True)
    now = datetime.now(UTC).isoformat()
    for t in tokens:
        state = "revoked" if t.get("revoked_at") else "active"
        if state == "active" and t.get("expires_at") and t["expires_at"] <= now:
            state = "expired"
        table.add_row(
            Text(str(t["name"])),
            Text(str(t["user"])),
            Text(str(t.get("role") or "-")),
            Text(local_time(t.get("expires_at")) if t.get("expires_at") else "never"),
            Text(local_time(t.get("last_used_at")) if t.get("last_used_at") else "-"),
            Text(state, style="red" if state != "active" else "green"),
        )
    stdout_console().print(table)


@token.command("revoke")
@click.argument("name")
@click.option("--user", metavar="USER", help="Whose token (an admin only; default: yours).")
@json_option
@server_option
def token_revoke(name: str, user: str | None, as_json: bool) -> None:
    """Revoke the token NAME: it stops working at once."""
    path = f"/tokens/{quote_segment(name)}"
    document = current_client().delete(path, {"user": user} if user else None)
    if as_json:
        print_json(document)
        return
    _echo(f"revoked the token {name} of {document.get('user')}")


# -- users ------------------------------------------------------------------------------


@click.group()
def user() -> None:
    """Users and service accounts, their global roles and the OS users their jobs run as."""


@user.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice((*ROLES, "none")),
    default="viewer",
    show_default=True,
    help="Global role (none: only what workflows grant).",
)
@click.option("--service", is_flag=True, help="A service account, not a person.")
@click.option("--group", "groups", multiple=True, metavar="GROUP", help="A group (repeatable).")
@click.option("--os-user", metavar="LOGIN", help="The OS user its jobs run as on a root worker.")
@json_option
@server_option
def user_add(
    name: str,
    role: str,
    service: bool,
    groups: tuple[str, ...],
    os_user: str | None,
    as_json: bool,
) -> None:
    """Add the user (or service account) NAME; then make it a token: podium token create
    NAME-cli --user NAME."""
    body: dict[str, Any] = {
        "name": name,
        "kind": "service" if service else "user",
        "role": role,
        "groups": list(groups),
        "os_user": os_user,
    }
    document = current_client().post("/users", body)
    if as_json:
        print_json(document)
        return
    _echo(f"added {document['kind']} {document['name']} with role {document['role'] or 'none'}")


@user.command("list")
@json_option
@server_option
def user_list(as_json: bool) -> None:
    """Every user and service account."""
    document = current_client().get("/users")
    if as_json:
        print_json(document)
        return
    table = Table(box=None, pad_edge=False)
    for column in ("name", "kind", "role", "groups", "os user", "state"):
        table.add_column(column, no_wrap=column != "groups", overflow="fold")
    for u in document.get("users") or []:
        table.add_row(
            Text(str(u["name"])),
            Text(str(u["kind"])),
            Text(str(u.get("role") or "none")),
            Text(", ".join(u.get("groups") or [])),
            Text(str(u.get("os_user") or "-")),
            Text("disabled" if u.get("disabled") else "enabled"),
        )
    stdout_console().print(table)


def _patch_user(name: str, body: dict[str, Any], as_json: bool, said: str) -> None:
    document = current_client().patch(f"/users/{quote_segment(name)}", body)
    if as_json:
        print_json(document)
    else:
        _echo(f"{document['name']} {said}")


@user.command("disable")
@click.argument("name")
@json_option
@server_option
def user_disable(name: str, as_json: bool) -> None:
    """Disable NAME: its tokens stop working at once (its workflows keep running)."""
    _patch_user(name, {"disabled": True}, as_json, "is disabled")


@user.command("enable")
@click.argument("name")
@json_option
@server_option
def user_enable(name: str, as_json: bool) -> None:
    """Enable NAME again."""
    _patch_user(name, {"disabled": False}, as_json, "is enabled")


@user.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice((*ROLES, "none")))
@json_option
@server_option
def user_role(name: str, role: str, as_json: bool) -> None:
    """Set the global role of NAME."""
    _patch_user(name, {"role": role}, as_json, f"has role {role}")


@user.command("os-user")
@click.argument("name")
@click.argument("login", required=False)
@click.option("--clear", is_flag=True, help="Remove the mapping (its jobs are then refused).")
@json_option
@server_option
def user_os_user(name: str, login: str | None, clear: bool, as_json: bool) -> None:
    """Run the jobs of NAME (a user or a group) as the OS user LOGIN on a root worker."""
    if (login is None) == (not clear):
        raise CliError("give LOGIN, or --clear: podium user os-user NAME LOGIN", exit_code=2)
    document = current_client().put(f"/users/{quote_segment(name)}/os-user", {"os_user": login})
    if as_json:
        print_json(document)
        return
    if login is None:
        _echo(f"the jobs of {name} have no OS user now")
    else:
        _echo(f"the jobs of {name} run as {login}")


# -- access -----------------------------------------------------------------------------


def _grant(value: str) -> tuple[str, str]:
    name, sep, role = value.partition("=")
    if not sep or not name or role not in ROLES[:3]:
        raise CliError(
            f"bad --grant {value!r}: give USER=ROLE, ROLE one of viewer, operator, owner",
            exit_code=2,
        )
    return name, role


@click.command()
@click.argument("workflow_id", metavar="WF")
@click.option(
    "--grant", "grants", multiple=True, metavar="USER=ROLE", help="Grant a role (repeatable)."
)
@click.option(
    "--revoke", "revokes", multiple=True, metavar="USER", help="Revoke a grant (repeatable)."
)
@json_option
@server_option
def access(
    workflow_id: str, grants: tuple[str, ...], revokes: tuple[str, ...], as_json: bool
) -> None:
    """Who may read (viewer), run (operator) or change (owner) the workflow WF; with
    --grant or --revoke, change it (needs owner)."""
    client = current_client()
    path = f"/workflows/{quote_segment(workflow_id)}/access"
    if grants or revokes:
        body = {"grant": dict(_grant(g) for g in grants), "revoke": list(revokes)}
        document = client.post(path, body)
    else:
        document = client.get(path)
    if as_json:
        print_json(document)
        return
    _echo(f"{document['workflow_id']}: owner {document.get('owner') or '-'}")
    for g in document.get("grants") or []:
        _echo(f"  {g['name']}: {g['role']} ({g['source']}, by {g.get('granted_by') or '-'})")


# -- audit ------------------------------------------------------------------------------


def _when(value: str | None, option: str) -> str | None:
    """An ISO time as given, or a duration before now (30m, 2h, 7d) as an ISO time."""
    if value is None:
        return None
    match = _DURATION.match(value.strip())
    if match is not None:
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        return datetime.fromtimestamp(time.time() - seconds, UTC).isoformat()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(
            f"bad {option} {value!r}: give a time (2026-12-01T09:00:00Z, 2026-12-01) or how "
            "long ago (30m, 2h, 7d)",
            exit_code=2,
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()  # the local time zone, as a person typing it means
    return parsed.isoformat()


@click.command()
@click.option("--user", metavar="USER", help="Changes made by USER.")
@click.option("--workflow", "workflow_id", metavar="WF", help="Changes to the workflow WF.")
@click.option("--action", metavar="ACTION", help="One kind of change (instance.start…).")
@click.option("--since", metavar="TIME", help="From TIME (ISO, or 30m, 2h, 7d ago).")
@click.option("--until", metavar="TIME", help="Before TIME.")
@click.option(
    "--limit", type=click.IntRange(1, 1000), default=50, show_default=True, help="Entries."
)
@json_option
@server_option
def audit(
    user: str | None,
    workflow_id: str | None,
    action: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Who changed what, when: newest first (an admin sees everything; a workflow's owner,
    with --workflow, that workflow's)."""
    params: dict[str, Any] = {"limit": limit}
    for key, value in (
        ("user", user),
        ("workflow", workflow_id),
        ("action", action),
        ("since", _when(since, "--since")),
        ("until", _when(until, "--until")),
    ):
        if value is not None:
            params[key] = value
    document = current_client().get("/audit", params)
    if as_json:
        print_json(document)
        return
    entries = document.get("entries") or []
    if not entries:
        _echo("no changes recorded for these filters")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("at", "user", "action", "workflow", "target", "outcome"):
        table.add_column(column, no_wrap=column != "target", overflow="fold")
    for e in entries:
        table.add_row(
            Text(local_time(e.get("at"))),
            Text(str(e["user"])),
            Text(str(e["action"])),
            Text(str(e.get("workflow_id") or "-")),
            Text(str(e.get("target") or "-")),
            Text(str(e.get("outcome") or "ok")),
        )
    stdout_console().print(table)


COMMANDS = (login, logout, whoami, token, user, access, audit)
