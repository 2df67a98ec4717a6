"""Identity through the real CLI and a real server: the admin token a first start makes,
users and tokens, ``podium login`` for someone else, grants, refusals and the audit trail."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from pathlib import Path
from typing import Any

from .conftest import Cli

FLOW = "id: shared\nsteps: [{id: a, type: noop}]\n"


def ok(result: Any) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)
    return str(result.stdout)


def as_other_user(cli: Cli, config: Path) -> Cli:
    """The CLI of another person on this machine: its own config dir, no admin token."""
    return dataclasses.replace(cli, env=(("PODIUM_CONFIG_DIR", str(config)),))


def test_a_team_shares_a_server(server_cli: Cli, tmp_path: Path) -> None:
    admin = server_cli
    me = json.loads(ok(admin("whoami", "--json")))
    assert me["role"] == "admin" and me["kind"] == "user"

    ok(admin("user", "add", "alice", "--role", "operator"))
    ok(admin("user", "add", "bob", "--role", "none"))
    made = json.loads(ok(admin("token", "create", "laptop", "--user", "alice", "--json")))
    assert made["token"].startswith("pod_") and made["user"] == "alice"

    alice = as_other_user(admin, tmp_path / "alice-config")
    refused = alice("whoami")
    assert refused.returncode == 1
    assert "needs a token" in refused.stderr and "podium login" in refused.stderr

    said = ok(alice("login", input=made["token"] + "\n"))
    assert said.strip() == f"logged in to {admin.server} as alice (operator)"
    stored = tmp_path / "alice-config" / "credentials.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert made["token"] in stored.read_text()

    flow = tmp_path / "shared.yaml"
    flow.write_text(FLOW)
    ok(alice("push", str(flow)))
    info = json.loads(ok(alice("info", "shared", "--json")))
    assert info["owner"] == "alice"

    granted = json.loads(ok(alice("access", "shared", "--grant", "bob=viewer", "--json")))
    assert {"name": "bob", "role": "viewer", "source": "grant", "granted_by": "alice"} in (
        granted["grants"]
    )
    bad = alice("access", "shared", "--grant", "bob=emperor")
    assert bad.returncode == 2 and "viewer, operator, owner" in bad.stderr

    # Alice is no admin: the trail of the whole server is not hers, her workflow's is.
    denied = alice("audit")
    assert denied.returncode == 1
    assert "403 forbidden" in denied.stderr and "needs the admin role" in denied.stderr
    hers = json.loads(ok(alice("audit", "--workflow", "shared", "--json")))["entries"]
    assert [(e["user"], e["action"]) for e in hers] == [
        ("alice", "workflow.access"),
        ("alice", "workflow.push"),
    ]
    everything = json.loads(ok(admin("audit", "--user", "alice", "--since", "1h", "--json")))
    assert {e["action"] for e in everything["entries"]} == {"workflow.push", "workflow.access"}
    table = ok(admin("audit", "--workflow", "shared"))
    assert "workflow.access" in table and "alice" in table

    listed = ok(admin("token", "list", "--user", "alice"))
    assert "laptop" in listed and "active" in listed
    ok(admin("token", "revoke", "laptop", "--user", "alice"))
    after = alice("whoami")
    assert after.returncode == 1 and "was revoked" in after.stderr

    users = json.loads(ok(admin("user", "list", "--json")))["users"]
    assert {u["name"] for u in users} >= {"alice", "bob", me["name"]}
    assert ok(admin("user", "os-user", "bob", "nobody")).strip() == "the jobs of bob run as nobody"
    assert ok(admin("user", "role", "bob", "viewer")).strip() == "bob has role viewer"
    bob = next(
        u for u in json.loads(ok(admin("user", "list", "--json")))["users"] if u["name"] == "bob"
    )
    assert bob["os_user"] == "nobody" and bob["role"] == "viewer"
    bad = admin("user", "os-user", "bob")
    assert bad.returncode == 2 and "give LOGIN, or --clear" in bad.stderr
    ok(admin("user", "disable", "bob"))
    assert (
        next(
            u
            for u in json.loads(ok(admin("user", "list", "--json")))["users"]
            if u["name"] == "bob"
        )["disabled"]
        is True
    )

    ok(alice("logout"))
    assert made["token"] not in stored.read_text()


def test_a_lost_admin_token_is_made_again_from_the_database(
    server_cli: Cli, tmp_path: Path
) -> None:
    """Whoever can open the database can do anything already: ``token create --db``."""
    db_url = f"sqlite:///{tmp_path / 'server-home' / 'podium.db'}"
    made = json.loads(
        ok(server_cli("token", "create", "rescue", "--db", db_url, "--user", "ops", "--json"))
    )
    other = as_other_user(server_cli, tmp_path / "ops-config")
    ok(other("login", "--token", made["token"]))
    me = json.loads(ok(other("whoami", "--json")))
    assert me["name"] == "ops" and me["role"] == "admin"


def test_the_server_refuses_to_listen_widely_without_authentication(cli: Cli) -> None:
    result = dataclasses.replace(cli, env=(("PODIUM_AUTH", "none"),))(
        "server", "--host", "0.0.0.0", "--port", "0", timeout_s=60
    )
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "PODIUM_AUTH=none" in result.stderr and "127.0.0.1" in result.stderr
    assert os.environ.get("PODIUM_AUTH") != "none"
