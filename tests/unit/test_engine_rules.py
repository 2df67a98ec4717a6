"""The engine's decisions as pure functions: retries, halts, verdicts, skips, params."""

from __future__ import annotations

import itertools
from dataclasses import FrozenInstanceError, dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podium.engine.plan import RetryPolicy
from podium.engine.rules import (
    GiveUp,
    Retry,
    backoff_delay_s,
    cancel_kind,
    decide_after_failure,
    halt_for_step_end,
    instance_verdict,
    skipped_by_dependencies,
    step_params,
    stronger_halt,
)
from podium.engine.states import (
    TERMINAL_INSTANCE,
    TERMINAL_STEP,
    ErrorKind,
    Halt,
    InstanceStatus,
    StepStatus,
    check_step_transition,
)

USER, PLATFORM, TIMEOUT, STOPPED = (
    ErrorKind.USER,
    ErrorKind.PLATFORM,
    ErrorKind.TIMEOUT,
    ErrorKind.STOPPED,
)
ON_FAILURE = ("fail", "fail_fast", "ignore")
EXPONENTIAL = RetryPolicy(limit=2, platform_limit=3, delay_s=10.0, max_delay_s=600.0)
FIXED = RetryPolicy(limit=2, platform_limit=3, backoff="fixed", delay_s=7.0, max_delay_s=600.0)


def decide(
    kind: ErrorKind,
    *,
    policy: RetryPolicy = EXPONENTIAL,
    user: int = 0,
    platform: int = 0,
    on_failure: str = "fail",
    halted: bool = False,
) -> Retry | GiveUp:
    return decide_after_failure(
        policy,
        kind,
        user_errors=user,
        platform_errors=platform,
        on_failure=on_failure,
        halted=halted,
    )


# -- backoff_delay_s ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry_number", "delay_s"),
    [(1, 10.0), (2, 20.0), (3, 40.0), (4, 80.0), (5, 160.0), (6, 320.0), (7, 600.0), (8, 600.0)],
)
def test_exponential_backoff_doubles_up_to_max_delay(retry_number: int, delay_s: float) -> None:
    assert backoff_delay_s(EXPONENTIAL, retry_number) == delay_s


def test_exponential_backoff_stays_at_max_delay_for_huge_retry_numbers() -> None:
    assert backoff_delay_s(EXPONENTIAL, 10_000) == 600.0


def test_exponential_backoff_never_exceeds_max_delay_even_on_the_first_retry() -> None:
    policy = RetryPolicy(delay_s=30.0, max_delay_s=5.0)
    assert backoff_delay_s(policy, 1) == 5.0


def test_exponential_backoff_of_zero_delay_is_zero() -> None:
    assert backoff_delay_s(RetryPolicy(delay_s=0.0), 5) == 0.0


@pytest.mark.parametrize("retry_number", [1, 2, 3, 10, 100])
def test_fixed_backoff_is_constant(retry_number: int) -> None:
    assert backoff_delay_s(FIXED, retry_number) == 7.0


def test_backoff_is_a_float() -> None:
    assert isinstance(backoff_delay_s(RetryPolicy(delay_s=3, max_delay_s=100), 2), float)
    assert isinstance(backoff_delay_s(EXPONENTIAL, 50), float)


def test_default_policy_is_exponential_10s_to_600s() -> None:
    policy = RetryPolicy()
    assert [backoff_delay_s(policy, n) for n in range(1, 9)] == [
        10.0,
        20.0,
        40.0,
        80.0,
        160.0,
        320.0,
        600.0,
        600.0,
    ]


@given(
    delay_s=st.floats(0, 1000, allow_nan=False),
    max_delay_s=st.floats(0, 10_000, allow_nan=False),
    retry_number=st.integers(1, 200),
)
def test_exponential_backoff_is_capped_and_monotonic(
    delay_s: float, max_delay_s: float, retry_number: int
) -> None:
    policy = RetryPolicy(delay_s=delay_s, max_delay_s=max_delay_s)
    now = backoff_delay_s(policy, retry_number)
    after = backoff_delay_s(policy, retry_number + 1)
    assert 0.0 <= now <= max_delay_s
    assert now <= after
    if after < max_delay_s and retry_number <= 60:  # the exponent stops at 2**60
        assert after == 2 * now


# -- decide_after_failure: user errors ------------------------------------------------------


def test_a_user_error_is_retried_up_to_the_limit_then_fails() -> None:
    assert decide(USER, user=1) == Retry(10.0)
    assert decide(USER, user=2) == Retry(20.0)
    assert decide(USER, user=3) == GiveUp(StepStatus.FAILED)


