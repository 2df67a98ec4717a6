"""How an attempt ended, what kind of failure that is, and the messages people read.

Pure: the worker observes a job's end as an :class:`Outcome`; these functions classify it
and word the errors and halts that the timeline and the API show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podium.engine import rules
from podium.engine.states import ErrorKind, Halt, StepStatus


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended, as the worker observed it."""

    exit_code: int | None
    outputs: dict[str, Any]
    error: str | None
    log_tail: str = ""
    platform: bool = False
    supervisor_reason: str | None = None
    ended_at: float | None = None
    milestones: tuple[tuple[float, str], ...] = ()


def failure_kind(outcome: Outcome, cancel_reason: str | None) -> ErrorKind | None:
    """The kind of failure of an ended attempt, or None if it succeeded."""
    if outcome.supervisor_reason == "timeout":
        return ErrorKind.TIMEOUT
    cancelled = rules.cancel_kind(cancel_reason)
    if cancelled is not None and (outcome.error is not None or outcome.exit_code != 0):
        return cancelled
    if outcome.platform:
        return ErrorKind.PLATFORM
    if outcome.error is not None:
        return ErrorKind.USER
    return None


def error_message(
    kind: ErrorKind, outcome: Outcome, cancel_reason: str | None, timeout_s: float | None
) -> str:
    """The message of a failed attempt's error (``timeout_s``: the step's timeout)."""
    if kind is ErrorKind.TIMEOUT:
        return f"timed out after {timeout_s:g}s (the step's timeout); its process group was killed"
    if kind is ErrorKind.STOPPED:
        return {
            "stop": "stopped by request",
            "fail_fast": "stopped because another step failed (on_failure: fail_fast)",
            "instance_timeout": "stopped because the instance timed out",
        }.get(cancel_reason or "", "stopped")
    return outcome.error or "failed"


def halt_message(halt: Halt | None) -> str:
    """Why a halted instance ended, or starts nothing new."""
    return (
        {
            Halt.STOPPED: "stopped by request",
            Halt.TIMED_OUT: "the instance ran past its timeout",
        }.get(halt, "a step failed")
        if halt
        else "failed"
    )


def halt_error(halt: Halt | None) -> dict[str, Any]:
    """The error of an instance that ended without succeeding and has none yet."""
    return {"kind": (halt or Halt.FAILED).value.lower(), "message": halt_message(halt)}


def stopped_error(message: str) -> dict[str, Any]:
    """The error of a step that was stopped."""
    return {"kind": ErrorKind.STOPPED.value, "message": message}


def stop_messages(reason: str) -> tuple[str, str]:
    """What a step stopped by ``reason`` (stop, fail_fast, instance_timeout) is told: one
    waiting for permits or signals, and one paused or waiting on a timer."""
    if reason == "stop":
        return "stopped while it waited", "stopped while waiting"
    return f"stopped ({reason})", f"stopped ({reason})"


def instance_error_from_step(
    step_id: str, status: StepStatus, error: dict[str, Any]
) -> dict[str, Any]:
    """The error of an instance halted by the end of step ``step_id``."""
    return {
        "kind": error["kind"],
        "step_id": step_id,
        "message": f"step {step_id!r} {status.value}: {error['message']}",
    }
