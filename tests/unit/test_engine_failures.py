"""The classification of an ended attempt and the messages of failures, halts and stops."""

from __future__ import annotations

import pytest

from podium.engine.failures import (
    Outcome,
    error_message,
    failure_kind,
    halt_error,
    halt_message,
    instance_error_from_step,
    stop_messages,
    stopped_error,
)
from podium.engine.states import (
    LIVE_STEP,
    STARTABLE_STEP,
    STEP_TRANSITIONS,
    TERMINAL_STEP,
    ErrorKind,
    Halt,
    StepStatus,
)

OK = Outcome(exit_code=0, outputs={}, error=None)
FAILED = Outcome(exit_code=1, outputs={}, error="exit code 1")


def test_a_clean_exit_is_no_failure() -> None:
    assert failure_kind(OK, None) is None


def test_an_error_is_the_users() -> None:
    assert failure_kind(FAILED, None) is ErrorKind.USER


def test_a_platform_error_is_the_platforms() -> None:
    outcome = Outcome(exit_code=None, outputs={}, error="lost", platform=True)
    assert failure_kind(outcome, None) is ErrorKind.PLATFORM


def test_the_supervisors_timeout_wins_over_everything() -> None:
    outcome = Outcome(1, {}, "killed", platform=True, supervisor_reason="timeout")
    assert failure_kind(outcome, "stop") is ErrorKind.TIMEOUT


@pytest.mark.parametrize("reason", ["stop", "fail_fast", "instance_timeout"])
def test_a_cancelled_job_that_failed_was_stopped(reason: str) -> None:
    assert failure_kind(FAILED, reason) is ErrorKind.STOPPED


def test_a_cancelled_job_that_succeeded_anyway_succeeded() -> None:
    assert failure_kind(OK, "stop") is None


def test_the_timeout_message_names_the_steps_timeout() -> None:
    message = error_message(ErrorKind.TIMEOUT, FAILED, None, 2.5)
    assert message.startswith("timed out after 2.5s (the step's timeout)")


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("stop", "stopped by request"),
        ("fail_fast", "stopped because another step failed (on_failure: fail_fast)"),
        ("instance_timeout", "stopped because the instance timed out"),
        (None, "stopped"),
    ],
)
def test_the_stop_message_says_why(reason: str | None, message: str) -> None:
    assert error_message(ErrorKind.STOPPED, FAILED, reason, None) == message


def test_a_users_error_keeps_the_jobs_message() -> None:
    assert error_message(ErrorKind.USER, FAILED, None, None) == "exit code 1"
    assert error_message(ErrorKind.USER, OK, None, None) == "failed"


@pytest.mark.parametrize(
    ("halt", "message"),
    [
        (None, "failed"),
        (Halt.STOPPED, "stopped by request"),
        (Halt.TIMED_OUT, "the instance ran past its timeout"),
        (Halt.FAILED, "a step failed"),
        (Halt.FAIL_FAST, "a step failed"),
    ],
)
def test_halt_messages(halt: Halt | None, message: str) -> None:
    assert halt_message(halt) == message
    kind = (halt or Halt.FAILED).value.lower()
    assert halt_error(halt) == {"kind": kind, "message": message}


def test_stop_messages_for_waiting_steps() -> None:
    assert stop_messages("stop") == ("stopped while it waited", "stopped while waiting")
    assert stop_messages("fail_fast") == ("stopped (fail_fast)", "stopped (fail_fast)")
    assert stopped_error("x") == {"kind": "stopped", "message": "x"}


def test_an_instance_halted_by_a_step_names_it() -> None:
    error = instance_error_from_step("load", StepStatus.FAILED, {"kind": "user", "message": "no"})
    assert error == {"kind": "user", "step_id": "load", "message": "step 'load' FAILED: no"}


def test_the_guards_follow_the_transition_table() -> None:
    assert set(LIVE_STEP) == set(StepStatus) - TERMINAL_STEP
    assert set(STARTABLE_STEP) == {
        StepStatus.CREATED,
        StepStatus.WAITING_FOR_SIGNALS,
        StepStatus.WAITING_FOR_PERMITS,
        StepStatus.PAUSED,
    }
    for status in LIVE_STEP:
        assert set(STEP_TRANSITIONS[status]) & TERMINAL_STEP