def test_without_retries_a_user_error_fails_at_once() -> None:
    assert decide(USER, policy=RetryPolicy(), user=1) == GiveUp(StepStatus.FAILED)


def test_a_user_error_retry_uses_the_fixed_delay() -> None:
    assert decide(USER, policy=FIXED, user=1) == Retry(7.0)
    assert decide(USER, policy=FIXED, user=2) == Retry(7.0)


def test_platform_errors_do_not_eat_the_users_retries() -> None:
    assert decide(USER, user=1, platform=99) == Retry(10.0)


def test_a_user_error_retry_delay_follows_the_user_count_only() -> None:
    assert decide(USER, user=2, platform=3) == Retry(20.0)


# -- decide_after_failure: platform errors --------------------------------------------------


def test_a_platform_error_is_retried_up_to_platform_limit_then_fails() -> None:
    assert decide(PLATFORM, platform=1) == Retry(10.0)
    assert decide(PLATFORM, platform=2) == Retry(20.0)
    assert decide(PLATFORM, platform=3) == Retry(40.0)
    assert decide(PLATFORM, platform=4) == GiveUp(StepStatus.FAILED)


def test_platform_errors_are_retried_even_when_the_user_asked_for_no_retries() -> None:
    policy = RetryPolicy()  # limit 0, platform_limit 3
    assert decide(PLATFORM, policy=policy, platform=1) == Retry(10.0)
    assert decide(PLATFORM, policy=policy, platform=3) == Retry(40.0)
    assert decide(PLATFORM, policy=policy, platform=4) == GiveUp(StepStatus.FAILED)


def test_user_errors_do_not_eat_the_platform_retries() -> None:
    assert decide(PLATFORM, user=99, platform=1) == Retry(10.0)


def test_a_platform_limit_of_zero_fails_the_first_platform_error() -> None:
    policy = RetryPolicy(limit=5, platform_limit=0)
    assert decide(PLATFORM, policy=policy, platform=1) == GiveUp(StepStatus.FAILED)


# -- decide_after_failure: time-outs --------------------------------------------------------


def test_a_timeout_is_retried_under_the_user_limit_then_times_out() -> None:
    assert decide(TIMEOUT, user=1) == Retry(10.0)
    assert decide(TIMEOUT, user=2) == Retry(20.0)
    assert decide(TIMEOUT, user=3) == GiveUp(StepStatus.TIMED_OUT)


def test_without_retries_a_timeout_times_out_at_once() -> None:
    assert decide(TIMEOUT, policy=RetryPolicy(), user=1) == GiveUp(StepStatus.TIMED_OUT)


def test_a_timeout_ignores_the_platform_budget() -> None:
    policy = RetryPolicy(limit=0, platform_limit=5)
    assert decide(TIMEOUT, policy=policy, user=1, platform=0) == GiveUp(StepStatus.TIMED_OUT)


# -- decide_after_failure: stops, halts, on_failure -----------------------------------------


@pytest.mark.parametrize("on_failure", ON_FAILURE)
@pytest.mark.parametrize("halted", [False, True])
@pytest.mark.parametrize(("user", "platform"), [(0, 0), (1, 0), (0, 1), (9, 9)])
def test_a_stopped_attempt_is_never_retried(
    on_failure: str, halted: bool, user: int, platform: int
) -> None:
    policy = RetryPolicy(limit=10, platform_limit=10)
    decision = decide(
        STOPPED, policy=policy, user=user, platform=platform, on_failure=on_failure, halted=halted
    )
    assert decision == GiveUp(StepStatus.STOPPED)


@pytest.mark.parametrize(
    ("kind", "status"),
    [(USER, StepStatus.FAILED), (PLATFORM, StepStatus.FAILED), (TIMEOUT, StepStatus.TIMED_OUT)],
)
@pytest.mark.parametrize("on_failure", ["fail", "fail_fast"])
def test_a_halted_instance_never_retries(
    kind: ErrorKind, status: StepStatus, on_failure: str
) -> None:
    policy = RetryPolicy(limit=10, platform_limit=10)
    decision = decide(kind, policy=policy, user=1, platform=1, on_failure=on_failure, halted=True)
    assert decision == GiveUp(status)


@pytest.mark.parametrize("kind", [USER, PLATFORM, TIMEOUT])
def test_a_halted_instance_with_ignore_completes_with_error(kind: ErrorKind) -> None:
    policy = RetryPolicy(limit=10, platform_limit=10)
    decision = decide(kind, policy=policy, user=1, platform=1, on_failure="ignore", halted=True)
    assert decision == GiveUp(StepStatus.COMPLETED_WITH_ERROR)


