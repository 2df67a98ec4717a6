"""Subworkflows: a step runs another workflow's instance and ends with it."""

from __future__ import annotations

from tests.support import Podium

CHILD = """
id: send_report
params:
  day: {type: int, required: true}
steps:
  - id: send
    type: python
    outputs: [message_id]
    script: |
      from podium.job import params, set_output
      set_output("message_id", f"msg-{params()['day']}")
"""

PARENT = """
id: nightly_parent
steps:
  - id: report
    subworkflow: {workflow: send_report, params: {day: 20240105}}
  - id: after
    type: noop
    depends_on: [report]
    params: {sent: "${ report.send.message_id }"}
"""


def test_a_subworkflow_runs_its_workflow_and_hands_its_outputs_on(podium: Podium) -> None:
    podium.push(CHILD)
    podium.push(PARENT)
    iid = podium.run("nightly_parent")
    doc = podium.wait("nightly_parent", iid, timeout_s=30)
    assert doc["status"] == "SUCCEEDED", doc
    steps = podium.steps(doc)
    link = steps["report"]["params"]
    assert link["workflow"] == "send_report" and link["version"] == 1
    assert steps["report"]["outputs"] == {"send": {"message_id": "msg-20240105"}}
    assert steps["after"]["params"]["sent"] == "msg-20240105"
    child = podium.status("send_report", link["instance_id"])
    assert child["status"] == "SUCCEEDED"
    assert child["trigger"]["parent"] == {
        "workflow_id": "nightly_parent",
        "instance_id": iid,
        "step_id": "report",
    }
    listed = podium.client.get("/api/v1/workflows/send_report/instances").json()["instances"]
    assert [i["instance_id"] for i in listed] == [link["instance_id"]]


def test_a_subworkflow_of_a_subworkflow(podium: Podium) -> None:
    podium.push(
        "id: leaf\nsteps:\n  - {id: a, type: python, outputs: [v], script: \"from podium.job import set_output\\nset_output('v', 3)\"}\n"
    )
    podium.push("id: middle\nsteps:\n  - {id: call, subworkflow: {workflow: leaf}}\n")
    podium.push("id: top\nsteps:\n  - {id: call, subworkflow: {workflow: middle}}\n")
    doc = podium.wait("top", podium.run("top"), timeout_s=30)
    assert doc["status"] == "SUCCEEDED"
    assert podium.steps(doc)["call"]["outputs"] == {"call": {"a": {"v": 3}}}


def test_a_failing_subworkflow_fails_its_step(podium: Podium) -> None:
    podium.push("id: broken\nsteps:\n  - {id: a, type: script, script: 'exit 4'}\n")
    podium.push("id: caller\nsteps:\n  - {id: call, subworkflow: {workflow: broken}}\n")
    doc = podium.wait("caller", podium.run("caller"), timeout_s=30)
    step = podium.steps(doc)["call"]
    assert (doc["status"], step["status"]) == ("FAILED", "FAILED")
    assert "subworkflow 'broken' instance 1 FAILED" in step["error"]["message"]
    missing = podium.push("id: lost\nsteps:\n  - {id: call, subworkflow: {workflow: nowhere}}\n")
    assert missing["version"] == 1
    doc = podium.wait("lost", podium.run("lost"))
    assert "no workflow 'nowhere'" in podium.steps(doc)["call"]["error"]["message"]


def test_cycles_are_refused_at_push_and_depth_is_limited(podium: Podium) -> None:
    podium.push("id: ping\nsteps:\n  - {id: call, subworkflow: {workflow: pong}}\n")
    refused = podium.client.post(
        "/api/v1/workflows",
        json={"yaml": "id: pong\nsteps:\n  - {id: call, subworkflow: {workflow: ping}}\n"},
    )
    assert refused.status_code == 400
    problem = refused.json()["error"]["details"]["problems"][0]
    assert problem == {
        "location": "steps[0].subworkflow",
        "message": "subworkflow cycle: pong -> ping -> pong; a workflow cannot call itself",
    }
    for level in range(11, -1, -1):
        body = (
            "{id: a, type: noop}"
            if level == 11
            else f"{{id: a, subworkflow: {{workflow: deep{level + 1}}}}}"
        )
        podium.push(f"id: deep{level}\nsteps:\n  - {body}\n")
    doc = podium.wait("deep0", podium.run("deep0"), timeout_s=60)
    assert doc["status"] == "FAILED"
    deepest = podium.status("deep10", 1)
    assert "depth limit (10)" in podium.steps(deepest)["a"]["error"]["message"]


def test_stopping_the_parent_stops_the_child(podium: Podium) -> None:
    podium.push("id: slow_child\nsteps:\n  - {id: wait, type: script, script: 'sleep 60'}\n")
    podium.push("id: slow_parent\nsteps:\n  - {id: call, subworkflow: {workflow: slow_child}}\n")
    iid = podium.run("slow_parent")
    podium.wait_step("slow_parent", iid, "call", "RUNNING")
    child_id = podium.steps(podium.status("slow_parent", iid))["call"]["params"]["instance_id"]
    podium.wait_step("slow_child", child_id, "wait", "RUNNING")
    podium.client.post(f"/api/v1/workflows/slow_parent/instances/{iid}/stop")
    assert podium.wait("slow_parent", iid, timeout_s=20)["status"] == "STOPPED"
    assert podium.wait("slow_child", child_id, timeout_s=20)["status"] == "STOPPED"


def test_a_foreach_runs_a_workflow_per_iteration(podium: Podium) -> None:
    podium.push(CHILD)
    podium.push("""
id: per_day
steps:
  - id: days
    foreach:
      over: {day: [20240101, 20240102, 20240103]}
      subworkflow: {workflow: send_report, params: {day: "${ day }"}}
  - id: sent
    type: noop
    depends_on: [days]
    params: {ids: "${ days.send.message_id }"}
""")
    doc = podium.wait("per_day", podium.run("per_day"), timeout_s=60)
    steps = podium.steps(doc)
    assert doc["status"] == "SUCCEEDED", doc
    assert steps["days"]["iterations"]["succeeded"] == 3
    assert steps["sent"]["params"]["ids"] == ["msg-20240101", "msg-20240102", "msg-20240103"]
    broken = podium.client.post(
        "/api/v1/workflows",
        json={
            "yaml": """
id: loops_back
steps:
  - id: each
    foreach:
      over: {x: [1]}
      subworkflow: {workflow: loops_back}
"""
        },
    )
    assert broken.status_code == 400
    assert "loops_back -> loops_back" in broken.text
