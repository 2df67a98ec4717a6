"""Request bodies are capped: a declared Content-Length over the limit is refused unread, a
chunked body is refused once it grows past the limit, and a path prefix may have its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from podium.api.app import create_app
from podium.api.limits import LIMIT_SETTING, BodyLimit, add_body_limit, max_body_bytes_from_env
from podium.errors import InvalidInput
from podium.store.database import Database
from podium.store.migrate import upgrade
from tests.support import admin_token, bearer

LIMIT = 1000


def tiny_app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    @app.post("/api/v1/assets/{name}")
    async def asset(name: str, request: Request) -> dict[str, int]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"received": size}

    return app


def post(app: Any, path: str, **kwargs: Any) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://podium") as client:
            return await client.post(path, **kwargs)

    return asyncio.run(send())


class Chunks:
    """A chunked body that counts how much of it was pulled."""

    def __init__(self, count: int, size: int = 100) -> None:
        self.count = count
        self.size = size
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            self.pulled += 1
            yield b"x" * self.size


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    monkeypatch.setenv(LIMIT_SETTING, str(LIMIT))
    app = tiny_app()
    add_body_limit(app, overrides={"/api/v1/assets": 10 * LIMIT})
    return app


def assert_too_large(response: httpx.Response, message: str) -> None:
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["code"] == "payload_too_large"
    assert error["message"] == message
    assert set(error["details"]) == {"limit"}


def test_a_body_under_the_limit_passes(app: FastAPI) -> None:
    assert post(app, "/echo", content=b"x" * LIMIT).json() == {"received": LIMIT}
    assert post(app, "/echo", content=Chunks(10).__aiter__()).json() == {"received": LIMIT}


def test_a_declared_length_over_the_limit_is_refused_unread(app: FastAPI) -> None:
    body = Chunks(11)
    headers = {"content-length": str(11 * 100)}
    response = post(app, "/echo", content=body.__aiter__(), headers=headers)
    assert_too_large(
        response,
        f"the request body is 1100 bytes; this server takes at most {LIMIT} ({LIMIT_SETTING})",
    )
    assert response.json()["error"]["details"] == {"limit": LIMIT}
    assert body.pulled == 0


def test_a_chunked_body_is_refused_when_it_grows_past_the_limit(app: FastAPI) -> None:
    body = Chunks(1000)
    response = post(app, "/echo", content=body.__aiter__())
    assert "content-length" not in response.request.headers
    assert_too_large(
        response,
        f"the request body is at least 1100 bytes; this server takes at most {LIMIT} "
        f"({LIMIT_SETTING})",
    )
    assert body.pulled == 11


def test_a_path_prefix_has_its_own_limit(app: FastAPI) -> None:
    big = b"x" * (5 * LIMIT)
    assert post(app, "/api/v1/assets/a.jar", content=big).json() == {"received": 5 * LIMIT}
    assert post(app, "/api/v1/assetsx", content=big).status_code == 413  # not under the prefix
    assert_too_large(
        post(app, "/api/v1/assets/a.jar", content=Chunks(200).__aiter__()),
        "the request body is at least 10100 bytes; this server takes at most 10000 "
        "(the limit for /api/v1/assets)",
    )


def test_the_limit_defaults_to_16_mib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LIMIT_SETTING, raising=False)
    assert BodyLimit(tiny_app()).max_bytes == 16 * 1024 * 1024
    monkeypatch.setenv(LIMIT_SETTING, "lots")
    with pytest.raises(InvalidInput, match=LIMIT_SETTING):
        max_body_bytes_from_env()


def test_podium_refuses_big_pushes_and_hostile_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LIMIT_SETTING, str(256 * 1024))
    db = Database(f"sqlite:///{tmp_path / 'podium.db'}")
    upgrade(db)
    try:
        app = create_app(db)
        add_body_limit(app)
        headers = bearer(admin_token(db))
        big = post(app, "/api/v1/workflows", json={"yaml": "x" * 300_000})
        assert big.status_code == 413
        assert big.json()["error"]["code"] == "payload_too_large"
        bomb = "\n".join(
            ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
            + [
                f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]"
                for p, c in zip("abcde", "bcdef", strict=True)
            ]
        )
        deep = "id: w\nsteps: " + "[" * 100_000
        for text, message in [(bomb, "expands to more than"), (deep, "deeper than 64 levels")]:
            response = post(app, "/api/v1/workflows", json={"yaml": text}, headers=headers)
            assert response.status_code == 400, response.text
            error = response.json()["error"]
            assert error["code"] == "invalid_definition"
            assert message in error["details"]["problems"][0]["message"]
    finally:
        db.dispose()