@pytest.mark.parametrize(
    ("kind", "user", "platform"),
    [(USER, 3, 0), (TIMEOUT, 3, 0), (PLATFORM, 0, 4)],
)
def test_ignore_completes_with_error_once_retries_are_spent(
    kind: ErrorKind, user: int, platform: int
) -> None:
    decision = decide(kind, user=user, platform=platform, on_failure="ignore")
    assert decision == GiveUp(StepStatus.COMPLETED_WITH_ERROR)


@pytest.mark.parametrize(
    ("kind", "user", "platform"), [(USER, 1, 0), (TIMEOUT, 2, 0), (PLATFORM, 0, 3)]
)
def test_ignore_still_retries_under_the_limit(kind: ErrorKind, user: int, platform: int) -> None:
    assert isinstance(decide(kind, user=user, platform=platform, on_failure="ignore"), Retry)


@pytest.mark.parametrize(
    ("kind", "status"),
    [(USER, StepStatus.FAILED), (PLATFORM, StepStatus.FAILED), (TIMEOUT, StepStatus.TIMED_OUT)],
)
def test_fail_fast_gives_up_like_fail(kind: ErrorKind, status: StepStatus) -> None:
    policy = RetryPolicy(limit=0, platform_limit=0)
    decision = decide(kind, policy=policy, user=1, platform=1, on_failure="fail_fast")
    assert decision == GiveUp(status)


def test_decisions_are_frozen_values() -> None:
    assert Retry(1.0) == Retry(1.0)
    assert GiveUp(StepStatus.FAILED) != GiveUp(StepStatus.TIMED_OUT)
    with pytest.raises(FrozenInstanceError):
        Retry(1.0).delay_s = 2.0  # type: ignore[misc]


# -- decide_after_failure: property ---------------------------------------------------------

policies = st.builds(
    RetryPolicy,
    limit=st.integers(0, 5),
    platform_limit=st.integers(0, 5),
    backoff=st.sampled_from(["exponential", "fixed"]),
    delay_s=st.floats(0, 100, allow_nan=False),
    max_delay_s=st.floats(0, 1000, allow_nan=False),
)
counted_kinds = st.sampled_from([USER, PLATFORM, TIMEOUT])


@dataclass(frozen=True)
class Run:
    status: StepStatus
    last_kind: ErrorKind
    user_retries: int
    platform_retries: int
    attempts: int


def run_until_final(
    policy: RetryPolicy, kinds: list[ErrorKind], on_failure: str, halted: bool
) -> Run:
    """Count each failure as the worker does, and follow the decisions to a final status."""
    user = platform = user_retries = platform_retries = 0
    for attempt, kind in enumerate(kinds, start=1):
        user += kind in (USER, TIMEOUT)
        platform += kind is PLATFORM
        decision = decide(
            kind,
            policy=policy,
            user=user,
            platform=platform,
            on_failure=on_failure,
            halted=halted,
        )
        if isinstance(decision, GiveUp):
            check_step_transition(StepStatus.RUNNING, decision.status)
            return Run(decision.status, kind, user_retries, platform_retries, attempt)
        check_step_transition(StepStatus.RUNNING, StepStatus.CREATED)
        assert decision.delay_s >= 0.0
        if kind is PLATFORM:
            platform_retries += 1
        else:
            user_retries += 1
    raise AssertionError(f"no final status after {len(kinds)} failures")


@st.composite
def failure_runs(draw: st.DrawFn) -> tuple[RetryPolicy, list[ErrorKind], str, bool]:
    policy = draw(policies)
    # Enough failures that one budget must run out: the engine must give up within them.
    enough = policy.limit + policy.platform_limit + 1
    kinds = draw(
        st.lists(
            st.one_of(counted_kinds, st.just(STOPPED)) if draw(st.booleans()) else counted_kinds,
            min_size=enough,
            max_size=enough,
        )
    )
    return policy, kinds, draw(st.sampled_from(ON_FAILURE)), draw(st.booleans())


@given(failure_runs())
def test_retries_never_exceed_their_budget_and_the_end_is_terminal(
    case: tuple[RetryPolicy, list[ErrorKind], str, bool],
) -> None:
    policy, kinds, on_failure, halted = case
    run = run_until_final(policy, kinds, on_failure, halted)
    assert run.user_retries <= policy.limit
    assert run.platform_retries <= policy.platform_limit
    assert run.status in TERMINAL_STEP
    assert run.status not in (StepStatus.SUCCEEDED, StepStatus.SKIPPED)
    if halted:
        assert run.attempts == 1
    if run.last_kind is STOPPED:
        assert run.status is StepStatus.STOPPED
    elif on_failure == "ignore":
        assert run.status is StepStatus.COMPLETED_WITH_ERROR
    elif run.last_kind is TIMEOUT:
        assert run.status is StepStatus.TIMED_OUT
    else:
        assert run.status is StepStatus.FAILED


