"""The values that pass between the worker loop and the engine's transaction: what to launch,
what to kill, how a job ended, and how attempts are named."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podium.engine import rules
from podium.engine.plan import StepPlan
from podium.engine.states import ErrorKind, Halt
from podium.store.runs import InstanceRow


@dataclass(frozen=True)
class LaunchOrder:
    attempt_id: str
    instance: InstanceRow
    step: StepPlan
    attempt: int
    params: dict[str, Any]
    script: str
    attempt_dir: Path
    deadline_at: float | None
    resume: bool = False


@dataclass(frozen=True)
class CancelOrder:
    attempt_id: str
    host: str
    attempt_dir: str
    reason: str


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


def make_attempt_id(instance_pk: int, step_id: str, attempt: int) -> str:
    """An attempt's stable identity: it names its directory and makes launching idempotent."""
    return f"{instance_pk}-{step_id}-{attempt}"


def parse_attempt_id(attempt_id: str) -> tuple[int, str, int]:
    """``PK-STEP-N`` back into its parts (a step id holds no dash, so this is exact)."""
    pk, rest = attempt_id.split("-", 1)
    step_id, attempt = rest.rsplit("-", 1)
    return int(pk), step_id, int(attempt)


def failure_kind(outcome: Outcome, cancel_reason: str | None) -> ErrorKind | None:
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
    kind: ErrorKind, outcome: Outcome, cancel_reason: str | None, step: StepPlan
) -> str:
    if kind is ErrorKind.TIMEOUT:
        return f"timed out after {step.timeout_s:g}s (the step's timeout); its process group was killed"
    if kind is ErrorKind.STOPPED:
        return {
            "stop": "stopped by request",
            "fail_fast": "stopped because another step failed (on_failure: fail_fast)",
            "instance_timeout": "stopped because the instance timed out",
        }.get(cancel_reason or "", "stopped")
    return outcome.error or "failed"


def halt_message(halt: Halt | None) -> str:
    return (
        {
            Halt.STOPPED: "stopped by request",
            Halt.TIMED_OUT: "the instance ran past its timeout",
        }.get(halt, "a step failed")
        if halt
        else "failed"
    )
