"""How a step made of child instances (a foreach, a subworkflow) ends: pure decisions."""

from __future__ import annotations

from typing import Any, Literal

from podium.engine.states import ErrorKind, InstanceStatus, StepStatus

IterationOutcome = Literal["succeeded", "failed", "other"]


def iteration_outcome(status: str) -> IterationOutcome:
    """How an ended iteration counts on its foreach step."""
    if status == InstanceStatus.SUCCEEDED:
        return "succeeded"
    if status in (InstanceStatus.FAILED, InstanceStatus.TIMED_OUT):
        return "failed"
    return "other"


def foreach_result(
    *, failed: int, other: int, ended: int, total: int, halted: bool, on_failure: str
) -> tuple[StepStatus, dict[str, Any] | None]:
    """A foreach step's final status and error, once none of its iterations runs."""
    if failed:
        status = StepStatus.COMPLETED_WITH_ERROR if on_failure == "ignore" else StepStatus.FAILED
        message = f"{failed} of {total} iterations failed"
        return status, {"kind": ErrorKind.USER.value, "message": message}
    if halted or other or ended < total:
        return StepStatus.STOPPED, {
            "kind": ErrorKind.STOPPED.value,
            "message": "its iterations were stopped",
        }
    return StepStatus.SUCCEEDED, None


def subworkflow_result(
    *,
    child_status: str,
    child_error: dict[str, Any] | None,
    where: str,
    on_failure: str,
) -> tuple[StepStatus, dict[str, Any] | None]:
    """A subworkflow step's final status and error, from its child instance's end
    (``where`` names the child for the message)."""
    if child_status == InstanceStatus.SUCCEEDED:
        return StepStatus.SUCCEEDED, None
    if child_status == InstanceStatus.STOPPED:
        return StepStatus.STOPPED, {
            "kind": ErrorKind.STOPPED.value,
            "message": f"{where} was stopped",
        }
    reason = (child_error or {}).get("message") or child_status
    error = {"kind": ErrorKind.USER.value, "message": f"{where} {child_status}: {reason}"}
    status = StepStatus.COMPLETED_WITH_ERROR if on_failure == "ignore" else StepStatus.FAILED
    return status, error