@given(policies, counted_kinds, st.sampled_from(ON_FAILURE))
def test_a_budget_is_used_in_full_before_giving_up(
    policy: RetryPolicy, kind: ErrorKind, on_failure: str
) -> None:
    budget = policy.platform_limit if kind is PLATFORM else policy.limit
    run = run_until_final(policy, [kind] * (budget + 1), on_failure, halted=False)
    assert run.attempts == budget + 1
    assert run.user_retries + run.platform_retries == budget


# -- halt_for_step_end ----------------------------------------------------------------------


@pytest.mark.parametrize("status", [StepStatus.FAILED, StepStatus.TIMED_OUT])
def test_a_failed_or_timed_out_step_halts_the_instance(status: StepStatus) -> None:
    assert halt_for_step_end(status, "fail") is Halt.FAILED
    assert halt_for_step_end(status, "fail_fast") is Halt.FAIL_FAST


@pytest.mark.parametrize(
    "status", sorted(set(StepStatus) - {StepStatus.FAILED, StepStatus.TIMED_OUT})
)
@pytest.mark.parametrize("on_failure", ON_FAILURE)
def test_other_endings_do_not_halt(status: StepStatus, on_failure: str) -> None:
    assert halt_for_step_end(status, on_failure) is None


def test_an_ignored_failure_does_not_halt() -> None:
    assert halt_for_step_end(StepStatus.COMPLETED_WITH_ERROR, "ignore") is None


def test_a_stopped_step_does_not_add_a_failure_halt() -> None:
    assert halt_for_step_end(StepStatus.STOPPED, "fail_fast") is None


# -- instance_verdict -----------------------------------------------------------------------

HALT_VERDICT = {
    Halt.FAILED: InstanceStatus.FAILED,
    Halt.FAIL_FAST: InstanceStatus.FAILED,
    Halt.STOPPED: InstanceStatus.STOPPED,
    Halt.TIMED_OUT: InstanceStatus.TIMED_OUT,
}
COUNTS = [(0, 0), (3, 0), (3, 1), (3, 2), (3, 3), (3, 4)]  # (steps_total, steps_done)


@pytest.mark.parametrize("halt", [None, *Halt])
@pytest.mark.parametrize(("total", "done"), COUNTS)
@pytest.mark.parametrize("active", [0, 1, 3])
def test_instance_verdict_for_every_combination(
    halt: Halt | None, total: int, done: int, active: int
) -> None:
    verdict = instance_verdict(steps_total=total, steps_done=done, steps_active=active, halt=halt)
    if active > 0:
        assert verdict is None
    elif halt is not None:
        assert verdict is HALT_VERDICT[halt]
    elif done >= total:
        assert verdict is InstanceStatus.SUCCEEDED
    else:
        assert verdict is None


def test_an_instance_succeeds_when_every_step_is_done() -> None:
    verdict = instance_verdict(steps_total=4, steps_done=4, steps_active=0, halt=None)
    assert verdict is InstanceStatus.SUCCEEDED


def test_an_empty_instance_succeeds() -> None:
    verdict = instance_verdict(steps_total=0, steps_done=0, steps_active=0, halt=None)
    assert verdict is InstanceStatus.SUCCEEDED


def test_an_instance_waiting_on_unreleased_steps_has_no_verdict() -> None:
    assert instance_verdict(steps_total=4, steps_done=2, steps_active=0, halt=None) is None


def test_a_halted_instance_ends_once_nothing_runs_even_with_steps_never_started() -> None:
    verdict = instance_verdict(steps_total=10, steps_done=1, steps_active=0, halt=Halt.FAILED)
    assert verdict is InstanceStatus.FAILED


def test_a_halted_instance_waits_for_its_running_steps() -> None:
    assert instance_verdict(steps_total=10, steps_done=1, steps_active=2, halt=Halt.STOPPED) is None


@given(
    total=st.integers(0, 1000),
    done=st.integers(0, 1000),
    active=st.integers(1, 1000),
    halt=st.one_of(st.none(), st.sampled_from(list(Halt))),
)
def test_no_verdict_while_a_step_is_active(
    total: int, done: int, active: int, halt: Halt | None
) -> None:
    assert (
        instance_verdict(steps_total=total, steps_done=done, steps_active=active, halt=halt) is None
    )


