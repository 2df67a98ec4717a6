"""Params the workflow does not name are refused wherever a run's params are given: a start,
a dry run, a restart (400 invalid_input, every problem listed) and a subworkflow step."""

from __future__ import annotations

from typing import Any

from tests.support import Podium

DECLARED = """
id: declared
params:
  start: {type: int, default: 20240101}
  days: {type: int, default: 3}
steps:
  - {id: only, type: noop}
"""


def _refusal(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "invalid_input"
    return error


def test_a_start_and_a_dry_run_refuse_a_param_the_workflow_does_not_name(
    podium: Podium,
) -> None:
    podium.push(DECLARED)
    for route in ("instances", "dry-run"):
        error = _refusal(
            podium.client.post(
                f"/api/v1/workflows/declared/{route}", json={"params": {"dayz": 5, "other": 1}}
            )
        )
        problems = [p["message"] for p in error["details"]["problems"]]
        assert problems == [
            "param 'dayz' is not declared (did you mean 'days'?); "
            "the workflow declares start, days",
            "param 'other' is not declared; the workflow declares start, days",
        ]
        assert problems[0] in error["message"]
    assert podium.client.get("/api/v1/workflows/declared/instances").json()["instances"] == []
    # Declared names still work, and a run with no override (as a trigger starts one) too.
    assert podium.wait("declared", podium.run("declared", {"days": 5}))["params"]["days"] == 5
    assert podium.wait("declared", podium.run("declared"))["status"] == "SUCCEEDED"


def test_a_restart_refuses_an_unknown_param_or_a_wrong_type(podium: Podium) -> None:
    podium.push(DECLARED)
    iid = podium.run("declared")
    podium.wait("declared", iid)
    url = f"/api/v1/workflows/declared/instances/{iid}/restart"
    unknown = _refusal(podium.client.post(url, json={"from": "only", "params": {"dayz": 1}}))
    assert "(did you mean 'days'?)" in unknown["message"]
    wrong = _refusal(podium.client.post(url, json={"from": "only", "params": {"days": "x"}}))
    assert "param 'days' must be of type int" in wrong["message"]
    again = podium.client.post(url, json={"from": "only", "params": {"days": 9}})
    assert again.status_code == 200, again.text
    assert podium.wait("declared", iid)["params"]["days"] == 9


def test_a_workflow_without_params_takes_none(podium: Podium) -> None:
    podium.push("id: bare\nsteps:\n  - {id: only, type: noop}\n")
    error = _refusal(
        podium.client.post("/api/v1/workflows/bare/instances", json={"params": {"x": 1}})
    )
    assert "param 'x' is not declared: this workflow declares no params" in error["message"]


def test_a_subworkflow_that_passes_an_unknown_param_fails_its_step(podium: Podium) -> None:
    podium.push(DECLARED)
    podium.push(
        "id: caller\nsteps:\n  - {id: call, subworkflow: {workflow: declared, params: {dayz: 2}}}\n"
    )
    doc = podium.wait("caller", podium.run("caller"))
    assert doc["status"] == "FAILED"
    error = podium.steps(doc)["call"]["error"]
    assert "param 'dayz' is not declared (did you mean 'days'?)" in error["message"]
