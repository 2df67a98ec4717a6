"""Every API answer that is an error has one shape; /docs is served from the package; the
caller who pushes a definition naming no owner owns it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from podium.api.app import create_app
from podium.store.database import Database
from podium.store.migrate import upgrade
from tests.support import InProcessApi, Podium

SECRET = "SELECT password FROM accounts -- /srv/podium/secret"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    db = Database(f"sqlite:///{tmp_path / 'podium.db'}")
    upgrade(db)
    app = create_app(db)

    @app.get("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError(SECRET)

    yield app
    db.dispose()


def call(app: FastAPI, method: str, path: str) -> httpx.Response:
    return InProcessApi(app).request(method, path)


def error_of(response: httpx.Response) -> dict[str, Any]:
    document = response.json()
    assert set(document) == {"error"}, document
    assert set(document["error"]) == {"code", "message", "details"}
    error: dict[str, Any] = document["error"]
    return error


def test_an_unknown_path_is_not_found_in_the_error_shape(app: FastAPI) -> None:
    response = call(app, "GET", "/api/v1/nope")

    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "not_found"
    assert "/api/v1/nope" in error["message"]
    assert error["details"] == {}


def test_a_wrong_method_is_method_not_allowed_in_the_error_shape(app: FastAPI) -> None:
    response = call(app, "DELETE", "/api/v1/workflows")

    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert "POST" in response.headers["allow"]


def test_a_server_failure_does_not_leak_its_text(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    response = call(app, "GET", "/api/v1/boom")

    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "internal_error"
    assert "see the server log (event api.error)" in error["message"]
    assert "SELECT" not in response.text and "secret" not in response.text
    assert any(getattr(r, "event", None) == "api.error" for r in caplog.records)


def test_the_docs_page_loads_only_files_the_server_serves(app: FastAPI) -> None:
    page = call(app, "GET", "/docs")

    assert page.status_code == 200
    assert not re.search(r"https?://", page.text)
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    expected = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
    assert sorted(Path(a).suffix for a in assets) == sorted(expected)
    for asset in assets:
        response = call(app, "GET", asset)
        assert response.status_code == 200, asset
        assert response.headers["content-type"].startswith(expected[Path(asset).suffix])
    assert call(app, "GET", "/docs/oauth2-redirect").status_code == 200
    assert call(app, "GET", "/openapi.json").status_code == 200


def _user_token(podium: Podium, name: str, role: str) -> dict[str, str]:
    """``name`` made a user with ``role`` by the admin, and the header of a token of theirs."""
    added = podium.client.post("/api/v1/users", json={"name": name, "role": role})
    assert added.status_code == 201, added.text
    token = podium.client.post("/api/v1/tokens", json={"name": "t", "user": name})
    assert token.status_code == 201, token.text
    return {"Authorization": f"Bearer {token.json()['token']}"}


def _push(podium: Podium, yaml: str, headers: dict[str, str]) -> httpx.Response:
    return podium.client.post(
        "/api/v1/workflows", json={"yaml": yaml, "active": True}, headers=headers
    )


def test_the_pusher_owns_a_workflow_that_names_no_owner(podium: Podium) -> None:
    alice = _user_token(podium, "alice", "operator")

    assert _push(podium, "id: mine\nsteps: [{id: a, type: noop}]\n", alice).status_code == 201
    theirs = "id: theirs\nowner: data-eng\nsteps: [{id: a, type: noop}]\n"
    refused = _push(podium, theirs, alice)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "forbidden"
    assert "data-eng" in refused.json()["error"]["message"]
    assert _push(podium, theirs, {}).status_code == 201  # the admin may name any owner

    mine = podium.client.get("/api/v1/workflows/mine").json()
    versions = podium.client.get("/api/v1/workflows/mine/versions").json()["versions"]
    assert mine["owner"] == "alice"
    assert podium.client.get("/api/v1/workflows/theirs").json()["owner"] == "data-eng"
    assert versions[0]["created_by"] == "alice"
