"""How every benchmark figure is taken: on the client's clock, from the moment the trigger is
sent to the moment a client sees the result committed.

The engine stamps a change with the time its transaction began; the change becomes visible when
that transaction commits, which for a cascade of steps decided in one transaction is later (a
chain of 100 ``noop`` steps commits about 100 ms after its stamps). So no figure here is read off
the server's timestamps: a client sends the trigger, notes ``time.time()``, and polls the API; a
result counts from the arrival of the first answer that shows it. The error is at most one poll
interval plus one request, and the intervals grow with the run so that polling never loads the
server it measures: 1 ms for the first 2 s, 10 ms up to 30 s, 100 ms after that.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED", "TIMED_OUT")


def poll_interval_s(elapsed_s: float) -> float:
    if elapsed_s < 2:
        return 0.001
    return 0.01 if elapsed_s < 30 else 0.1


def start(client: httpx.Client, workflow_id: str, body: dict[str, Any] | None = None) -> int:
    response = client.post(f"/api/v1/workflows/{workflow_id}/instances", json=body or {})
    response.raise_for_status()
    return int(response.json()["instance_id"])


def seen_done(
    client: httpx.Client, workflow_id: str, instance_id: int, *, since: float, timeout_s: float
) -> tuple[float, dict[str, Any]]:
    """Poll one instance until it has ended; return when a client saw that, and its document."""
    path = f"/api/v1/workflows/{workflow_id}/instances/{instance_id}"
    while True:
        response = client.get(path)
        seen = time.time()
        response.raise_for_status()
        doc: dict[str, Any] = response.json()
        if doc["status"] in TERMINAL:
            return seen, doc
        if seen - since > timeout_s:
            raise RuntimeError(f"{workflow_id}/{instance_id} did not finish in {timeout_s} s")
        time.sleep(poll_interval_s(seen - since))


def run_to_end(
    client: httpx.Client,
    workflow_id: str,
    *,
    timeout_s: float = 120,
    body: dict[str, Any] | None = None,
) -> tuple[float, dict[str, Any]]:
    """Start an instance and follow it: seconds from sending the start to seeing it ended."""
    sent = time.time()
    instance_id = start(client, workflow_id, body)
    seen, doc = seen_done(client, workflow_id, instance_id, since=sent, timeout_s=timeout_s)
    return seen - sent, doc


def all_seen_done(
    client: httpx.Client, workflow_id: str, count: int, *, since: float, timeout_s: float
) -> tuple[float, list[dict[str, Any]]]:
    """Poll a workflow's instance list (one request) until its newest ``count`` have ended."""
    while True:
        response = client.get(f"/api/v1/workflows/{workflow_id}/instances", params={"limit": count})
        seen = time.time()
        response.raise_for_status()
        rows: list[dict[str, Any]] = response.json()["instances"]
        if len(rows) >= count and all(r["status"] in TERMINAL for r in rows):
            return seen, rows
        if seen - since > timeout_s:
            raise RuntimeError(f"{workflow_id}: not all {count} instances ended in {timeout_s} s")
        time.sleep(poll_interval_s(seen - since))
