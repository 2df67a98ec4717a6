"""Step rows: created with their instance, read, and changed by guarded transitions.

Every status change is one guarded statement (``WHERE status IN (...)``) whose row
count tells the caller whether it won.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from podium.engine.states import STARTABLE_STEP
from podium.store.loops import LOOP_COLUMNS
from podium.store.schema import instances, steps


def create_steps(conn: sa.Connection, instance_pk: int, rows: Sequence[dict[str, Any]]) -> None:
    conn.execute(
        steps.insert(),
        [{"instance_pk": instance_pk, "status": "CREATED", "live_deps": 0, **r} for r in rows],
    )


@dataclass(frozen=True)
class StepRow:
    step_id: str
    status: str
    attempt: int
    user_errors: int
    platform_errors: int
    started_at: float | None


def get_step(conn: sa.Connection, instance_pk: int, step_id: str) -> StepRow | None:
    row = conn.execute(
        sa.select(
            steps.c.step_id,
            steps.c.status,
            steps.c.attempt,
            steps.c.user_errors,
            steps.c.platform_errors,
            steps.c.started_at,
        ).where(steps.c.instance_pk == instance_pk, steps.c.step_id == step_id)
    ).first()
    return StepRow(**row._mapping) if row else None


def update_step(
    conn: sa.Connection,
    instance_pk: int,
    step_id: str,
    *,
    expect: Iterable[str],
    **values: Any,
) -> bool:
    """Change a step only if it is still in one of the ``expect`` statuses."""
    result = conn.execute(
        steps.update()
        .where(
            steps.c.instance_pk == instance_pk,
            steps.c.step_id == step_id,
            steps.c.status.in_(list(expect)),
        )
        .values(**values)
    )
    return result.rowcount == 1


def start_attempt(
    conn: sa.Connection, instance_pk: int, step_id: str, *, params: dict[str, Any], now: float
) -> int | None:
    """Mark a waiting step RUNNING with its next attempt number (None if it was not waiting)."""
    value = conn.execute(
        steps.update()
        .where(
            steps.c.instance_pk == instance_pk,
            steps.c.step_id == step_id,
            steps.c.status.in_(STARTABLE_STEP),
        )
        .values(
            status="RUNNING",
            attempt=steps.c.attempt + 1,
            params=params,
            retry_at=None,
            started_at=sa.func.coalesce(steps.c.started_at, now),
        )
        .returning(steps.c.attempt)
    ).scalar_one_or_none()
    return int(value) if value is not None else None


def release_dependents(
    conn: sa.Connection, instance_pk: int, step_ids: Sequence[str], *, live: bool
) -> list[tuple[str, int, int]]:
    """One dependency of each of these steps is met: returns (step_id, pending, live)."""
    if not step_ids:
        return []
    rows = conn.execute(
        steps.update()
        .where(steps.c.instance_pk == instance_pk, steps.c.step_id.in_(list(step_ids)))
        .values(
            pending_deps=steps.c.pending_deps - 1,
            live_deps=steps.c.live_deps + (1 if live else 0),
        )
        .returning(steps.c.step_id, steps.c.pending_deps, steps.c.live_deps)
    ).all()
    return [(r.step_id, r.pending_deps, r.live_deps) for r in rows]


def queued_for_slot(conn: sa.Connection, instance_pk: int, step_id: str) -> bool:
    """True if the step is ready and waits for a slot of ``step_concurrency``."""
    value = conn.execute(
        sa.select(steps.c.ready_seq).where(
            steps.c.instance_pk == instance_pk, steps.c.step_id == step_id
        )
    ).scalar_one_or_none()
    return value is not None


def steps_in_status(conn: sa.Connection, instance_pk: int, status: str) -> list[str]:
    return list(
        conn.execute(
            sa.select(steps.c.step_id).where(
                steps.c.instance_pk == instance_pk, steps.c.status == status
            )
        ).scalars()
    )


def take_queued_steps(conn: sa.Connection, instance_pk: int, limit: int) -> list[str]:
    """The oldest ready steps that waited for a slot, in the order they became ready."""
    ids = list(
        conn.execute(
            sa.select(steps.c.step_id)
            .where(steps.c.instance_pk == instance_pk, steps.c.ready_seq.is_not(None))
            .order_by(steps.c.ready_seq)
            .limit(limit)
        ).scalars()
    )
    if ids:
        conn.execute(
            steps.update()
            .where(steps.c.instance_pk == instance_pk, steps.c.step_id.in_(ids))
            .values(ready_seq=None)
        )
    return ids


def step_outputs(
    conn: sa.Connection, instance_pk: int, step_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The outputs of these steps of one instance (only the steps a reader names)."""
    if not step_ids:
        return {}
    rows = conn.execute(
        sa.select(steps.c.step_id, steps.c.outputs).where(
            steps.c.instance_pk == instance_pk, steps.c.step_id.in_(list(step_ids))
        )
    ).all()
    return {r.step_id: dict(r.outputs or {}) for r in rows}


def enclosing_outputs(
    conn: sa.Connection, parent_pk: int | None, step_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Outputs of steps of the instances enclosing an iteration, the nearest first."""
    found: dict[str, dict[str, Any]] = {}
    wanted = list(step_ids)
    while parent_pk is not None and wanted:
        for step_id, outputs in step_outputs(conn, parent_pk, wanted).items():
            found.setdefault(step_id, outputs)
        wanted = [s for s in wanted if s not in found]
        parent_pk = conn.execute(
            sa.select(instances.c.parent_pk).where(instances.c.pk == parent_pk)
        ).scalar_one_or_none()
    return found


def step_statuses(conn: sa.Connection, instance_pk: int) -> dict[str, str]:
    """Every step's status (a restart decides over the whole instance, once)."""
    rows = conn.execute(
        sa.select(steps.c.step_id, steps.c.status).where(steps.c.instance_pk == instance_pk)
    ).all()
    return {r.step_id: r.status for r in rows}


def ready_after_restart(conn: sa.Connection, instance_pk: int) -> list[tuple[str, int]]:
    """Reset steps with nothing left to wait for: (step_id, live_deps)."""
    rows = conn.execute(
        sa.select(steps.c.step_id, steps.c.live_deps).where(
            steps.c.instance_pk == instance_pk,
            steps.c.status == "CREATED",
            steps.c.pending_deps == 0,
            steps.c.ready_seq.is_(None),
        )
    ).all()
    return [(r.step_id, r.live_deps) for r in rows]


def find_step(conn: sa.Connection, instance_pk: int, step_id: str) -> Any | None:
    """A step's status, its attempts so far and (a foreach) its number of iterations; None
    before the instance has written its steps."""
    return conn.execute(
        sa.select(steps.c.status, steps.c.attempt, steps.c.iter_total).where(
            steps.c.instance_pk == instance_pk, steps.c.step_id == step_id
        )
    ).first()


_INSTANCE_STEPS = (
    sa.select(
        steps.c.step_id,
        steps.c.status,
        steps.c.attempt,
        steps.c.user_errors,
        steps.c.platform_errors,
        steps.c.params,
        steps.c.outputs,
        steps.c.error,
        steps.c.retry_at,
        steps.c.started_at,
        steps.c.ended_at,
        *LOOP_COLUMNS,
    )
    .where(steps.c.instance_pk == sa.bindparam("instance_pk"))
    .order_by(steps.c.position)
)
"""Built once: every status read runs it."""


def instance_steps(conn: sa.Connection, instance_pk: int) -> list[Any]:
    return list(conn.execute(_INSTANCE_STEPS, {"instance_pk": instance_pk}).all())
