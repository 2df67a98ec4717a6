"""The event stream over HTTP (server-sent events), on SQLite and PostgreSQL: what a client
following an instance sees, resuming after a break, and ``podium run --wait`` reading the
instance only when it changed."""

from __future__ import annotations

import contextlib
import io
import threading
import time
from typing import Any

import httpx
import pytest
from rich.console import Console

from podium.cli.client import PodiumClient
from podium.cli.watch import POLL_INTERVAL_S, wait_for_end
from tests.support import Podium

CHAIN = """
id: followed
steps:
  - {id: a, type: script, script: "echo a"}
  - {id: b, type: script, script: "sleep 1.5", depends_on: [a]}
  - {id: c, type: noop, depends_on: [b]}
"""
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")


def client_of(podium: Podium) -> PodiumClient:
    return PodiumClient(str(podium.client.base_url), token=podium.admin_token)


def collect(
    client: PodiumClient, workflow_id: str, instance: int | None, **options: Any
) -> tuple[list[dict[str, Any]], threading.Event, threading.Thread]:
    """Follow in a thread until the instance ends; the events, 'open', the thread."""
    events: list[dict[str, Any]] = []
    opened = threading.Event()

    def run() -> None:
        stream = client.follow_events(
            workflow_id, None if instance is None else str(instance), on_open=opened.set, **options
        )
        with contextlib.closing(stream):
            for event in stream:
                events.append(event)
                payload = event["payload"]
                if event["topic"] == "instance.status" and payload["status"] in TERMINAL:
                    return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return events, opened, thread


