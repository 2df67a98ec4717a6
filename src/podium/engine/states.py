"""The instance and step state machines of DSL.md, as data.

Every status change the engine makes is checked against these tables, so an illegal
transition is a bug that fails loudly instead of a state that silently rots.
"""

from __future__ import annotations

from enum import StrEnum


class InstanceStatus(StrEnum):
    CREATED = "CREATED"
    IN_PROGRESS = "IN_PROGRESS"
    PAUSED = "PAUSED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"
    TIMED_OUT = "TIMED_OUT"


class StepStatus(StrEnum):
    CREATED = "CREATED"
    WAITING_FOR_SIGNALS = "WAITING_FOR_SIGNALS"
    WAITING_FOR_PERMITS = "WAITING_FOR_PERMITS"
    PAUSED = "PAUSED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    STOPPED = "STOPPED"
    TIMED_OUT = "TIMED_OUT"
    COMPLETED_WITH_ERROR = "COMPLETED_WITH_ERROR"


class ErrorKind(StrEnum):
    USER = "user"
    PLATFORM = "platform"
    TIMEOUT = "timeout"
    STOPPED = "stopped"


class Halt(StrEnum):
    """Why an instance starts no new step: a failure, a stop, or its time-out."""

    FAILED = "FAILED"
    FAIL_FAST = "FAIL_FAST"
    STOPPED = "STOPPED"
    TIMED_OUT = "TIMED_OUT"


TERMINAL_INSTANCE = frozenset(
    {
        InstanceStatus.SUCCEEDED,
        InstanceStatus.FAILED,
        InstanceStatus.STOPPED,
        InstanceStatus.TIMED_OUT,
    }
)

TERMINAL_STEP = frozenset(
    {
        StepStatus.SUCCEEDED,
        StepStatus.FAILED,
        StepStatus.SKIPPED,
        StepStatus.STOPPED,
        StepStatus.TIMED_OUT,
        StepStatus.COMPLETED_WITH_ERROR,
    }
)

# Statuses after which dependents may run (a skipped dependency counts, see live_deps).
DEPENDENCY_MET = frozenset(
    {StepStatus.SUCCEEDED, StepStatus.SKIPPED, StepStatus.COMPLETED_WITH_ERROR}
)

_WAITING = (
    StepStatus.WAITING_FOR_SIGNALS,
    StepStatus.WAITING_FOR_PERMITS,
    StepStatus.PAUSED,
)

STEP_TRANSITIONS: dict[StepStatus, frozenset[StepStatus]] = {
    StepStatus.CREATED: frozenset({*_WAITING, StepStatus.RUNNING, *TERMINAL_STEP}),
    StepStatus.WAITING_FOR_SIGNALS: frozenset({*_WAITING, StepStatus.RUNNING, *TERMINAL_STEP}),
    StepStatus.WAITING_FOR_PERMITS: frozenset({*_WAITING, StepStatus.RUNNING, *TERMINAL_STEP}),
    StepStatus.PAUSED: frozenset({*_WAITING, StepStatus.RUNNING, *TERMINAL_STEP}),
    # RUNNING -> CREATED is a retry waiting for its back-off.
    StepStatus.RUNNING: frozenset({StepStatus.CREATED, *TERMINAL_STEP} - {StepStatus.SKIPPED}),
    **{status: frozenset() for status in TERMINAL_STEP},
}

INSTANCE_TRANSITIONS: dict[InstanceStatus, frozenset[InstanceStatus]] = {
    InstanceStatus.CREATED: frozenset(
        {InstanceStatus.IN_PROGRESS, InstanceStatus.STOPPED, InstanceStatus.FAILED}
    ),
    InstanceStatus.IN_PROGRESS: frozenset({InstanceStatus.PAUSED, *TERMINAL_INSTANCE}),
    InstanceStatus.PAUSED: frozenset({InstanceStatus.IN_PROGRESS, *TERMINAL_INSTANCE}),
    **{status: frozenset() for status in TERMINAL_INSTANCE},
}


class IllegalTransition(RuntimeError):
    """A bug in the engine: the state machine forbids this change."""


def check_step_transition(old: StepStatus, new: StepStatus) -> None:
    if new not in STEP_TRANSITIONS[old]:
        raise IllegalTransition(f"step cannot go from {old} to {new}")


def check_instance_transition(old: InstanceStatus, new: InstanceStatus) -> None:
    if new not in INSTANCE_TRANSITIONS[old]:
        raise IllegalTransition(f"instance cannot go from {old} to {new}")


# Guards for a step's status change, derived from the table above.
LIVE_STEP: tuple[StepStatus, ...] = tuple(s for s in StepStatus if s not in TERMINAL_STEP)
"""Statuses a step can end from."""
STARTABLE_STEP: tuple[StepStatus, ...] = tuple(
    s
    for s in StepStatus
    if s is not StepStatus.RUNNING and StepStatus.RUNNING in STEP_TRANSITIONS[s]
)
"""Statuses a step can start running from (and wait or queue again from)."""

LIVE_INSTANCE: tuple[InstanceStatus, ...] = tuple(
    s for s in InstanceStatus if s not in TERMINAL_INSTANCE
)
"""Statuses an instance can still change from."""
FAILED_INSTANCE: tuple[InstanceStatus, ...] = (InstanceStatus.FAILED, InstanceStatus.TIMED_OUT)
"""Ends that hold a strict_sequential workflow's queue until restart or unblock."""
