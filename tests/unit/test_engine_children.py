"""How a foreach or subworkflow step ends, from how its child instances ended."""

from __future__ import annotations

import pytest

from podium.engine.children import foreach_result, iteration_outcome, subworkflow_result
from podium.engine.states import InstanceStatus, StepStatus


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (InstanceStatus.SUCCEEDED, "succeeded"),
        (InstanceStatus.FAILED, "failed"),
        (InstanceStatus.TIMED_OUT, "failed"),
        (InstanceStatus.STOPPED, "other"),
    ],
)
def test_iteration_outcomes(status: InstanceStatus, outcome: str) -> None:
    assert iteration_outcome(status.value) == outcome


def _foreach(**overrides: object) -> tuple[StepStatus, dict[str, object] | None]:
    facts: dict[str, object] = {
        "failed": 0,
        "other": 0,
        "ended": 3,
        "total": 3,
        "halted": False,
        "on_failure": "fail",
    }
    facts.update(overrides)
    return foreach_result(**facts)  # type: ignore[arg-type]


def test_a_foreach_whose_iterations_all_succeeded_succeeds() -> None:
    assert _foreach() == (StepStatus.SUCCEEDED, None)


def test_failed_iterations_fail_the_foreach_unless_ignored() -> None:
    error = {"kind": "user", "message": "1 of 3 iterations failed"}
    assert _foreach(failed=1) == (StepStatus.FAILED, error)
    assert _foreach(failed=1, on_failure="ignore") == (StepStatus.COMPLETED_WITH_ERROR, error)


@pytest.mark.parametrize("facts", [{"halted": True}, {"other": 1}, {"ended": 2}])
def test_a_foreach_cut_short_is_stopped(facts: dict[str, object]) -> None:
    error = {"kind": "stopped", "message": "its iterations were stopped"}
    assert _foreach(**facts) == (StepStatus.STOPPED, error)


def test_a_subworkflow_step_ends_as_its_child() -> None:
    where = "subworkflow 'report' instance 4"

    def result(status: str, on_failure: str = "fail") -> object:
        return subworkflow_result(
            child_status=status,
            child_error={"message": "boom"} if status == "FAILED" else None,
            where=where,
            on_failure=on_failure,
        )

    assert result("SUCCEEDED") == (StepStatus.SUCCEEDED, None)
    assert result("STOPPED") == (
        StepStatus.STOPPED,
        {"kind": "stopped", "message": f"{where} was stopped"},
    )
    failed = {"kind": "user", "message": f"{where} FAILED: boom"}
    assert result("FAILED") == (StepStatus.FAILED, failed)
    assert result("FAILED", "ignore") == (StepStatus.COMPLETED_WITH_ERROR, failed)
    timed_out = {"kind": "user", "message": f"{where} TIMED_OUT: TIMED_OUT"}
    assert result("TIMED_OUT") == (StepStatus.FAILED, timed_out)
