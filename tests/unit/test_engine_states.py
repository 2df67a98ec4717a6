"""The step and instance state machines of DSL.md: the tables, their guards, and walks over them."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podium.engine.states import (
    DEPENDENCY_MET,
    INSTANCE_TRANSITIONS,
    STEP_TRANSITIONS,
    TERMINAL_INSTANCE,
    TERMINAL_STEP,
    IllegalTransition,
    InstanceStatus,
    StepStatus,
    check_instance_transition,
    check_step_transition,
)

S = StepStatus
IS = InstanceStatus

# The contract, written out independently of the module's own constants.
STEP_ENDS = {S.SUCCEEDED, S.FAILED, S.SKIPPED, S.STOPPED, S.TIMED_OUT, S.COMPLETED_WITH_ERROR}
STEP_BEFORE = {S.CREATED, S.WAITING_FOR_SIGNALS, S.WAITING_FOR_PERMITS, S.PAUSED, S.RUNNING}
INSTANCE_ENDS = {IS.SUCCEEDED, IS.FAILED, IS.STOPPED, IS.TIMED_OUT}

LEGAL_STEP_PAIRS = [(old, new) for old in S for new in sorted(STEP_TRANSITIONS[old])]
ILLEGAL_STEP_PAIRS = [
    (old, new) for old, new in itertools.product(S, S) if new not in STEP_TRANSITIONS[old]
]
LEGAL_INSTANCE_PAIRS = [(old, new) for old in IS for new in sorted(INSTANCE_TRANSITIONS[old])]
ILLEGAL_INSTANCE_PAIRS = [
    (old, new) for old, new in itertools.product(IS, IS) if new not in INSTANCE_TRANSITIONS[old]
]


# -- the tables -----------------------------------------------------------------------------


def test_terminal_sets_are_the_ends_the_contract_names() -> None:
    assert set(TERMINAL_STEP) == STEP_ENDS
    assert set(S) == STEP_ENDS | STEP_BEFORE
    assert set(TERMINAL_INSTANCE) == INSTANCE_ENDS
    assert set(IS) - INSTANCE_ENDS == {IS.CREATED, IS.IN_PROGRESS, IS.PAUSED}


def test_every_status_has_a_row_in_its_table() -> None:
    assert set(STEP_TRANSITIONS) == set(S)
    assert set(INSTANCE_TRANSITIONS) == set(IS)


def test_tables_only_name_known_statuses() -> None:
    for exits in STEP_TRANSITIONS.values():
        assert exits <= set(S)
    for instance_exits in INSTANCE_TRANSITIONS.values():
        assert instance_exits <= set(IS)


@pytest.mark.parametrize("status", sorted(STEP_ENDS))
def test_a_terminal_step_status_has_no_exits(status: StepStatus) -> None:
    assert STEP_TRANSITIONS[status] == frozenset()


@pytest.mark.parametrize("status", sorted(INSTANCE_ENDS))
def test_a_terminal_instance_status_has_no_exits(status: InstanceStatus) -> None:
    assert INSTANCE_TRANSITIONS[status] == frozenset()


@pytest.mark.parametrize("status", sorted(STEP_BEFORE))
def test_every_live_step_status_can_reach_an_end_in_one_move(status: StepStatus) -> None:
    assert STEP_TRANSITIONS[status] & STEP_ENDS


@pytest.mark.parametrize("status", [IS.CREATED, IS.IN_PROGRESS, IS.PAUSED])
def test_every_live_instance_status_can_reach_an_end_in_one_move(status: InstanceStatus) -> None:
    assert INSTANCE_TRANSITIONS[status] & INSTANCE_ENDS


def test_dependency_met_is_success_skip_or_ignored_failure() -> None:
    assert set(DEPENDENCY_MET) == {S.SUCCEEDED, S.SKIPPED, S.COMPLETED_WITH_ERROR}
    assert DEPENDENCY_MET <= TERMINAL_STEP


def test_statuses_are_their_names_as_strings() -> None:
    for status in S:
        assert status == status.name
    for instance_status in IS:
        assert instance_status == instance_status.name


# -- the guards -----------------------------------------------------------------------------


@pytest.mark.parametrize(("old", "new"), LEGAL_STEP_PAIRS)
def test_a_legal_step_transition_passes(old: StepStatus, new: StepStatus) -> None:
    check_step_transition(old, new)


@pytest.mark.parametrize(("old", "new"), ILLEGAL_STEP_PAIRS)
def test_an_illegal_step_transition_raises(old: StepStatus, new: StepStatus) -> None:
    with pytest.raises(IllegalTransition, match=f"from {old} to {new}"):
        check_step_transition(old, new)


@pytest.mark.parametrize(("old", "new"), LEGAL_INSTANCE_PAIRS)
def test_a_legal_instance_transition_passes(old: InstanceStatus, new: InstanceStatus) -> None:
    check_instance_transition(old, new)


@pytest.mark.parametrize(("old", "new"), ILLEGAL_INSTANCE_PAIRS)
def test_an_illegal_instance_transition_raises(old: InstanceStatus, new: InstanceStatus) -> None:
    with pytest.raises(IllegalTransition, match=f"from {old} to {new}"):
        check_instance_transition(old, new)


def test_the_pair_lists_cover_every_pair() -> None:
    assert len(LEGAL_STEP_PAIRS) + len(ILLEGAL_STEP_PAIRS) == len(S) ** 2
    assert len(LEGAL_INSTANCE_PAIRS) + len(ILLEGAL_INSTANCE_PAIRS) == len(IS) ** 2
    assert ILLEGAL_STEP_PAIRS
    assert ILLEGAL_INSTANCE_PAIRS


def test_running_goes_back_to_created_for_a_retry() -> None:
    check_step_transition(S.RUNNING, S.CREATED)


def test_running_cannot_be_skipped() -> None:
    with pytest.raises(IllegalTransition):
        check_step_transition(S.RUNNING, S.SKIPPED)


@pytest.mark.parametrize("end", sorted(STEP_ENDS - {S.SKIPPED}))
def test_running_may_end_in_any_other_way(end: StepStatus) -> None:
    check_step_transition(S.RUNNING, end)


@pytest.mark.parametrize("waiting", [S.WAITING_FOR_SIGNALS, S.WAITING_FOR_PERMITS, S.PAUSED])
def test_running_does_not_go_back_to_waiting(waiting: StepStatus) -> None:
    with pytest.raises(IllegalTransition):
        check_step_transition(S.RUNNING, waiting)


def test_running_exits_are_exactly_retry_or_an_end_other_than_skipped() -> None:
    assert set(STEP_TRANSITIONS[S.RUNNING]) == {S.CREATED} | (STEP_ENDS - {S.SKIPPED})


@pytest.mark.parametrize("status", [S.CREATED, S.WAITING_FOR_SIGNALS, S.WAITING_FOR_PERMITS])
def test_a_step_that_has_not_run_may_be_skipped_or_started(status: StepStatus) -> None:
    check_step_transition(status, S.SKIPPED)
    check_step_transition(status, S.RUNNING)


def test_created_may_wait_then_run() -> None:
    check_step_transition(S.CREATED, S.WAITING_FOR_SIGNALS)
    check_step_transition(S.WAITING_FOR_SIGNALS, S.WAITING_FOR_PERMITS)
    check_step_transition(S.WAITING_FOR_PERMITS, S.PAUSED)
    check_step_transition(S.PAUSED, S.RUNNING)


def test_nothing_leads_back_to_created_except_a_retry() -> None:
    sources = {old for old in S if S.CREATED in STEP_TRANSITIONS[old]}
    assert sources == {S.RUNNING}


@pytest.mark.parametrize("end", sorted(STEP_ENDS))
def test_an_ended_step_cannot_be_reopened(end: StepStatus) -> None:
    for new in S:
        with pytest.raises(IllegalTransition):
            check_step_transition(end, new)


def test_a_created_instance_may_be_stopped_or_failed_before_it_starts() -> None:
    check_instance_transition(IS.CREATED, IS.STOPPED)
    check_instance_transition(IS.CREATED, IS.FAILED)
    check_instance_transition(IS.CREATED, IS.IN_PROGRESS)


@pytest.mark.parametrize("new", [IS.SUCCEEDED, IS.TIMED_OUT, IS.PAUSED, IS.CREATED])
def test_a_created_instance_cannot_skip_ahead(new: InstanceStatus) -> None:
    with pytest.raises(IllegalTransition):
        check_instance_transition(IS.CREATED, new)


def test_an_instance_pauses_and_resumes() -> None:
    check_instance_transition(IS.IN_PROGRESS, IS.PAUSED)
    check_instance_transition(IS.PAUSED, IS.IN_PROGRESS)


@pytest.mark.parametrize("live", [IS.IN_PROGRESS, IS.PAUSED])
@pytest.mark.parametrize("end", sorted(INSTANCE_ENDS))
def test_a_started_instance_may_end_in_any_way(live: InstanceStatus, end: InstanceStatus) -> None:
    check_instance_transition(live, end)


@pytest.mark.parametrize("live", [IS.IN_PROGRESS, IS.PAUSED])
def test_a_started_instance_never_goes_back_to_created(live: InstanceStatus) -> None:
    with pytest.raises(IllegalTransition):
        check_instance_transition(live, IS.CREATED)


def test_illegal_transition_is_a_runtime_error() -> None:
    assert issubclass(IllegalTransition, RuntimeError)


# -- walks ----------------------------------------------------------------------------------

_MAX_FREE_MOVES = 40


@given(st.data())
def test_a_random_step_walk_ends_only_through_allowed_edges(data: st.DataObject) -> None:
    status = S.CREATED
    path = [status]
    for move in itertools.count():
        if status in TERMINAL_STEP:
            break
        exits = sorted(STEP_TRANSITIONS[status])
        if move >= _MAX_FREE_MOVES:
            exits = [e for e in exits if e in TERMINAL_STEP]
        assert exits, f"{status} has no way out"
        new = data.draw(st.sampled_from(exits))
        check_step_transition(status, new)
        status = new
        path.append(status)
    assert status in STEP_ENDS
    assert all(p not in TERMINAL_STEP for p in path[:-1])
    for new in S:
        with pytest.raises(IllegalTransition):
            check_step_transition(status, new)


@given(st.data())
def test_a_random_instance_walk_ends_only_through_allowed_edges(data: st.DataObject) -> None:
    status = IS.CREATED
    for move in itertools.count():
        if status in TERMINAL_INSTANCE:
            break
        exits = sorted(INSTANCE_TRANSITIONS[status])
        if move >= _MAX_FREE_MOVES:
            exits = [e for e in exits if e in TERMINAL_INSTANCE]
        new = data.draw(st.sampled_from(exits))
        check_instance_transition(status, new)
        status = new
    assert status in INSTANCE_ENDS
    for new in IS:
        with pytest.raises(IllegalTransition):
            check_instance_transition(status, new)


@given(st.sampled_from(sorted(STEP_ENDS)), st.sampled_from(list(S)))
def test_terminal_step_statuses_are_absorbing(end: StepStatus, new: StepStatus) -> None:
    with pytest.raises(IllegalTransition):
        check_step_transition(end, new)


@given(st.sampled_from(sorted(INSTANCE_ENDS)), st.sampled_from(list(IS)))
def test_terminal_instance_statuses_are_absorbing(end: InstanceStatus, new: InstanceStatus) -> None:
    with pytest.raises(IllegalTransition):
        check_instance_transition(end, new)


def test_every_step_status_is_reachable_from_created() -> None:
    seen = {S.CREATED}
    frontier = [S.CREATED]
    while frontier:
        for new in STEP_TRANSITIONS[frontier.pop()]:
            if new not in seen:
                seen.add(new)
                frontier.append(new)
    assert seen == set(S)


def test_every_instance_status_is_reachable_from_created() -> None:
    seen = {IS.CREATED}
    frontier = [IS.CREATED]
    while frontier:
        for new in INSTANCE_TRANSITIONS[frontier.pop()]:
            if new not in seen:
                seen.add(new)
                frontier.append(new)
    assert seen == set(IS)
