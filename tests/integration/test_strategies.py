"""Run strategies: instances started in a set order; their order, outcomes and reasons."""

from __future__ import annotations

import time
from pathlib import Path

from tests.support import Podium


def flow(strategy: str, trace: Path, *, seconds: float = 0.6, extra: str = "") -> str:
    return f"""
id: {strategy}_flow
run_strategy: {strategy}
{extra}
params: {{fail: false}}
steps:
  - id: work
    type: script
    script: |
      echo "start $PODIUM_INSTANCE_ID" >> {trace}
      sleep {seconds}
      echo "end $PODIUM_INSTANCE_ID" >> {trace}
      [ "$PODIUM_PARAM_FAIL" != true ]
"""


def events(trace: Path) -> list[str]:
    return trace.read_text().splitlines() if trace.exists() else []


def test_sequential_runs_one_at_a_time_first_in_first_out(podium: Podium, tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    podium.push(flow("sequential", trace, seconds=0.3))
    ids = [podium.run("sequential_flow") for _ in range(3)]
    deadline = time.monotonic() + 10
    while True:  # the reason is written once the engine has looked at the new instance
        queued = podium.client.get("/api/v1/workflows/sequential_flow").json()["queued"]
        reasons = [q["waiting"] or "" for q in queued]
        if any("sequential: 1 of 1 allowed instance running" in r for r in reasons):
            break
        assert time.monotonic() < deadline, queued
        time.sleep(0.02)
    assert ids[2] in [q["instance_id"] for q in queued]
    for iid in ids:
        assert podium.wait("sequential_flow", iid, timeout_s=30)["status"] == "SUCCEEDED"
    assert events(trace) == [f"{kind} {i}" for i in ids for kind in ("start", "end")]


def test_strict_sequential_blocks_after_a_failure_until_restart_or_unblock(
    podium: Podium, tmp_path: Path
) -> None:
    trace = tmp_path / "trace"
    podium.push(flow("strict_sequential", trace, seconds=0.1))
    failed = podium.run("strict_sequential_flow", {"fail": True})
    later = [podium.run("strict_sequential_flow") for _ in range(3)]
    assert podium.wait("strict_sequential_flow", failed)["status"] == "FAILED"
    podium.settle()
    for iid in later:
        assert podium.status("strict_sequential_flow", iid)["status"] == "CREATED"
    info = podium.client.get("/api/v1/workflows/strict_sequential_flow").json()
    assert [q["instance_id"] for q in info["queued"]] == later
    assert "blocked by failed instance" in info["queued"][0]["waiting"]
    # Restarting the failed instance to success lets the queue go on.
    podium.client.post(
        f"/api/v1/workflows/strict_sequential_flow/instances/{failed}/restart",
        json={"params": {"fail": False}},
    )
    for iid in later:
        assert podium.wait("strict_sequential_flow", iid, timeout_s=30)["status"] == "SUCCEEDED"
    # A second failure blocks again; unblock lets the next one start.
    again = podium.run("strict_sequential_flow", {"fail": True})
    assert podium.wait("strict_sequential_flow", again)["status"] == "FAILED"
    blocked = podium.run("strict_sequential_flow")
    podium.settle()
    assert podium.status("strict_sequential_flow", blocked)["status"] == "CREATED"
    response = podium.client.post("/api/v1/workflows/strict_sequential_flow/unblock")
    assert response.status_code == 200
    assert podium.wait("strict_sequential_flow", blocked, timeout_s=30)["status"] == "SUCCEEDED"


def test_first_only_refuses_a_new_instance_while_one_runs(podium: Podium, tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    podium.push(flow("first_only", trace, seconds=1.5))
    first = podium.run("first_only_flow")
    podium.wait_step("first_only_flow", first, "work", "RUNNING")
    second = podium.run("first_only_flow")
    refused = podium.wait("first_only_flow", second)
    assert refused["status"] == "STOPPED"
    assert "first_only: instance" in refused["error"]["message"]
    assert podium.wait("first_only_flow", first)["status"] == "SUCCEEDED"
    assert events(trace) == [f"start {first}", f"end {first}"]


def test_last_only_stops_the_running_instance_for_the_new_one(
    podium: Podium, tmp_path: Path
) -> None:
    trace = tmp_path / "trace"
    podium.push(flow("last_only", trace, seconds=30))
    first = podium.run("last_only_flow")
    podium.wait_step("last_only_flow", first, "work", "RUNNING")
    second = podium.run("last_only_flow")
    stopped = podium.wait("last_only_flow", first, timeout_s=20)
    assert stopped["status"] == "STOPPED"
    assert "superseded by instance" in stopped["error"]["message"]
    podium.wait_step("last_only_flow", second, "work", "RUNNING", timeout_s=20)
    podium.client.post(f"/api/v1/workflows/last_only_flow/instances/{second}/stop")
    assert podium.wait("last_only_flow", second, timeout_s=20)["status"] == "STOPPED"


def test_parallel_caps_instances_at_its_concurrency(podium: Podium, tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    podium.push(flow("parallel", trace, seconds=0.4, extra="concurrency: 2"))
    ids = [podium.run("parallel_flow") for _ in range(5)]
    for iid in ids:
        assert podium.wait("parallel_flow", iid, timeout_s=30)["status"] == "SUCCEEDED"
    running = peak = 0
    for line in events(trace):
        running += 1 if line.startswith("start") else -1
        peak = max(peak, running)
    assert peak == 2
    # Admitted first come first: the engine's start times follow the instance numbers (the
    # jobs of instances started together may still race to write their lines).
    started = [podium.status("parallel_flow", iid)["started_at"] for iid in ids]
    assert started == sorted(started)
