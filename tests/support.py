"""Shared test machinery: real databases and a real engine with its API on a real port."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn

from podium.api.app import create_app
from podium.api.shedding import is_stream
from podium.config import Settings
from podium.control.principals import bootstrap_admin, local_admin_token
from podium.events.publisher import Publisher
from podium.events.urls import parse_sinks
from podium.store.database import Database
from podium.store.migrate import upgrade
from podium.worker.loop import Worker

PG_ADMIN_URL = os.environ.get("PODIUM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED", "TIMED_OUT")
# One template per test process: two suites on one server (a laptop running tests while CI
# runs) must not share a template built from different migrations.
_TEMPLATE = f"podium_test_template_{os.getpid()}"
_template_lock = threading.Lock()
_template_ready = False


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def require_pg() -> None:
    """Skip without PostgreSQL on a laptop; fail in CI, where it must be there."""
    if pg_available():
        return
    if in_ci():
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL} (CI must start it)")
    pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")


def _with_db(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


def _ensure_template() -> None:
    """A migrated database that every test's database is copied from (fast, and proves
    the migrations run on PostgreSQL)."""
    global _template_ready
    with _template_lock:
        if _template_ready:
            return
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {_TEMPLATE} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {_TEMPLATE}")
        db = Database(_with_db(PG_ADMIN_URL, _TEMPLATE))
        try:
            upgrade(db)
        finally:
            db.dispose()
        atexit.register(_drop_template)
        _template_ready = True


def _drop_template() -> None:
    with contextlib.suppress(psycopg.Error), psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {_TEMPLATE} WITH (FORCE)")


@contextlib.contextmanager
def fresh_pg_url(*, empty: bool = False) -> Iterator[str]:
    """A new database: migrated (copied from a template), or ``empty``."""
    require_pg()
    if not empty:
        _ensure_template()
    name = f"podium_test_{uuid.uuid4().hex[:10]}"
    template = "" if empty else f" TEMPLATE {_TEMPLATE}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}{template}")
    try:
        yield _with_db(PG_ADMIN_URL, name)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Podium:
    """An engine and its API in this process, on a real database and a real port."""

    db: Database
    worker: Worker
    client: httpx.Client
    data_dir: Path
    admin_token: str = ""
    """The token the client sends: an admin's (``tester``)."""

    def push(self, yaml: str, *, active: bool = True) -> dict[str, Any]:
        response = self.client.post("/api/v1/workflows", json={"yaml": yaml, "active": active})
        assert response.status_code == 201, response.text
        return dict(response.json())

    def run(self, workflow_id: str, params: dict[str, Any] | None = None, **body: Any) -> int:
        response = self.client.post(
            f"/api/v1/workflows/{workflow_id}/instances", json={"params": params or {}, **body}
        )
        assert response.status_code == 201, response.text
        return int(response.json()["instance_id"])

    def settle(self, timeout_s: float = 10) -> None:
        """Wait until the engine has nothing to do now: every change asked for so far has been
        looked at (jobs may still run, and a row due later stays for later). Assert after it
        that something did not happen, instead of sleeping."""
        assert self.worker.idle.wait(timeout_s), "the engine did not settle"

    def status(self, workflow_id: str, instance_id: int) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/workflows/{workflow_id}/instances/{instance_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait(
        self,
        workflow_id: str,
        instance_id: int,
        *,
        timeout_s: float = 30,
        until: tuple[str, ...] = TERMINAL,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            doc = self.status(workflow_id, instance_id)
            if doc["status"] in until:
                return doc
            if time.monotonic() > deadline:
                raise AssertionError(f"instance still {doc['status']} after {timeout_s}s: {doc}")
            time.sleep(0.02)

    def wait_step(
        self, workflow_id: str, instance_id: int, step_id: str, status: str, timeout_s: float = 30
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            doc = self.status(workflow_id, instance_id)
            step = next(s for s in doc["steps"] if s["id"] == step_id)
            if step["status"] == status:
                return dict(step)
            if time.monotonic() > deadline:
                raise AssertionError(f"step {step_id} still {step['status']}: {doc}")
            time.sleep(0.02)

    def steps(self, doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {s["id"]: s for s in doc["steps"]}


@contextlib.contextmanager
def running_podium(
    db_url: str,
    data_dir: Path,
    *,
    lease_s: float = 3.0,
    kill_grace_s: float = 1.0,
    event_sinks: Sequence[str] = (),
) -> Iterator[Podium]:
    """``event_sinks`` also starts an event publisher delivering to them (docs/events.md)."""
    db = Database(db_url)
    try:
        upgrade(db)
    except BaseException:
        db.dispose()
        raise
    settings = Settings(
        db_url=db_url, data_dir=data_dir, lease_s=lease_s, kill_grace_s=kill_grace_s
    )
    worker = Worker(db, settings)
    worker.start()
    publisher = Publisher(
        db, parse_sinks(tuple(event_sinks)), poll_s=0.1, retry_s=0.05, max_retry_s=0.5
    )
    publisher.start()
    app = create_app(db, on_work=worker.notify, plans=worker.plans)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    token = admin_token(db)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, headers=bearer(token))
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "API did not start"
            time.sleep(0.01)
        yield Podium(db, worker, client, data_dir, token)
    finally:
        client.close()
        app.state.event_hub.close()  # open event streams end, as in a podium process
        server.should_exit = True
        thread.join(timeout=10)
        publisher.stop()
        worker.stop()
        db.dispose()


TEST_ADMIN = "tester"


def admin_token(db: Database) -> str:
    """A token of the admin ``tester``: the first principal of a fresh database, or one more
    token for it on a database that has principals already."""
    token = bootstrap_admin(db, TEST_ADMIN, os_user=None, now=time.time())
    if token is None:
        token = local_admin_token(
            db, f"test-{uuid.uuid4().hex[:8]}", principal=TEST_ADMIN, now=time.time()
        )
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def job_spans(trace: Path) -> dict[str, tuple[float, float]]:
    """The (start, end) of each job that wrote ``start KEY EPOCH`` and ``end KEY EPOCH``
    lines to ``trace``; a key that starts twice fails the test."""
    starts: dict[str, float] = {}
    found: dict[str, tuple[float, float]] = {}
    for line in trace.read_text().splitlines():
        kind, key, at = line.split()
        if kind == "start":
            assert key not in starts, f"{key} started twice"
            starts[key] = float(at)
        else:
            found[key] = (starts[key], float(at))
    return found


def max_overlap(spans: list[tuple[float, float]]) -> int:
    """The most spans running at one instant (an end sorts before a start at the same
    instant)."""
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running = peak = 0
    for _, delta in edges:
        running += delta
        peak = max(peak, running)
    return peak


class InProcessApi:
    """The API app called in this process, with no server, port or thread (ASGI in memory)."""

    def __init__(self, app: Any, token: str | None = None) -> None:
        """``token``: sent as the bearer of every request (None: requests carry no token)."""
        self.app = app
        self.headers = bearer(token) if token else {}

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if is_stream(httpx.URL(path).path):
            return asyncio.run(self._stream_opening(method, path, kwargs.get("headers") or {}))

        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://podium", headers=self.headers
            ) as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run(send())

    async def _stream_opening(
        self, method: str, path: str, headers: dict[str, str]
    ) -> httpx.Response:
        """An event stream never ends (httpx's ASGI transport would wait for its end): its
        status, headers and first frame, then the client goes away."""
        url = httpx.URL(path)
        sent = {**self.headers, **headers}
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": url.path,
            "raw_path": url.raw_path.split(b"?")[0],
            "query_string": url.query,
            "root_path": "",
            "headers": [(b"host", b"podium")]
            + [(k.lower().encode(), v.encode()) for k, v in sent.items()],
            "client": ("127.0.0.1", 1),
            "server": ("podium", 80),
        }
        answer: dict[str, Any] = {"body": b""}
        got_body = asyncio.Event()
        gone = asyncio.Event()

        async def receive() -> dict[str, Any]:
            if not answer.get("asked"):
                answer["asked"] = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                answer["body"] += message.get("body", b"")
                got_body.set()

        app = asyncio.create_task(self.app(scope, receive, send))
        waiter = asyncio.create_task(got_body.wait())
        await asyncio.wait([app, waiter], timeout=10, return_when=asyncio.FIRST_COMPLETED)
        gone.set()
        try:
            await asyncio.wait_for(app, 10)
        finally:
            waiter.cancel()
        return httpx.Response(answer["status"], headers=answer["headers"], content=answer["body"])

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)
