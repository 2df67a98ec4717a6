"""The event stream into NATS JetStream, on a nats-server of the test's own that it stops
and starts again in the middle of a run."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
import sqlalchemy as sa

from podium.store.database import Database
from tests.integration.test_events import CHAIN, outbox_ids, wait_for
from tests.support import free_port, in_ci, running_podium

NATS_SERVER = "/usr/sbin/nats-server"

NAPS = """
id: naps
steps:
""" + "".join(
    f"  - {{id: nap{i}, type: sleep, seconds: 0.4{', depends_on: [nap' + str(i - 1) + ']' if i else ''}}}\n"
    for i in range(6)
)


def require_nats_server() -> str:
    """Skip without nats-server on a laptop; fail in CI, where .ci/run installs it."""
    found = shutil.which("nats-server") or (NATS_SERVER if Path(NATS_SERVER).exists() else None)
    if found:
        return found
    if in_ci():
        pytest.fail(f"nats-server is not installed ({NATS_SERVER}); .ci/run must install it")
    pytest.skip("nats-server is not installed (apt-get install nats-server)")


class NatsServer:
    """A JetStream server whose store survives a stop, on a fixed port."""

    def __init__(self, binary: str, store_dir: Path) -> None:
        self.binary = binary
        self.store_dir = store_dir
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [self.binary, "-js", "-sd", str(self.store_dir), "-p", str(self.port)]
        self.process = subprocess.Popen(
            [*command, "-a", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while True:
            assert self.process.poll() is None, "nats-server exited at start"
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "nats-server did not listen"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(require_nats_server(), tmp_path / "jetstream")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def consume(url: str, stream: str, subjects: str) -> list[dict[str, Any]]:
    """Every message of the stream, in stream order, as a consumer reads them."""

    async def read() -> list[dict[str, Any]]:
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            sub = await js.pull_subscribe(subjects, durable="reader", stream=stream)
            events: list[dict[str, Any]] = []
            while True:
                try:
                    messages = await sub.fetch(100, timeout=1)
                except nats.errors.TimeoutError:
                    return events
                for message in messages:
                    event = json.loads(message.data)
                    assert message.headers is not None
                    assert message.headers["Nats-Msg-Id"] == str(event["id"])
                    assert message.subject == f"{subjects[:-2]}.{event['topic']}"
                    events.append(event)
                    await message.ack()
        finally:
            await nc.close()

    return asyncio.run(read())


def cursor(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(sa.text("SELECT max(last_id) FROM outbox_cursors")).scalar() or 0)


def check_complete(events: list[dict[str, Any]], ids: list[int]) -> None:
    """De-duplicated by id, the stream holds every outbox row, in order for each key."""
    unique = {e["id"]: e for e in events}
    assert sorted(unique) == ids
    per_key = sorted(events, key=lambda e: e["key"])
    for _, group in itertools.groupby(per_key, key=lambda e: e["key"]):
        key_ids = [e["id"] for e in group]
        assert key_ids == sorted(key_ids)
    first_seen = list(dict.fromkeys(e["id"] for e in events))
    assert first_seen == sorted(first_seen)


def test_a_run_lands_in_jetstream(db_url: str, tmp_path: Path, nats_server: NatsServer) -> None:
    with running_podium(db_url, tmp_path / "data", event_sinks=[nats_server.url]) as podium:
        podium.push(CHAIN)
        instance_id = podium.run("chain")
        assert podium.wait("chain", instance_id)["status"] == "SUCCEEDED"
        wait_for(lambda: cursor(podium.db) == outbox_ids(podium.db)[-1], what="acks")
        ids = outbox_ids(podium.db)

    events = consume(nats_server.url, "PODIUM", "podium.events.>")
    assert [e["id"] for e in events] == ids
    topics = {e["topic"] for e in events if e["key"] == f"chain/{instance_id}"}
    assert {"instance.status", "step.status", "step.retry"} <= topics


def test_nats_down_during_a_run_loses_nothing(
    db_url: str, tmp_path: Path, nats_server: NatsServer
) -> None:
    url = f"{nats_server.url}?stream=RUNS&subject=acme.podium"
    with running_podium(db_url, tmp_path / "data", event_sinks=[url]) as podium:
        podium.push(NAPS)
        instance_id = podium.run("naps")
        wait_for(lambda: cursor(podium.db) > 0, what="a first event acknowledged")
        nats_server.stop()
        assert podium.wait("naps", instance_id)["status"] == "SUCCEEDED"
        held_back = outbox_ids(podium.db)[-1]
        assert cursor(podium.db) < held_back
        nats_server.start()
        wait_for(lambda: cursor(podium.db) == held_back, what="the held-back events")
        ids = outbox_ids(podium.db)

    check_complete(consume(nats_server.url, "RUNS", "acme.podium.>"), ids)
