"""Past PODIUM_MAX_IN_FLIGHT requests in flight, the API answers 429 with Retry-After at once,
serves the others, and never sheds /api/v1/health; the CLI's client waits and retries."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from podium.api.shedding import is_stream
from podium.cli.client import PodiumClient
from tests.support import Podium, running_podium

LIMIT = 4


@pytest.fixture
def busy_podium(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Podium]:
    monkeypatch.setenv("PODIUM_MAX_IN_FLIGHT", str(LIMIT))
    with running_podium(db_url, tmp_path / "data") as podium:
        yield podium


def hold_requests(podium: Podium, count: int) -> list[socket.socket]:
    """Requests kept in flight: their headers sent, their bodies not yet."""
    url = httpx.URL(str(podium.client.base_url))
    token = podium.client.headers["Authorization"]
    held = []
    for _ in range(count):
        sock = socket.create_connection((url.host, url.port))
        sock.sendall(
            b"POST /api/v1/workflows HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n"
            + f"Authorization: {token}\r\n\r\n".encode()
            + b'{"yaml": "'
        )
        held.append(sock)
    return held


def test_requests_past_the_limit_are_shed_with_retry_after(busy_podium: Podium) -> None:
    podium = busy_podium
    held = hold_requests(podium, LIMIT)
    try:
        deadline = time.monotonic() + 10
        while True:
            shed = podium.client.get("/api/v1/workflows")
            if shed.status_code == 429 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert shed.status_code == 429, shed.text
        assert shed.headers["retry-after"] == "1"
        assert shed.json()["error"]["code"] == "overloaded"
        assert "PODIUM_MAX_IN_FLIGHT" in shed.json()["error"]["message"]
        assert podium.client.get("/api/v1/health").status_code == 200  # never shed
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 10
    while podium.client.get("/api/v1/workflows").status_code == 429:
        assert time.monotonic() < deadline, "the held requests were never let go"
        time.sleep(0.05)


def test_the_cli_client_waits_out_a_shed_request(busy_podium: Podium) -> None:
    podium = busy_podium
    held = hold_requests(podium, LIMIT)
    client = PodiumClient(str(podium.client.base_url), token=podium.admin_token)
    started = time.monotonic()

    def release() -> None:
        time.sleep(1.5)
        for sock in held:
            sock.close()

    releaser = threading.Thread(target=release, daemon=True)
    releaser.start()
    try:
        assert "workflows" in client.get("/workflows")
        assert time.monotonic() - started >= 1.0  # it was shed, waited and sent again
    finally:
        releaser.join()
        client.close()


@pytest.fixture
def few_streams(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Podium]:
    monkeypatch.setenv("PODIUM_MAX_IN_FLIGHT", "2")
    monkeypatch.setenv("PODIUM_MAX_EVENT_STREAMS", "3")
    with running_podium(db_url, tmp_path / "data") as podium:
        yield podium


def test_event_streams_are_counted_apart_from_requests(few_streams: Podium) -> None:
    """Followers hold their connections open: they never crowd out requests, and past
    PODIUM_MAX_EVENT_STREAMS a new one is refused with 429."""
    podium = few_streams
    podium.push("id: watched\nsteps:\n  - {id: a, type: noop}\n")
    base = str(podium.client.base_url)
    headers = {"Authorization": podium.client.headers["Authorization"]}
    path = "/api/v1/workflows/watched/events"
    with contextlib.ExitStack() as streams:
        for _ in range(3):
            client = streams.enter_context(httpx.Client(base_url=base, headers=headers))
            response = streams.enter_context(client.stream("GET", path))
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
        # Three streams open, more than PODIUM_MAX_IN_FLIGHT: requests are still served.
        assert podium.client.get("/api/v1/workflows/watched").status_code == 200
        refused = podium.client.get(path)
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        assert "PODIUM_MAX_EVENT_STREAMS" in refused.json()["error"]["message"]
    # Closed streams free their places (once the server has seen their clients go).
    deadline = time.monotonic() + 10
    while True:
        with podium.client.stream("GET", path) as again:
            if again.status_code == 200 or time.monotonic() > deadline:
                break
        time.sleep(0.05)
    assert again.status_code == 200


def test_only_the_event_stream_path_counts_as_a_stream() -> None:
    assert is_stream("/api/v1/workflows/etl/events")
    assert not is_stream("/api/v1/workflows/events")  # the workflow named events
    assert not is_stream("/api/v1/workflows/etl/instances/1/events")
