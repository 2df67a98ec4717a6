"""Every route of the API x every role (and no token, an expired one, a revoked one).

The routes come from the OpenAPI schema, so a new route fails this test until it names its
action (``x-podium-action``, one of control.access.RULES) and has a sample request here.
Whether a caller may is computed from the rule alone: the role it needs, and whether that is
a role on the workflow or on the server.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from podium.api.app import create_app
from podium.api.context import AuthSettings
from podium.control import principals
from podium.control.access import RULES
from podium.control.identity import Role, caller_named
from podium.control.keys import MasterKeys
from podium.control.services import Services
from podium.control.workflows import push_workflow
from podium.definition import load_workflow
from podium.store.database import Database
from podium.store.migrate import upgrade
from podium.vault import Keyring
from tests.support import InProcessApi, admin_token

WF = "wf"
WF_YAML = f"id: {WF}\nowner: olivia\naccess: {{otto: operator}}\nsteps: [{{id: a, type: noop}}]\n"


@dataclass(frozen=True)
class Who:
    name: str
    on_workflow: Role | None
    """Its role on the workflow ``wf``."""
    on_server: Role | None
    """Its global role."""


# Global roles and roles on ``wf`` differ on purpose, so a rule checked in the wrong scope fails.
PEOPLE = (
    Who("nobody", None, None),  # no global role and no grant
    Who("vera", Role.VIEWER, Role.VIEWER),  # a viewer of the server
    Who("otto", Role.OPERATOR, None),  # granted operator on wf by its definition, nothing else
    Who("olivia", Role.OWNER, Role.OPERATOR),  # owns wf; an operator of the server
    Who("tester", Role.ADMIN, Role.ADMIN),
)

PATH_VALUES = {
    "workflow_id": WF,
    "instance_id": "1",
    "version": "1",
    "step_id": "a",
    "step_path": "a",
    "tag": "t",
    "name": "zed",
}

BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/workflows"): {"yaml": WF_YAML},
    ("POST", "/api/v1/workflows/{workflow_id}/activate"): {},
    ("POST", "/api/v1/workflows/{workflow_id}/instances"): {"params": {}},
    ("POST", "/api/v1/workflows/{workflow_id}/dry-run"): {"params": {}},
    ("POST", "/api/v1/workflows/{workflow_id}/breakpoints"): {"step_id": "a"},
    ("POST", "/api/v1/workflows/{workflow_id}/instances/{instance_id}/restart"): {},
    ("PUT", "/api/v1/tags/{tag}"): {"limit": 3},
    ("POST", "/api/v1/signals"): {"name": "landed", "params": {"k": 1}},
    ("POST", "/api/v1/templates"): {"name": "echo", "script": "echo hi"},
    ("POST", "/api/v1/users"): {"name": "zed", "role": "viewer"},
    ("PATCH", "/api/v1/users/{name}"): {"disabled": False},
    ("PUT", "/api/v1/users/{name}/os-user"): {"os_user": "nobody"},
    ("POST", "/api/v1/tokens"): {"name": "another"},
    ("POST", "/api/v1/workflows/{workflow_id}/access"): {"grant": {"zed": "viewer"}},
    ("PUT", "/api/v1/assets/{name}"): {"any": "bytes"},
}
"""A request body each route accepts, so a refusal can only be the authorization's."""


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    action: str

    @property
    def url(self) -> str:
        return self.path.format(**PATH_VALUES)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, str]]]:
    """The app, and a token of each person plus ``expired`` and ``revoked`` ones."""
    home = tmp_path_factory.mktemp("matrix")
    db = Database(f"sqlite:///{home / 'podium.db'}")
    upgrade(db)
    try:
        keys = MasterKeys(lambda: Keyring({"test": secrets.token_bytes(32)}, "test"))
        app = create_app(db, master_keys=keys)
        tokens = {"tester": admin_token(db)}
        svc = Services(db, clock=time.time)
        admin = caller_named("tester")
        for who in PEOPLE[:-1]:
            role = who.on_server.label if who.on_server is not None else "none"
            request = principals.NewPrincipal(who.name, "user", role, [], None)
            principals.add_principal(svc, request, admin)
            made = principals.create_token(svc, principals.TokenRequest("matrix", who.name), admin)
            tokens[who.name] = made.token
        wf = load_workflow(WF_YAML)
        push_workflow(db, wf, admin, active=True, now=time.time())
        for name in ("expired", "revoked"):
            principals.add_principal(
                svc, principals.NewPrincipal(name, "user", "admin", [], None), admin
            )
        short = principals.TokenRequest("short", "expired", expires_days=1 / 86400)
        tokens["expired"] = principals.create_token(svc, short, admin).token
        gone = principals.create_token(svc, principals.TokenRequest("gone", "revoked"), admin)
        principals.revoke_token(svc, "gone", admin, "revoked")
        tokens["revoked"] = gone.token
        time.sleep(1.1)  # the expired token's second passes
        yield app, tokens
    finally:
        db.dispose()


