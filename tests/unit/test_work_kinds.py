"""Every kind of work row has exactly one handler, and work rows are built one way."""

from __future__ import annotations

import pytest

from podium.engine.work import ADMISSION_KINDS, STEP_KINDS, TIMER_KINDS, WorkKind, work_row
from podium.worker.loop import WORK_HANDLERS


def test_every_kind_has_exactly_one_handler() -> None:
    assert sorted(WORK_HANDLERS) == sorted(WorkKind)
    assert len(WORK_HANDLERS) == len(WorkKind)


def test_the_stored_value_is_the_text_the_work_table_held() -> None:
    assert WorkKind.START == "start"
    assert WorkKind.INSTANCE_TIMEOUT == "instance_timeout"
    assert {k.value for k in WorkKind} == {
        "start",
        "admit",
        "launch",
        "retry",
        "sleep_done",
        "foreach_more",
        "permit",
        "signaled",
        "skip",
        "resume",
        "restart",
        "stop",
        "instance_timeout",
    }


def test_kind_groups_are_kinds() -> None:
    assert set(TIMER_KINDS) <= STEP_KINDS
    assert not ADMISSION_KINDS & STEP_KINDS


def test_work_row_carries_what_it_is_given() -> None:
    row = work_row(WorkKind.LAUNCH, 7, step_id="a", attempt=2, due_at=3.0, lease_owner="w")
    assert row == {
        "kind": "launch",
        "instance_pk": 7,
        "step_id": "a",
        "attempt": 2,
        "due_at": 3.0,
        "lease_owner": "w",
    }
    assert type(row["kind"]) is str
    assert work_row(WorkKind.STOP, 7, due_at=1.0) == {
        "kind": "stop",
        "instance_pk": 7,
        "due_at": 1.0,
    }


@pytest.mark.parametrize(
    ("kind", "step_id"), [(WorkKind.RETRY, None), (WorkKind.START, "a"), (WorkKind.STOP, "a")]
)
def test_a_step_kind_names_its_step_and_no_other_does(kind: WorkKind, step_id: str | None) -> None:
    with pytest.raises(ValueError, match=kind.value):
        work_row(kind, 1, step_id=step_id, due_at=0.0)
