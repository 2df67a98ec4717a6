"""The engine's decisions as pure functions: no database, no process, no clock.

The worker gathers the facts, asks these functions, and writes what they answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podium.engine.plan import RetryPolicy
from podium.engine.states import ErrorKind, Halt, InstanceStatus, StepStatus


@dataclass(frozen=True)
class Retry:
    delay_s: float


@dataclass(frozen=True)
class GiveUp:
    status: StepStatus


def backoff_delay_s(policy: RetryPolicy, retry_number: int) -> float:
    """Delay before retry ``retry_number`` (1-based): fixed, or doubling up to max_delay."""
    if policy.backoff == "fixed":
        return policy.delay_s
    exponent = min(retry_number - 1, 60)
    return float(min(policy.delay_s * (2**exponent), policy.max_delay_s))


def decide_after_failure(
    policy: RetryPolicy,
    kind: ErrorKind,
    *,
    user_errors: int,
    platform_errors: int,
    on_failure: str,
    halted: bool,
) -> Retry | GiveUp:
    """After a failed attempt whose error is already counted: retry, or the step's final status.

    User errors (and time-outs, which are the job's own doing) use ``limit``; platform
    errors (a lost worker, a failed launch) use ``platform_limit``: they are counted apart
    so an unstable machine does not eat the user's retries.
    """
    if kind is ErrorKind.STOPPED:
        return GiveUp(StepStatus.STOPPED)
    if not halted:
        if kind is ErrorKind.PLATFORM and platform_errors <= policy.platform_limit:
            return Retry(backoff_delay_s(policy, platform_errors))
        if kind is not ErrorKind.PLATFORM and user_errors <= policy.limit:
            return Retry(backoff_delay_s(policy, user_errors))
    if on_failure == "ignore":
        return GiveUp(StepStatus.COMPLETED_WITH_ERROR)
    if kind is ErrorKind.TIMEOUT:
        return GiveUp(StepStatus.TIMED_OUT)
    return GiveUp(StepStatus.FAILED)


def halt_for_step_end(status: StepStatus, on_failure: str) -> Halt | None:
    """Whether a step that just ended stops the instance from starting new steps."""
    if status in (StepStatus.FAILED, StepStatus.TIMED_OUT):
        return Halt.FAIL_FAST if on_failure == "fail_fast" else Halt.FAILED
    return None


def skipped_by_dependencies(deps_total: int, live_deps: int) -> bool:
    """A step whose dependencies were all skipped is skipped too."""
    return deps_total > 0 and live_deps == 0


def instance_verdict(
    *, steps_total: int, steps_done: int, steps_active: int, halt: Halt | None
) -> InstanceStatus | None:
    """The instance's final status once nothing runs any more, else None."""
    if steps_active > 0:
        return None
    if halt is None:
        return InstanceStatus.SUCCEEDED if steps_done >= steps_total else None
    return {
        Halt.FAILED: InstanceStatus.FAILED,
        Halt.FAIL_FAST: InstanceStatus.FAILED,
        Halt.STOPPED: InstanceStatus.STOPPED,
        Halt.TIMED_OUT: InstanceStatus.TIMED_OUT,
    }[halt]


def stronger_halt(current: Halt | None, new: Halt) -> Halt:
    """The first reason to halt wins, with two upgrades: a stop or time-out overrides a
    failure (the instance ends STOPPED or TIMED_OUT), and a ``fail_fast`` failure overrides a
    plain one (the steps still running must be stopped)."""
    if current is None:
        return new
    if current in (Halt.FAILED, Halt.FAIL_FAST) and new in (Halt.STOPPED, Halt.TIMED_OUT):
        return new
    if current is Halt.FAILED and new is Halt.FAIL_FAST:
        return new
    return current


def step_params(
    instance_params: Mapping[str, Any], own_params: Mapping[str, Any]
) -> dict[str, Any]:
    """A step sees the workflow's params, shadowed by its own."""
    return {**instance_params, **own_params}


def cancel_kind(reason: str | None) -> ErrorKind | None:
    """How a job's end reads when the engine itself killed it."""
    if reason == "timeout":
        return ErrorKind.TIMEOUT
    if reason in ("stop", "fail_fast"):
        return ErrorKind.STOPPED
    if reason == "instance_timeout":
        return ErrorKind.STOPPED
    return None


def outputs_problem(outputs: Mapping[str, Any], limit_bytes: int) -> str | None:
    """Outputs are stored with the step and read by its dependents, so they are capped."""
    size = len(json.dumps(outputs, separators=(",", ":")).encode())
    if size <= limit_bytes:
        return None
    return (
        f"the step's outputs are {size} bytes, over the limit of {limit_bytes}; "
        "write large results to storage and return their location"
    )
