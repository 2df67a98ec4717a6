"""Signals: announced, deduplicated, starting workflows by trigger groups, releasing waits."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from tests.integration.test_engine import _count_claims
from tests.support import Podium


def announce(podium: Podium, name: str, **body: Any) -> dict[str, Any]:
    response = podium.client.post("/api/v1/signals", json={"name": name, **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


def instances(podium: Podium, workflow_id: str) -> list[dict[str, Any]]:
    response = podium.client.get(f"/api/v1/workflows/{workflow_id}/instances")
    assert response.status_code == 200, response.text
    return list(response.json()["instances"])


WAITER = """
id: waiter
steps:
  - id: load
    type: noop
    wait_for:
      - name: partition_landed
        match: {table: db.users, partition: "${ run.date }"}
  - {id: after, type: noop, depends_on: [load]}
"""


def test_a_step_waits_for_its_signal_without_work_and_goes_at_once(podium: Podium) -> None:
    podium.push(WAITER)
    iid = podium.run("waiter")
    step = podium.wait_step("waiter", iid, "load", "WAITING_FOR_SIGNALS")
    today = int(datetime.now().astimezone().strftime("%Y%m%d"))
    run_date = podium.status("waiter", iid)["params"] or {}
    assert step["waiting_for_signals"][0]["name"] == "partition_landed"
    match = step["waiting_for_signals"][0]["match"]
    assert match["table"] == "db.users" and abs(match["partition"] - today) <= 1, run_date
    # Waiting costs the engine nothing: not one claim while it waits.
    podium.settle()
    assert _count_claims(podium, seconds=1.5) == 0
    # A signal for another partition does not release it.
    other = announce(podium, "partition_landed", params={"table": "db.users", "partition": 1})
    assert other["released"] == 0
    podium.settle()
    assert podium.steps(podium.status("waiter", iid))["load"]["status"] == "WAITING_FOR_SIGNALS"
    sent = time.time()
    done = announce(
        podium, "partition_landed", params={"table": "db.users", "partition": match["partition"]}
    )
    assert done["released"] == 1
    doc = podium.wait("waiter", iid)
    assert doc["status"] == "SUCCEEDED"
    started = datetime.fromisoformat(podium.steps(doc)["load"]["started_at"]).timestamp()
    assert started - sent < 1.0  # released within a second of the signal
    events = podium.client.get(f"/api/v1/workflows/waiter/instances/{iid}/timeline").json()
    statuses = [e["detail"].get("status") for e in events["events"] if e["step_id"] == "load"]
    assert statuses[:2] == ["WAITING_FOR_SIGNALS", "SUCCEEDED"]


def test_a_signal_already_announced_since_the_instance_began_counts(podium: Podium) -> None:
    podium.push(
        """
id: late_waiter
steps:
  - {id: first, type: sleep, seconds: 0.5}
  - id: load
    type: noop
    depends_on: [first]
    wait_for: [{name: ready, match: {n: {">=": 5}}}]
"""
    )
    announce(podium, "ready", params={"n": 7})  # before the instance: does not count
    iid = podium.run("late_waiter")
    podium.wait_step("late_waiter", iid, "load", "WAITING_FOR_SIGNALS", timeout_s=10)
    announce(podium, "ready", params={"n": 3})  # does not match
    podium.settle()
    assert podium.steps(podium.status("late_waiter", iid))["load"]["status"] == (
        "WAITING_FOR_SIGNALS"
    )
    second = podium.run("late_waiter")
    announce(podium, "ready", params={"n": 5})  # releases the first; already there for the second
    assert podium.wait("late_waiter", iid)["status"] == "SUCCEEDED"
    doc = podium.wait("late_waiter", second)
    assert doc["status"] == "SUCCEEDED"
    timeline = podium.client.get(f"/api/v1/workflows/late_waiter/instances/{second}/timeline")
    statuses = [e["detail"].get("status") for e in timeline.json()["events"]]
    assert "WAITING_FOR_SIGNALS" not in statuses


TRIGGERED = """
id: joiner
trigger:
  signals:
    - - name: table_updated
        match: {table: db.events}
      - name: partition_landed
        match: {table: db.users, partition: {">=": 20240101}}
    - - name: rerun
params:
  day: "${ signal.partition }"
steps:
  - {id: a, type: noop}
