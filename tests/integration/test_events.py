"""The event stream on SQLite and PostgreSQL: the outbox delivered to a JSON-lines file and to
a webhook that fails, every event at least once, in id order."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from podium.store.database import Database
from podium.store.schema import outbox
from tests.support import Podium, free_port, running_podium

CHAIN = """
id: chain
steps:
  - id: first
    type: script
    script: echo one
  - id: flaky
    type: script
    depends_on: [first]
    retries: {limit: 1, delay: 0s}
    script: |
      [ "$PODIUM_ATTEMPT" -ge 2 ] || exit 3
  - id: last
    type: noop
    depends_on: [flaky]
"""


def outbox_ids(db: Database) -> list[int]:
    with db.read() as conn:
        return list(conn.execute(sa.select(outbox.c.id).order_by(outbox.c.id)).scalars())


def wait_for(check: Callable[[], bool], *, timeout_s: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def first_of_each(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a consumer keeps when it de-duplicates by id."""
    seen: set[int] = set()
    kept = []
    for event in events:
        if event["id"] not in seen:
            seen.add(event["id"])
            kept.append(event)
    return kept


def test_a_run_lands_in_the_jsonl_file_complete_and_in_order(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with running_podium(db_url, tmp_path / "data", event_sinks=[f"file://{path}"]) as podium:
        podium.push(CHAIN)
        instance_id = podium.run("chain")
        assert podium.wait("chain", instance_id)["status"] == "SUCCEEDED"
        wait_for(
            lambda: [e["id"] for e in read_lines(path)] == outbox_ids(podium.db),
            what="every outbox row in the file",
        )
        ids = outbox_ids(podium.db)

    events = read_lines(path)
    assert [e["id"] for e in events] == ids
    assert all(a < b for a, b in itertools.pairwise(ids))
    assert set(events[0]) == {"id", "at", "topic", "key", "payload"}
    assert events[0]["at"].endswith("+00:00")
    mine = [e for e in events if e["key"] == f"chain/{instance_id}"]
    topics = [e["topic"] for e in mine]
    assert {"instance.status", "step.status", "step.retry"} <= set(topics)
    statuses = [e["payload"]["status"] for e in mine if e["topic"] == "instance.status"]
    assert statuses[-1] == "SUCCEEDED"


def test_workflow_changes_are_events(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with running_podium(db_url, tmp_path / "data", event_sinks=[f"file://{path}"]) as podium:
        podium.push(CHAIN)
        podium.push(CHAIN.replace("echo one", "echo two"), active=False)
        assert podium.client.post("/api/v1/workflows/chain/activate", json={}).status_code == 200
        assert podium.client.post("/api/v1/workflows/chain/deactivate").status_code == 200
        wait_for(lambda: len(read_lines(path)) == 9, what="five workflow and four audit events")

    lines = read_lines(path)
    events = [(e["topic"], e["key"], e["payload"]) for e in lines if e["topic"] != "audit.change"]
    assert events == [
        ("workflow.pushed", "chain", {"workflow_id": "chain", "version": 1, "active": True}),
        (
            "workflow.activated",
            "chain",
            {"workflow_id": "chain", "version": 1, "previous_version": None},
        ),
        ("workflow.pushed", "chain", {"workflow_id": "chain", "version": 2, "active": False}),
        (
            "workflow.activated",
            "chain",
            {"workflow_id": "chain", "version": 2, "previous_version": 1},
        ),
        ("workflow.deactivated", "chain", {"workflow_id": "chain", "previous_version": 2}),
    ]
    # Each change through the door is also an audit event naming who made it.
    audits = [e["payload"] for e in lines if e["topic"] == "audit.change"]
    assert [(a["actor"], a["action"], a["workflow_id"]) for a in audits] == [
        ("tester", "workflow.push", "chain"),
        ("tester", "workflow.push", "chain"),
        ("tester", "workflow.activate", "chain"),
        ("tester", "workflow.deactivate", "chain"),
    ]


class Receiver:
    """A real webhook endpoint that answers 500 to its first ``failures`` requests."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.requests = 0
        self.accepted: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with receiver.lock:
                    receiver.requests += 1
                    fail = receiver.requests <= receiver.failures
                    if not fail:
                        receiver.accepted.extend(body["events"])
                self.send_response(500 if fail else 204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        return Handler


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver(failures=3)
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), receiver.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver, f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_failing_webhook_gets_every_event_in_order(
    db_url: str, tmp_path: Path, receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    dead = f"http://127.0.0.1:{free_port()}/nobody"
    path = tmp_path / "events.jsonl"
    sinks = [url, dead, f"file://{path}"]
    with running_podium(db_url, tmp_path / "data", event_sinks=sinks) as podium:
        podium.push(CHAIN)
        for instance_id in [podium.run("chain") for _ in range(3)]:
            assert podium.wait("chain", instance_id)["status"] == "SUCCEEDED"
        wait_for(lambda: all_delivered(podium, hook), what="every event at the webhook")
        ids = outbox_ids(podium.db)
        # A sink that is down holds back only its own events.
        assert [e["id"] for e in read_lines(path)] == ids

        def cursors() -> dict[str, int]:
            with podium.db.read() as conn:
                rows = conn.execute(sa.text("SELECT sink, last_id FROM outbox_cursors")).all()
            return {sink: int(last_id) for sink, last_id in rows}

        # The cursor moves right after the sink acknowledged the batch.
        wait_for(lambda: cursors()[url] == ids[-1], what="the webhook's cursor at the end")
        assert cursors()[dead] == 0

    assert hook.requests > hook.failures
    kept = first_of_each(hook.accepted)
    assert [e["id"] for e in kept] == ids


def all_delivered(podium: Podium, hook: Receiver) -> bool:
    with hook.lock:
        got = {e["id"] for e in hook.accepted}
    return got == set(outbox_ids(podium.db))
