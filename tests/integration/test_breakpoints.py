"""Breakpoints: a step pauses before it runs, with its params resolved; resume lets it go."""

from __future__ import annotations

from tests.support import Podium

FLOW = """
id: paused_flow
params: {n: 2}
steps:
  - {id: first, type: sleep, seconds: 0.5}
  - id: second
    type: script
    depends_on: [first]
    params: {double: "${ n * 2 }"}
    script: echo "$PODIUM_PARAM_DOUBLE"
  - {id: third, type: noop, depends_on: [second]}
"""


def _bp(podium: Podium, step: str, instance_id: int | None = None) -> None:
    response = podium.client.post(
        "/api/v1/workflows/paused_flow/breakpoints",
        json={"step_id": step, "instance_id": instance_id},
    )
    assert response.status_code == 201, response.text


def test_a_breakpoint_pauses_before_the_step_and_resume_completes(podium: Podium) -> None:
    podium.push(FLOW)
    _bp(podium, "second")
    iid = podium.run("paused_flow")
    paused = podium.wait_step("paused_flow", iid, "second", "PAUSED")
    assert paused["params"]["double"] == 4 and paused["attempts"] == 0
    podium.settle()
    doc = podium.status("paused_flow", iid)
    assert doc["status"] == "IN_PROGRESS"
    assert podium.steps(doc)["third"]["status"] == "CREATED"
    # Clearing the breakpoint does not release the step already paused.
    cleared = podium.client.delete("/api/v1/workflows/paused_flow/breakpoints/second")
    assert cleared.json()["removed"] is True
    podium.settle()
    assert podium.steps(podium.status("paused_flow", iid))["second"]["status"] == "PAUSED"
    resumed = podium.client.post(
        f"/api/v1/workflows/paused_flow/instances/{iid}/steps/second/resume"
    )
    assert resumed.status_code == 200, resumed.text
    doc = podium.wait("paused_flow", iid)
    assert doc["status"] == "SUCCEEDED"
    assert podium.steps(doc)["second"]["attempts"] == 1
    again = podium.client.post(f"/api/v1/workflows/paused_flow/instances/{iid}/steps/second/resume")
    assert again.status_code == 409
    # With the breakpoint cleared, the next instance runs straight through.
    assert podium.wait("paused_flow", podium.run("paused_flow"))["status"] == "SUCCEEDED"


def test_a_breakpoint_on_one_instance_leaves_the_others_alone(podium: Podium) -> None:
    podium.push(FLOW)
    first = podium.run("paused_flow")
    other = podium.run("paused_flow")
    _bp(podium, "second", instance_id=first)
    podium.wait_step("paused_flow", first, "second", "PAUSED")
    assert podium.wait("paused_flow", other)["status"] == "SUCCEEDED"
    stop = podium.client.post(f"/api/v1/workflows/paused_flow/instances/{first}/stop")
    assert stop.status_code == 200
    doc = podium.wait("paused_flow", first)
    assert doc["status"] == "STOPPED"
    assert podium.steps(doc)["second"]["status"] == "STOPPED"


def test_a_breakpoint_on_an_unknown_step_is_refused(podium: Podium) -> None:
    podium.push(FLOW)
    response = podium.client.post(
        "/api/v1/workflows/paused_flow/breakpoints", json={"step_id": "secnd"}
    )
    assert response.status_code == 404
    assert "has no step 'secnd'" in response.json()["error"]["message"]