"""


def test_a_two_signal_group_starts_one_instance_per_complete_set(podium: Podium) -> None:
    podium.push(TRIGGERED.replace('"${ signal.partition }"', "0"))
    podium.push(TRIGGERED)
    first = announce(podium, "table_updated", params={"table": "db.events"})
    assert first["started"] == []
    low = announce(podium, "partition_landed", params={"table": "db.users", "partition": 2023})
    assert low["started"] == []  # does not match {">=": 20240101}
    done = announce(podium, "partition_landed", params={"table": "db.users", "partition": 20240105})
    assert done["started"] == [{"workflow_id": "joiner", "instance_id": 1}]
    doc = podium.wait("joiner", 1)
    assert doc["status"] == "SUCCEEDED"
    assert doc["params"] == {"day": 20240105}
    assert doc["trigger"]["type"] == "signal"
    assert [s["name"] for s in doc["trigger"]["signals"]] == ["table_updated", "partition_landed"]
    # The set was used: one more signal of the group starts nothing; the other group alone does.
    again = announce(
        podium, "partition_landed", params={"table": "db.users", "partition": 20240106}
    )
    assert again["started"] == []
    alone = announce(podium, "rerun", params={"partition": 1})
    assert alone["started"] == [{"workflow_id": "joiner", "instance_id": 2}]
    assert podium.wait("joiner", 2)["params"] == {"day": 1}
    # A deactivated workflow is not started by its trigger.
    podium.client.post("/api/v1/workflows/joiner/deactivate").raise_for_status()
    assert announce(podium, "rerun")["started"] == []
    assert len(instances(podium, "joiner")) == 2


def test_a_request_id_makes_announcing_again_harmless(podium: Podium) -> None:
    podium.push("id: once\ntrigger: {signals: [[{name: go}]]}\nsteps: [{id: a, type: noop}]\n")
    first = announce(podium, "go", params={"x": 1}, request_id="req-1")
    second = announce(podium, "go", params={"x": 1}, request_id="req-1")
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    assert first["seq"] == second["seq"] == 1
    assert second["started"] == []
    third = announce(podium, "go", params={"x": 1}, request_id="req-2")
    assert third["seq"] == 2 and len(third["started"]) == 1
    listed = podium.client.get("/api/v1/signals", params={"name": "go"}).json()["signals"]
    assert [s["seq"] for s in listed] == [2, 1]


def test_emits_announces_on_success_and_drives_triggers_and_waits(podium: Podium) -> None:
    podium.push(
        """
id: consumer
trigger: {signals: [[{name: table_updated, match: {table: db.b}}]]}
params: {rows: "${ signal.rows }"}
steps: [{id: use, type: noop}]
"""
    )
    podium.push(
        """
id: producer
steps:
  - id: write
    type: noop
    params: {n: 42}
    emits: [{name: table_updated, params: {table: db.b, rows: "${ n }"}}]
"""
    )
    podium.run("producer")
    deadline = time.monotonic() + 10
    while not instances(podium, "consumer"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    doc = podium.wait("consumer", 1)
    assert doc["status"] == "SUCCEEDED" and doc["params"] == {"rows": 42}
    (signal,) = podium.client.get("/api/v1/signals").json()["signals"]
    assert signal["params"] == {"table": "db.b", "rows": 42}


def test_a_waiting_step_can_be_skipped_or_stopped(podium: Podium) -> None:
    podium.push(WAITER)
    skipped, stopped = podium.run("waiter"), podium.run("waiter")
    podium.wait_step("waiter", skipped, "load", "WAITING_FOR_SIGNALS")
    podium.wait_step("waiter", stopped, "load", "WAITING_FOR_SIGNALS")
    response = podium.client.post(f"/api/v1/workflows/waiter/instances/{skipped}/steps/load/skip")
    assert response.status_code == 200, response.text
    doc = podium.wait("waiter", skipped)
    assert doc["status"] == "SUCCEEDED"
    assert [s["status"] for s in doc["steps"]] == ["SKIPPED", "SKIPPED"]
    again = podium.client.post(f"/api/v1/workflows/waiter/instances/{skipped}/steps/load/skip")
    assert again.status_code == 409
    podium.client.post(f"/api/v1/workflows/waiter/instances/{stopped}/stop").raise_for_status()
    doc = podium.wait("waiter", stopped)
    assert doc["status"] == "STOPPED"
    assert podium.steps(doc)["load"]["status"] == "STOPPED"
    # Nothing waits any more: a matching signal releases nobody.
    today = podium.steps(podium.status("waiter", stopped))["load"]
    assert "waiting_for_signals" not in today
    assert announce(podium, "partition_landed", params={"table": "db.users"})["released"] == 0


def test_bad_signals_are_refused_with_what_to_fix(podium: Podium) -> None:
    bad = podium.client.post("/api/v1/signals", json={"name": "no spaces"})
    assert bad.status_code == 400 and "bad signal name" in bad.text
    wrong_op = podium.client.post(
        "/api/v1/workflows",
        json={
            "yaml": "id: w\nsteps: [{id: a, type: noop, wait_for: "
            "[{name: s, match: {p: {'~': 1}}}]}]\n"
        },
    )
    assert wrong_op.status_code == 400
    assert "unknown comparison '~'" in wrong_op.text
