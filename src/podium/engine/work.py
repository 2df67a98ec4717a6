"""The kinds of work row the engine queues, and the rows themselves.

A work row says "do this to this instance (or one of its steps) once ``due_at`` has come".
The stored value of each kind is its string, so a ``WorkKind`` compares equal to the text
in the ``work`` table and older rows read back unchanged.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class WorkKind(StrEnum):
    START = "start"
    """A new instance: admit it under its workflow's run strategy, then start it."""
    ADMIT = "admit"
    """A running instance of the workflow ended: admit the next one waiting."""
    LAUNCH = "launch"
    """A job runs: the row, leased to its worker, lets another worker take it over."""
    RETRY = "retry"
    """A failed step's retry delay is over."""
    SLEEP_DONE = "sleep_done"
    """A sleep step's time is up."""
    FOREACH_MORE = "foreach_more"
    """A foreach step launches its next batch of iterations."""
    PERMIT = "permit"
    """A step waiting for its tags' permits may have them now."""
    SIGNALED = "signaled"
    """Every signal a step waits for has arrived."""
    SKIP = "skip"
    """A person skipped a step."""
    RESUME = "resume"
    """A person resumed a step paused at a breakpoint."""
    RESTART = "restart"
    """A person restarted an ended instance (its steps are reset already)."""
    STOP = "stop"
    """A person stopped an instance."""
    INSTANCE_TIMEOUT = "instance_timeout"
    """An instance's time is up."""


STEP_KINDS = frozenset(
    {
        WorkKind.LAUNCH,
        WorkKind.RETRY,
        WorkKind.SLEEP_DONE,
        WorkKind.FOREACH_MORE,
        WorkKind.PERMIT,
        WorkKind.SIGNALED,
        WorkKind.SKIP,
        WorkKind.RESUME,
    }
)
"""The kinds about one step of an instance: their rows carry a ``step_id``."""

ADMISSION_KINDS = frozenset({WorkKind.START, WorkKind.ADMIT})
"""The kinds that admit instances: the workflow is locked before its instances."""

TIMER_KINDS = (WorkKind.RETRY, WorkKind.SLEEP_DONE)
"""The kinds that wait for a step's time: dropped when its instance halts."""


def work_row(
    kind: WorkKind,
    instance_pk: int,
    *,
    due_at: float,
    step_id: str | None = None,
    attempt: int | None = None,
    lease_owner: str | None = None,
) -> dict[str, Any]:
    """A row for ``store.queue.add_work``; a step's kinds must name the step.
    ``lease_owner``: the row is created already leased by its own worker (a launch)."""
    if (kind in STEP_KINDS) != (step_id is not None):
        raise ValueError(f"work of kind {kind.value!r} with step_id={step_id!r}")
    row: dict[str, Any] = {"kind": kind.value, "instance_pk": instance_pk, "due_at": due_at}
    if step_id is not None:
        row["step_id"] = step_id
    if attempt is not None:
        row["attempt"] = attempt
    if lease_owner is not None:
        row["lease_owner"] = lease_owner
    return row
