"""Restart: a new run of an ended instance that keeps what succeeded."""

from __future__ import annotations

from pathlib import Path

from tests.support import Podium

FLOW = """
id: restartable
params: {ok: false, trace: "TRACE"}
steps:
  - id: a
    type: python
    outputs: [n]
    script: |
      from podium.job import params, set_output
      open(params()["trace"], "a").write("a\\n")
      set_output("n", 7)
  - id: b
    type: script
    depends_on: [a]
    params: {n: "${ a.n }"}
    script: |
      echo b >> "$PODIUM_PARAM_TRACE"
      [ "$PODIUM_PARAM_OK" = true ]
  - id: c
    type: script
    depends_on: [b]
    script: echo c >> "$PODIUM_PARAM_TRACE"
  - id: side
    type: script
    depends_on: [a]
    script: echo side >> "$PODIUM_PARAM_TRACE"
"""


def test_restart_reruns_what_did_not_succeed_and_keeps_the_rest(
    podium: Podium, tmp_path: Path
) -> None:
    trace = tmp_path / "trace"
    podium.push(FLOW.replace("TRACE", str(trace)))
    iid = podium.run("restartable")
    first = podium.wait("restartable", iid)
    assert first["status"] == "FAILED"
    restarted = podium.client.post(
        f"/api/v1/workflows/restartable/instances/{iid}/restart", json={"params": {"ok": True}}
    )
    assert restarted.status_code == 200, restarted.text
    assert restarted.json()["rerun"] == ["b", "c"]
    doc = podium.wait("restartable", iid)
    steps = podium.steps(doc)
    assert doc["status"] == "SUCCEEDED" and doc["run"] == 2
    assert (steps["a"]["attempts"], steps["b"]["attempts"], steps["c"]["attempts"]) == (1, 2, 1)
    assert steps["b"]["params"]["n"] == 7  # read from a's kept outputs
    lines = trace.read_text().splitlines()
    assert sorted(lines[:3]) == ["a", "b", "side"] and lines[3:] == ["b", "c"]


def test_restart_from_a_step_reruns_exactly_its_downstream_set(
    podium: Podium, tmp_path: Path
) -> None:
    trace = tmp_path / "trace"
    podium.push(FLOW.replace("TRACE", str(trace)))
    iid = podium.run("restartable", {"ok": True})
    assert podium.wait("restartable", iid)["status"] == "SUCCEEDED"
    nothing = podium.client.post(f"/api/v1/workflows/restartable/instances/{iid}/restart")
    assert nothing.status_code == 409
    trace.write_text("")
    response = podium.client.post(
        f"/api/v1/workflows/restartable/instances/{iid}/restart", json={"from": "b"}
    )
    assert response.json()["rerun"] == ["b", "c"]
    doc = podium.wait("restartable", iid)
    assert doc["status"] == "SUCCEEDED"
    assert trace.read_text().splitlines() == ["b", "c"]
    steps = podium.steps(doc)
    assert (steps["a"]["attempts"], steps["side"]["attempts"], steps["b"]["attempts"]) == (1, 1, 2)


def test_a_running_instance_cannot_be_restarted(podium: Podium) -> None:
    podium.push("id: busy\nsteps:\n  - id: a\n    type: sleep\n    seconds: 30\n")
    iid = podium.run("busy")
    podium.wait_step("busy", iid, "a", "RUNNING")
    response = podium.client.post(f"/api/v1/workflows/busy/instances/{iid}/restart")
    assert response.status_code == 409
    assert "only an ended instance" in response.json()["error"]["message"]
