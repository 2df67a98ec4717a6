"""Runtime parameters and expressions, end to end on both databases."""

from __future__ import annotations

from pathlib import Path

from tests.support import Podium

PLAN_AND_USE = """
id: params_flow
params:
  start: {type: int, default: 20240130}
  days: {type: int, default: 3}
  who: {type: string, required: true}
  greeting: "hello ${ who }"
steps:
  - id: plan
    type: python
    outputs: [dates, total]
    params:
      end: "${ dates.add(start, days=days - 1) }"
    script: |
      from podium.job import params, set_output
      p = params()
      set_output("dates", [p["start"], p["end"]])
      set_output("total", p["days"])
  - id: use
    type: script
    depends_on: [plan]
    params:
      first: "${ plan.dates[0] }"
      span: {code: "n = 0\\nfor d in plan.dates:\\n    n += 1\\nreturn n"}
      note: "from ${ plan.dates[0] } to ${ plan.dates[-1] }"
    script: |
      echo "${ greeting }: ${ note } (${ plan.total } days) HOME=${HOME:+set}"
"""


def test_step_params_read_upstream_outputs_and_scripts_are_filled_in(podium: Podium) -> None:
    podium.push(PLAN_AND_USE)
    iid = podium.run("params_flow", {"who": "ann", "days": 5})
    doc = podium.wait("params_flow", iid)
    assert doc["status"] == "SUCCEEDED", doc
    assert doc["params"] == {"start": 20240130, "days": 5, "who": "ann", "greeting": "hello ann"}
    steps = podium.steps(doc)
    assert steps["plan"]["params"]["end"] == 20240203
    use = steps["use"]["params"]
    assert use["first"] == 20240130 and use["span"] == 2
    assert use["note"] == "from 20240130 to 20240203"
    log = podium.client.get(f"/api/v1/workflows/params_flow/instances/{iid}/steps/use/logs").json()[
        "text"
    ]
    assert log == "hello ann: from 20240130 to 20240203 (5 days) HOME=set\n"


def test_a_missing_required_param_or_a_wrong_type_refuses_the_start(podium: Podium) -> None:
    podium.push(PLAN_AND_USE)
    missing = podium.client.post("/api/v1/workflows/params_flow/instances", json={})
    assert missing.status_code == 400
    assert "'who' is required" in missing.json()["error"]["message"]
    wrong = podium.client.post(
        "/api/v1/workflows/params_flow/instances", json={"params": {"who": "x", "days": "two"}}
    )
    assert wrong.status_code == 400
    assert "'days' must be of type int" in wrong.json()["error"]["message"]
    listed = podium.client.get("/api/v1/workflows/params_flow/instances").json()
    assert listed["instances"] == []


def test_dry_run_resolves_what_is_known_and_runs_nothing(podium: Podium) -> None:
    podium.push(PLAN_AND_USE)
    response = podium.client.post(
        "/api/v1/workflows/params_flow/dry-run", json={"params": {"who": "bo"}}
    )
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["params"]["greeting"] == "hello bo"
    steps = {s["id"]: s for s in doc["steps"]}
    assert steps["plan"]["params"]["end"] == 20240201
    assert steps["use"]["waits_for_outputs_of"] == ["plan"]
    assert podium.client.get("/api/v1/workflows/params_flow/instances").json()["instances"] == []


def test_an_exhausted_budget_fails_the_step_and_the_engine_goes_on(
    podium: Podium, tmp_path: Path
) -> None:
    bombs = [
        "${ 'a' * 10**9 }",
        "${ [0] * 10**9 }",
        "${ 10 ** 10 ** 10 }",
        "${ len(range(10**12)) }",
        "${ [x for x in range(10**9)] }",
    ]
    steps = "\n".join(
        f"  - id: bomb{i}\n    type: script\n    on_failure: ignore\n"
        f'    params: {{value: "{bomb}"}}\n    script: "true"'
        for i, bomb in enumerate(bombs)
    )
    podium.push(f"id: bombs\nsteps:\n{steps}\n")
    doc = podium.wait("bombs", podium.run("bombs"))
    assert doc["status"] == "SUCCEEDED"
    for step in doc["steps"]:
        assert step["status"] == "COMPLETED_WITH_ERROR"
        assert step["error"]["kind"] == "user"
        assert "budget" in step["error"]["message"]
    podium.push("id: after\nsteps:\n  - id: a\n    type: script\n    script: echo fine\n")
    assert podium.wait("after", podium.run("after"))["status"] == "SUCCEEDED"


def test_a_fail_call_fails_the_step_with_its_message(podium: Podium) -> None:
    podium.push("""
id: checked
params: {rows: 0}
steps:
  - id: gate
    type: script
    params:
      ok: {code: "if rows == 0:\\n    fail('no rows to load')\\nreturn True"}
    script: "true"
""")
    doc = podium.wait("checked", podium.run("checked"))
    step = podium.steps(doc)["gate"]
    assert (doc["status"], step["status"]) == ("FAILED", "FAILED")
    assert "no rows to load" in step["error"]["message"]
    assert step["error"]["message"].startswith("params.ok")
