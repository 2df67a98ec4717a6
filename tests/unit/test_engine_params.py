"""A run's params checked against the names the workflow declares (pure, no database)."""

from __future__ import annotations

from typing import Any

import pytest

from podium.engine import params
from podium.errors import InvalidInput
from podium.expr import Budgets

DEFINED: dict[str, Any] = {
    "start": {"type": "int", "default": 20240101},
    "days": {"type": "int", "default": 3},
    "label": "from ${ start }",
}


def _resolve(defined: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    trigger: dict[str, Any] = {"type": "cron", "scheduled_at": 0.0}
    run = params.run_namespace(workflow_id="wf", instance_id=1, version=1, trigger=trigger, at=0.0)
    return params.resolve_run_params(
        defined, overrides, run=run, signal=params.signal_namespace(trigger), budgets=Budgets()
    )


def test_declared_names_are_taken_and_no_override_is_what_a_trigger_gives() -> None:
    assert _resolve(DEFINED, {"days": 5}) == {
        "start": 20240101,
        "days": 5,
        "label": "from 20240101",
    }
    assert _resolve(DEFINED, {})["days"] == 3
    assert _resolve({}, {}) == {}


def test_an_undeclared_name_is_refused_with_the_names_and_a_suggestion() -> None:
    with pytest.raises(InvalidInput) as caught:
        _resolve(DEFINED, {"dayz": 5, "tabel": "x"})
    problems = [p["message"] for p in caught.value.details["problems"]]
    assert problems == [
        "param 'dayz' is not declared (did you mean 'days'?); "
        "the workflow declares start, days, label",
        "param 'tabel' is not declared (did you mean 'label'?); "
        "the workflow declares start, days, label",
    ]
    with pytest.raises(InvalidInput, match="this workflow declares no params"):
        _resolve({}, {"x": 1})


def test_a_restarts_overrides_name_declared_params_of_their_type() -> None:
    params.check_overrides(DEFINED, {"days": 4, "label": "anything"})
    with pytest.raises(InvalidInput, match=r"'dayz' is not declared \(did you mean 'days'\?\)"):
        params.check_overrides(DEFINED, {"dayz": 4})
    with pytest.raises(InvalidInput, match="param 'days' must be of type int"):
        params.check_overrides(DEFINED, {"days": "four"})