@given(
    total=st.integers(0, 1000),
    done=st.integers(0, 1000),
    halt=st.one_of(st.none(), st.sampled_from(list(Halt))),
)
def test_a_verdict_is_terminal_and_follows_the_halt(
    total: int, done: int, halt: Halt | None
) -> None:
    verdict = instance_verdict(steps_total=total, steps_done=done, steps_active=0, halt=halt)
    if verdict is not None:
        assert verdict in TERMINAL_INSTANCE
    if halt is not None:
        assert verdict is HALT_VERDICT[halt]


# -- stronger_halt --------------------------------------------------------------------------

# What the docstring promises: the first reason wins, except that a stop or a time-out
# overrides a failure.
FAILURES = (Halt.FAILED, Halt.FAIL_FAST)
ENDS = (Halt.STOPPED, Halt.TIMED_OUT)


def documented_halt(current: Halt | None, new: Halt) -> Halt:
    if current is None:
        return new
    if current in FAILURES and new in ENDS:
        return new
    return current


@pytest.mark.parametrize(
    ("current", "new"),
    [
        pair
        for pair in itertools.product([None, *Halt], list(Halt))
        if pair != (Halt.FAILED, Halt.FAIL_FAST)
    ],
)
def test_stronger_halt_for_every_pair(current: Halt | None, new: Halt) -> None:
    assert stronger_halt(current, new) is documented_halt(current, new)


def test_a_later_fail_fast_upgrades_a_plain_failure() -> None:
    # The steps still running must be stopped, whichever failure came first.
    assert stronger_halt(Halt.FAILED, Halt.FAIL_FAST) is Halt.FAIL_FAST


def test_the_first_failure_kind_wins_over_a_later_plain_failure() -> None:
    assert stronger_halt(Halt.FAIL_FAST, Halt.FAILED) is Halt.FAIL_FAST


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("end", ENDS)
def test_a_stop_or_timeout_overrides_a_failure_but_not_the_reverse(
    failure: Halt, end: Halt
) -> None:
    assert stronger_halt(failure, end) is end
    assert stronger_halt(end, failure) is end


def test_between_stop_and_timeout_the_first_wins() -> None:
    assert stronger_halt(Halt.STOPPED, Halt.TIMED_OUT) is Halt.STOPPED
    assert stronger_halt(Halt.TIMED_OUT, Halt.STOPPED) is Halt.TIMED_OUT


@given(st.lists(st.sampled_from(list(Halt)), min_size=1, max_size=12))
def test_folding_halts_keeps_the_first_stop_or_timeout(halts: list[Halt]) -> None:
    current: Halt | None = None
    for halt in halts:
        current = stronger_halt(current, halt)
    assert current in halts
    ends = [h for h in halts if h in ENDS]
    if ends:
        assert current is ends[0]
    else:
        assert current in FAILURES


# -- skipped_by_dependencies ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("deps_total", "live_deps", "skipped"),
    [(0, 0, False), (1, 0, True), (3, 0, True), (3, 1, False), (3, 3, False), (1, 1, False)],
)
def test_skipped_only_when_every_dependency_was_skipped(
    deps_total: int, live_deps: int, skipped: bool
) -> None:
    assert skipped_by_dependencies(deps_total, live_deps) is skipped


# -- params ---------------------------------------------------------------------------------


def test_step_params_shadow_workflow_params() -> None:
    instance = {"day": 1, "table": "events", "n": [1, 2]}
    own = {"day": 2, "extra": None}
    assert step_params(instance, own) == {"day": 2, "table": "events", "n": [1, 2], "extra": None}


def test_step_params_do_not_change_their_inputs() -> None:
    instance = {"a": 1}
    own = {"a": 2, "b": 3}
    merged = step_params(instance, own)
    merged["c"] = 4
    assert instance == {"a": 1}
    assert own == {"a": 2, "b": 3}


@pytest.mark.parametrize(("instance", "own"), [({}, {}), ({"a": 1}, {}), ({}, {"a": 1})])
def test_step_params_with_an_empty_side(instance: dict[str, int], own: dict[str, int]) -> None:
    assert step_params(instance, own) == {**instance, **own}


# -- cancel_kind ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("timeout", ErrorKind.TIMEOUT),
        ("stop", ErrorKind.STOPPED),
        ("fail_fast", ErrorKind.STOPPED),
        ("instance_timeout", ErrorKind.STOPPED),
        (None, None),
        ("", None),
        ("TIMEOUT", None),
        ("something_else", None),
    ],
)
def test_cancel_kind(reason: str | None, kind: ErrorKind | None) -> None:
    assert cancel_kind(reason) is kind
