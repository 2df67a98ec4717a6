"""A read allowed once is remembered for a moment, but a grant revoked through this API
process stops working at once, and so does a push that changes who may read."""

from __future__ import annotations

import time

import httpx

from podium.control import principals
from podium.control.identity import caller_named
from podium.control.services import Services
from tests.support import TEST_ADMIN, Podium, bearer

WF = "id: shared\nsteps:\n  - {id: a, type: noop}\n"


def test_a_revoked_grant_stops_a_reader_at_once(podium: Podium) -> None:
    podium.push(WF)
    instance = podium.run("shared")
    svc = Services(podium.db, clock=time.time)
    admin = caller_named(TEST_ADMIN)
    principals.add_principal(svc, principals.NewPrincipal("carol", "user", None), admin)
    token = principals.create_token(svc, principals.TokenRequest("t", "carol"), admin).token
    carol = httpx.Client(base_url=str(podium.client.base_url), headers=bearer(token))
    with carol:
        check_reads(podium, carol, instance)


def check_reads(podium: Podium, carol: httpx.Client, instance: int) -> None:
    path = f"/api/v1/workflows/shared/instances/{instance}"
    assert carol.get(path).status_code == 403

    granted = podium.client.post(
        "/api/v1/workflows/shared/access", json={"grant": {"carol": "viewer"}}
    )
    assert granted.status_code == 200, granted.text
    assert carol.get(path).status_code == 200
    assert carol.get(path).status_code == 200  # remembered

    revoked = podium.client.post("/api/v1/workflows/shared/access", json={"revoke": ["carol"]})
    assert revoked.status_code == 200, revoked.text
    assert carol.get(path).status_code == 403

    # A push whose access: grants her reads lets her in at once, and one without takes it away.
    podium.push(WF.replace("steps:", "access: {carol: viewer}\nsteps:"))
    assert carol.get(path).status_code == 200
    podium.push(WF)
    assert carol.get(path).status_code == 403
