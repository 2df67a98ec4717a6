"""The API with an identity provider: JWTs signed with keys this test makes, checked against
a JWKS file, name users (and their groups) of the server; Podium tokens still work beside."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from podium.api.app import create_app
from podium.api.context import AuthSettings
from podium.api.oidc import OidcSettings
from podium.control import principals
from podium.control.identity import caller_named
from podium.control.services import Services
from podium.control.workflows import push_workflow
from podium.definition import load_workflow
from podium.store.database import Database
from podium.store.migrate import upgrade
from tests.support import InProcessApi, admin_token
from tests.unit.test_oidc import AUDIENCE, ISSUER, RSA_KEY, public_jwk, write_jwks

WF = "id: shared\naccess: {data-eng: operator}\nsteps: [{id: a, type: noop}]\n"


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """The app trusting the provider's keys in a JWKS file, with the user alice (no global
    role) and a workflow that grants its group data-eng operator; and an admin token."""
    jwks = tmp_path / "jwks.json"
    write_jwks(jwks, public_jwk(RSA_KEY, "rsa-1"))
    oidc = OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks=str(jwks), groups_claim="groups")
    db = Database(db_url)
    upgrade(db)
    try:
        token = admin_token(db)
        admin = caller_named("tester")
        svc = Services(db)
        principals.add_principal(svc, principals.NewPrincipal("alice", role="none"), admin)
        push_workflow(db, load_workflow(WF), admin, active=True, now=time.time())
        yield create_app(db, auth=AuthSettings("tokens", oidc)), token
    finally:
        db.dispose()


def jwt_for(sub: str, *, key: Any = RSA_KEY, **extra: Any) -> dict[str, str]:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now - 5, "exp": now + 300}
    payload.update(extra)
    token = jwt.encode(payload, key, algorithm="RS256", headers={"kid": "rsa-1"})
    return {"Authorization": f"Bearer {token}"}


def test_a_providers_token_names_a_user_and_its_groups(api: tuple[Any, str]) -> None:
    app, _ = api
    client = InProcessApi(app)
    alice = jwt_for("alice", groups=["data-eng"])

    me = client.get("/api/v1/whoami", headers=alice)
    assert me.status_code == 200, me.text
    assert me.json()["name"] == "alice" and me.json()["via"] == "oidc"
    assert me.json()["groups"] == ["data-eng"]

    # Operator on the workflow through her group: she may start it, not push it.
    started = client.post("/api/v1/workflows/shared/instances", json={}, headers=alice)
    assert started.status_code == 201, started.text
    pushed = client.post("/api/v1/workflows", json={"yaml": WF}, headers=alice)
    assert pushed.status_code == 403 and "needs the owner role" in pushed.text
    # Without the group claim she has no role there at all.
    alone = client.post("/api/v1/workflows/shared/instances", json={}, headers=jwt_for("alice"))
    assert alone.status_code == 403, alone.text


def test_tokens_the_server_cannot_trust_are_refused(api: tuple[Any, str]) -> None:
    app, admin = api
    client = InProcessApi(app)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    cases = {
        "unknown user": (jwt_for("mallory"), "not a user of this server"),
        "other key": (jwt_for("alice", key=stranger), "signature"),
        "expired": (jwt_for("alice", iat=now - 4000, exp=now - 3600), "expired"),
        "other audience": (jwt_for("alice", aud="someone-else"), "audience"),
    }
    for label, (headers, said) in cases.items():
        response = client.get("/api/v1/whoami", headers=headers)
        assert response.status_code == 401, (label, response.text)
        assert response.json()["error"]["code"] == "unauthenticated"
        assert said in response.json()["error"]["message"].lower(), (label, response.text)
    # A Podium token works beside the provider's.
    mine = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {admin}"})
    assert mine.status_code == 200 and mine.json()["name"] == "tester"