def routes(app: Any) -> list[Route]:
    found = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            found.append(Route(method.upper(), path, str(operation.get("x-podium-action"))))
    return found


def call(app: Any, route: Route, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = BODIES.get((route.method, route.path))
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json"] = body
    return InProcessApi(app).request(route.method, route.url, **kwargs)


def may(route: Route, who: Who) -> bool:
    if route.action == "public":
        return True
    rule = RULES[route.action]
    if rule.role is None:
        return True
    held = who.on_workflow if rule.scope == "workflow" else who.on_server
    return held is not None and held >= rule.role


def test_every_route_names_an_action_with_a_rule_and_has_a_sample(
    world: tuple[Any, dict[str, str]],
) -> None:
    app, _tokens = world
    for route in routes(app):
        assert route.action == "public" or route.action in RULES, (
            f"{route} names no authorization rule: give it openapi_extra=act(ACTION) with "
            "an ACTION of podium.control.access.RULES"
        )
        operation = app.openapi()["paths"][route.path][route.method.lower()]
        if "requestBody" in operation:
            assert (route.method, route.path) in BODIES, f"add a sample body for {route}"


def test_only_health_answers_without_a_token(world: tuple[Any, dict[str, str]]) -> None:
    app, tokens = world
    for route in routes(app):
        for label, token in (("no", None), ("expired", tokens["expired"])):
            response = call(app, route, token)
            if route.action == "public":
                assert response.status_code == 200, (route, response.text)
                continue
            assert response.status_code == 401, (label, str(route), response.text)
            error = response.json()["error"]
            assert error["code"] == "unauthenticated"
            assert response.headers["www-authenticate"].startswith("Bearer")
        revoked = call(app, route, tokens["revoked"])
        if route.action != "public":
            assert revoked.status_code == 401, (str(route), revoked.text)
            assert "revoked" in revoked.json()["error"]["message"]


@pytest.mark.parametrize("who", PEOPLE, ids=lambda w: w.name)
def test_each_role_may_do_what_its_rule_allows_and_nothing_else(
    world: tuple[Any, dict[str, str]], who: Who
) -> None:
    app, tokens = world
    # Refusals first: an allowed call may change the world (deactivate wf, revoke a token).
    ordered = sorted(routes(app), key=lambda r: (r.action == "public", may(r, who)))
    refused = 0
    for route in ordered:
        if route.action == "public":
            continue
        response = call(app, route, tokens[who.name])
        if may(route, who):
            assert response.status_code not in (401, 403), (who.name, str(route), response.text)
            continue
        refused += 1
        assert response.status_code == 403, (who.name, str(route), response.text)
        error = response.json()["error"]
        assert error["code"] == "forbidden"
        needed = RULES[route.action].role
        assert needed is not None and error["details"]["missing_role"] == needed.label
        assert f"needs the {needed.label} role" in error["message"], error["message"]
    expected = sum(not may(r, who) for r in routes(app))
    assert refused == expected and (refused > 10 or who.name in ("olivia", "tester")), refused


def test_a_token_capped_at_viewer_cannot_change_anything(
    world: tuple[Any, dict[str, str]],
) -> None:
    app, tokens = world
    made = InProcessApi(app, tokens["tester"]).post(
        "/api/v1/tokens", json={"name": "read-only", "role": "viewer"}
    )
    assert made.status_code == 201, made.text
    capped = made.json()["token"]
    viewer = Who("tester (viewer token)", Role.VIEWER, Role.VIEWER)
    for route in routes(app):
        if route.action == "public" or route.action == "token.own":
            continue
        response = call(app, route, capped)
        if may(route, viewer):
            assert response.status_code not in (401, 403), (str(route), response.text)
        else:
            assert response.status_code == 403, (str(route), response.text)


def test_with_authentication_off_the_header_names_an_admin(tmp_path: Path) -> None:
    """PODIUM_AUTH=none (loopback only): X-Podium-User names the caller, checked as a name."""
    db = Database(f"sqlite:///{tmp_path / 'podium.db'}")
    upgrade(db)
    try:
        client = InProcessApi(create_app(db, auth=AuthSettings("none")))
        me = client.get("/api/v1/whoami", headers={"X-Podium-User": "alice"})
        assert me.status_code == 200 and me.json()["name"] == "alice"
        assert me.json()["role"] == "admin"
        assert client.get("/api/v1/whoami").json()["name"] == "local"
        bad = client.get("/api/v1/whoami", headers={"X-Podium-User": "al ice;rm -rf"})
        assert bad.status_code == 401, bad.text
        assert "X-Podium-User header must be" in bad.json()["error"]["message"]
    finally:
        db.dispose()