def test_a_follower_sees_every_change_of_the_instance_once_in_order(podium: Podium) -> None:
    podium.push(CHAIN)
    client = client_of(podium)
    assert podium.run("followed") == 1
    # From the first event: what is already in the outbox, then what comes, no seam.
    events, _, thread = collect(client, "followed", 1, after=0)
    thread.join(30)
    assert not thread.is_alive()
    ids = [e["id"] for e in events]
    assert ids == sorted(set(ids))
    assert {e["key"] for e in events} == {"followed/1"}
    statuses = [(e["payload"].get("step_id"), e["payload"]["status"]) for e in events]
    assert statuses[0] == (None, "CREATED") and statuses[-1] == (None, "SUCCEEDED")
    for step in ("a", "b"):
        assert statuses.index((step, "RUNNING")) < statuses.index((step, "SUCCEEDED"))
    assert (("c", "SUCCEEDED")) in statuses
    assert all(e["topic"] != "audit.change" for e in events)

    # Reconnecting after an id sends what came after it, and nothing before.
    middle = ids[len(ids) // 2]
    again, _, thread_again = collect(client, "followed", 1, after=middle)
    thread_again.join(10)
    assert [e["id"] for e in again] == [i for i in ids if i > middle]
    client.close()


def test_a_workflow_stream_carries_each_of_its_instances(podium: Podium) -> None:
    podium.push(CHAIN.replace("sleep 1.5", "true"))
    client = client_of(podium)
    events: list[dict[str, Any]] = []
    opened = threading.Event()
    ended: set[str] = set()

    def run() -> None:
        stream = client.follow_events("followed", None, on_open=opened.set)
        with contextlib.closing(stream):
            for event in stream:
                events.append(event)
                if event["topic"] == "instance.status" and event["payload"]["status"] in TERMINAL:
                    ended.add(event["key"])
                    if len(ended) == 2:
                        return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert opened.wait(10)
    podium.run("followed")
    podium.run("followed")
    thread.join(30)
    assert ended == {"followed/1", "followed/2"}
    client.close()


def waited(
    podium: Podium, yaml: str, live: Console | None = None
) -> tuple[dict[str, Any], list[float]]:
    """``podium run --wait``'s following of a new instance of ``yaml``: the final document, and
    when the instance was read."""
    podium.push(yaml)
    client = client_of(podium)
    instance = str(podium.run("followed"))
    reads: list[float] = []

    def fetch() -> dict[str, Any]:
        reads.append(time.monotonic())
        return client.instance("followed", instance)

    def follow(**options: Any) -> Any:
        return client.follow_events("followed", instance, **options)

    try:
        return wait_for_end(fetch, follow=follow, live=live), reads
    finally:
        client.close()


def test_run_wait_reads_the_instance_when_it_changes_not_every_interval(podium: Podium) -> None:
    started = time.monotonic()
    final, reads = waited(podium, CHAIN)
    took = time.monotonic() - started
    assert final["status"] == "SUCCEEDED"
    polled = took / POLL_INTERVAL_S
    # Polling would have read it about 8 times while `sleep 1.5` ran; following the stream
    # reads it once per burst of changes (each step starting and ending).
    assert polled > 7 and len(reads) <= 4, (len(reads), polled)


def test_run_wait_polls_a_server_without_the_stream(podium: Podium) -> None:
    podium.push(CHAIN.replace("sleep 1.5", "true"))
    client = client_of(podium)
    instance = str(podium.run("followed"))

    def refused(**options: Any) -> Any:
        # A stream the server refuses (here: of a workflow it does not have), as a server
        # without the endpoint would: a real 404.
        return client.follow_events("no_such_workflow", None, **options)

    final = wait_for_end(lambda: client.instance("followed", instance), follow=refused)
    assert final["status"] == "SUCCEEDED"
    client.close()


def test_refusals_are_the_usual_errors(podium: Podium) -> None:
    base = "/api/v1/workflows"
    assert podium.client.get(f"{base}/nope/events").json()["error"]["code"] == (
        "workflow_not_found"
    )
    podium.push(CHAIN)
    answer = podium.client.get(f"{base}/followed/events", headers={"Last-Event-ID": "x1"})
    assert answer.status_code == 400 and "Last-Event-ID" in answer.json()["error"]["message"]
    answer = podium.client.get(f"{base}/followed/events", params={"instance": 99})
    assert answer.status_code == 404
    answer = podium.client.get(f"{base}/followed/events", params={"after": -1})
    assert answer.status_code == 400
    anonymous = httpx.get(f"{podium.client.base_url}{base}/followed/events")
    assert anonymous.status_code == 401


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_an_id_committed_after_a_higher_one_is_still_sent(podium: Podium) -> None:
    """PostgreSQL commits outbox ids out of order: the lower one, seen later, is not lost."""
    from podium.store.schema import outbox

    podium.push(CHAIN)
    client = client_of(podium)
    events: list[dict[str, Any]] = []
    opened = threading.Event()

    def run() -> None:
        stream = client.follow_events("followed", None, on_open=opened.set)
        with contextlib.closing(stream):
            for event in stream:
                events.append(event)
                if len(events) == 2:
                    return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert opened.wait(10)
    row = {"at": time.time(), "topic": "step.milestone", "payload": {"n": 0}}
    with podium.db.engine.connect() as slow:
        slow.execute(outbox.insert().values(**row, key="followed/7"))  # the lower id
        with podium.db.transaction() as fast:
            fast.execute(outbox.insert().values(**row, key="followed/8"))
        time.sleep(0.5)  # the higher id is visible, and handed on, first
        slow.commit()
    thread.join(10)
    assert sorted(e["key"] for e in events) == ["followed/7", "followed/8"]
    assert [e["key"] for e in events] == ["followed/8", "followed/7"]
    client.close()


def test_the_live_view_redraws_without_reading_the_instance_each_time(podium: Podium) -> None:
    screen = io.StringIO()
    live = Console(file=screen, force_terminal=True, width=100)
    final, reads = waited(podium, CHAIN.replace("sleep 1.5", "sleep 2.5"), live)
    assert final["status"] == "SUCCEEDED"
    assert len(reads) <= 4, len(reads)  # the redraws each second read nothing
    assert "followed" in screen.getvalue() and "elapsed" in screen.getvalue()
