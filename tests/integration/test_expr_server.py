"""The whole hostile corpus through a running engine: each expression is refused at push or
stopped at run time as the user's error, and the engine runs the next workflow as before."""

from __future__ import annotations

import json
from typing import Any

from podium.definition import check_text
from tests.support import Podium
from tests.unit.test_expr_hostile import BOMBS, ESCAPES


def _value(kind: str, source: str) -> Any:
    return {"code": source} if kind == "code" else "${ " + source + " }"


def _workflow(workflow_id: str, values: list[Any]) -> str:
    steps = [
        {
            "id": f"h{i}",
            "type": "script",
            "on_failure": "ignore",
            "params": {"v": v},
            "script": "true",
        }
        for i, v in enumerate(values)
    ]
    return json.dumps({"id": workflow_id, "step_concurrency": 50, "steps": steps})


def test_a_server_that_met_the_hostile_corpus_runs_the_next_workflow(podium: Podium) -> None:
    refused_at_push, to_run = 0, []
    for kind, source, _budget in ESCAPES + BOMBS:
        value = _value(kind, source)
        _, problems = check_text(_workflow("probe", [value]))
        if problems:
            refused_at_push += 1
            response = podium.client.post(
                "/api/v1/workflows", json={"yaml": _workflow("probe", [value])}
            )
            assert response.status_code == 400, (source, response.text)
        else:
            to_run.append(value)
    assert refused_at_push + len(to_run) == len(ESCAPES + BOMBS) >= 50
    podium.push(_workflow("hostile", to_run))
    doc = podium.wait("hostile", podium.run("hostile"), timeout_s=120)
    assert doc["status"] == "SUCCEEDED"
    for step in doc["steps"]:
        assert step["status"] == "COMPLETED_WITH_ERROR", step
        assert step["error"]["kind"] == "user"
    podium.push("id: next\nsteps:\n  - id: a\n    type: script\n    script: echo still fine\n")
    assert podium.wait("next", podium.run("next"))["status"] == "SUCCEEDED"
