"""What the engine reads and writes while it runs instances: instances, steps, attempts,
and the timeline and outbox rows that describe each change.

Every status change is one guarded statement (``WHERE status IN (...)``) whose row
count tells the caller whether it won.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from podium.store.schema import (
    attempts,
    instances,
    outbox,
    steps,
    timeline,
    workflow_versions,
    workflows,
)


@dataclass
class InstanceRow:
    pk: int
    workflow_id: str
    instance_id: int
    version: int
    status: str
    params: dict[str, Any]
    steps_total: int
    steps_done: int
    steps_active: int
    steps_queued: int
    ready_seq: int
    halt: str | None
    started_at: float | None
    ended_at: float | None
    error: dict[str, Any] | None
    trigger: dict[str, Any]
    created_at: float
    run: int
    parent_pk: int | None
    parent_step: str | None
    iteration: int | None
    plan_path: str
    tags: list[str] | None = None
    """Concurrency tags inherited from the step that started this child instance."""


def lock_instance(conn: sa.Connection, pk: int, *, skip_locked: bool = False) -> InstanceRow | None:
    """Read an instance for change; on PostgreSQL the row stays locked until commit.
    ``skip_locked``: None instead of waiting if another transaction holds it."""
    query = sa.select(
        instances.c.pk,
        instances.c.workflow_id,
        instances.c.instance_id,
        instances.c.version,
        instances.c.status,
        instances.c.params,
        instances.c.steps_total,
        instances.c.steps_done,
        instances.c.steps_active,
        instances.c.steps_queued,
        instances.c.ready_seq,
        instances.c.halt,
        instances.c.started_at,
        instances.c.ended_at,
        instances.c.error,
        instances.c.trigger,
        instances.c.created_at,
        instances.c.run,
        instances.c.parent_pk,
        instances.c.parent_step,
        instances.c.iteration,
        instances.c.plan_path,
        instances.c.tags,
    ).where(instances.c.pk == pk)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=skip_locked)
    row = conn.execute(query).first()
    return InstanceRow(**row._mapping) if row else None


def save_instance(conn: sa.Connection, inst: InstanceRow) -> None:
    conn.execute(
        instances.update()
        .where(instances.c.pk == inst.pk)
        .values(
            status=inst.status,
            steps_total=inst.steps_total,
            steps_done=inst.steps_done,
            steps_active=inst.steps_active,
            steps_queued=inst.steps_queued,
            ready_seq=inst.ready_seq,
            halt=inst.halt,
            started_at=inst.started_at,
            ended_at=inst.ended_at,
            error=inst.error,
        )
    )


def load_definition(conn: sa.Connection, workflow_id: str, version: int) -> dict[str, Any]:
    row = conn.execute(
        sa.select(workflow_versions.c.definition).where(
            workflow_versions.c.workflow_id == workflow_id,
            workflow_versions.c.version == version,
        )
    ).scalar_one()
    return dict(row)


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
            steps.c.status.in_(["CREATED", "PAUSED", "WAITING_FOR_PERMITS", "WAITING_FOR_SIGNALS"]),
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


def add_attempt(conn: sa.Connection, row: dict[str, Any]) -> None:
    conn.execute(attempts.insert(), [row])


@dataclass(frozen=True)
class AttemptRow:
    attempt_id: str
    instance_pk: int
    step_id: str
    attempt: int
    status: str
    worker_id: str
    host: str
    attempt_dir: str
    deadline_at: float | None
    cancel_reason: str | None


_ATTEMPT_COLUMNS = (
    attempts.c.attempt_id,
    attempts.c.instance_pk,
    attempts.c.step_id,
    attempts.c.attempt,
    attempts.c.status,
    attempts.c.worker_id,
    attempts.c.host,
    attempts.c.attempt_dir,
    attempts.c.deadline_at,
    attempts.c.cancel_reason,
)


def get_attempt(conn: sa.Connection, attempt_id: str) -> AttemptRow | None:
    row = conn.execute(
        sa.select(*_ATTEMPT_COLUMNS).where(attempts.c.attempt_id == attempt_id)
    ).first()
    return AttemptRow(**row._mapping) if row else None


def live_attempts(conn: sa.Connection, instance_pk: int) -> list[AttemptRow]:
    rows = conn.execute(
        sa.select(*_ATTEMPT_COLUMNS).where(
            attempts.c.instance_pk == instance_pk, attempts.c.status == "RUNNING"
        )
    ).all()
    return [AttemptRow(**r._mapping) for r in rows]


def end_attempt(
    conn: sa.Connection, attempt_id: str, *, exit_code: int | None, now: float
) -> str | None:
    """Mark a running attempt ended; returns its cancel reason ("" when none), or None if it
    was not running."""
    row = conn.execute(
        attempts.update()
        .where(attempts.c.attempt_id == attempt_id, attempts.c.status == "RUNNING")
        .values(status="ENDED", exit_code=exit_code, ended_at=now)
        .returning(attempts.c.cancel_reason)
    ).first()
    if row is None:
        return None
    return row.cancel_reason or ""


def update_attempt(conn: sa.Connection, attempt_id: str, **values: Any) -> None:
    conn.execute(attempts.update().where(attempts.c.attempt_id == attempt_id).values(**values))


def request_cancel(conn: sa.Connection, attempt_id: str, reason: str) -> bool:
    """Record why the engine kills this attempt, unless an earlier reason stands."""
    result = conn.execute(
        attempts.update()
        .where(
            attempts.c.attempt_id == attempt_id,
            attempts.c.status == "RUNNING",
            attempts.c.cancel_reason.is_(None),
        )
        .values(cancel_reason=reason)
    )
    return result.rowcount == 1


WROTE_OUTBOX = "podium.wrote_outbox"
"""Key of ``Connection.info`` set by the one writer of the outbox, ``append_events``."""


def append_events(
    conn: sa.Connection,
    timeline_rows: Sequence[dict[str, Any]],
    outbox_rows: Sequence[dict[str, Any]],
) -> None:
    if timeline_rows:
        conn.execute(timeline.insert(), list(timeline_rows))
    if outbox_rows:
        conn.execute(outbox.insert(), list(outbox_rows))
        # The event publisher wakes when a connection that wrote the outbox is returned.
        conn.info[WROTE_OUTBOX] = True


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


def step_statuses(conn: sa.Connection, instance_pk: int) -> dict[str, str]:
    """Every step's status (a restart decides over the whole instance, once)."""
    rows = conn.execute(
        sa.select(steps.c.step_id, steps.c.status).where(steps.c.instance_pk == instance_pk)
    ).all()
    return {r.step_id: r.status for r in rows}


def begin_new_run(
    conn: sa.Connection,
    instance_pk: int,
    *,
    params: dict[str, Any],
    steps_done: int,
    reset: Mapping[str, tuple[int, int]],
    terminal: Iterable[str],
    loops: Sequence[str] = (),
) -> int | None:
    """Start the next run of an ended instance: reset the steps named in ``reset`` (to wait
    for (pending, live) dependencies) and keep the others. Returns the new run number, or
    None if the instance had not ended."""
    run = conn.execute(
        instances.update()
        .where(instances.c.pk == instance_pk, instances.c.status.in_(list(terminal)))
        .values(
            status="IN_PROGRESS",
            run=instances.c.run + 1,
            params=params,
            steps_done=steps_done,
            steps_active=0,
            steps_queued=0,
            halt=None,
            error=None,
            ended_at=None,
        )
        .returning(instances.c.run)
    ).scalar_one_or_none()
    if run is None:
        return None
    conn.execute(
        steps.update()
        .where(steps.c.instance_pk == instance_pk, steps.c.step_id == sa.bindparam("sid"))
        .values(
            status="CREATED",
            pending_deps=sa.bindparam("pending"),
            live_deps=sa.bindparam("live"),
            ready_seq=None,
            outputs=None,
            error=None,
            retry_at=None,
            started_at=None,
            ended_at=None,
            user_errors=0,
            platform_errors=0,
        ),
        [{"sid": s, "pending": p, "live": lv} for s, (p, lv) in reset.items()],
    )
    if loops:
        # The earlier run's iterations stay as history, no longer counted as this run's.
        conn.execute(
            instances.update()
            .where(instances.c.parent_pk == instance_pk, instances.c.parent_step.in_(list(loops)))
            .values(parent_step=instances.c.parent_step + f"@run{run - 1}")
        )
    return int(run)


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


# -- foreach -------------------------------------------------------------------------------


@dataclass
class LoopCounts:
    total: int
    launched: int
    active: int
    succeeded: int
    failed: int
    other: int
    redo: list[int] | None = None
    """After a restart, the iterations to run again; the others succeeded and are kept."""

    @property
    def ended(self) -> int:
        return self.succeeded + self.failed + self.other

    @property
    def planned(self) -> int:
        """How many iterations this run launches."""
        return len(self.redo) if self.redo is not None else self.total

    def index(self, position: int) -> int:
        """The iteration launched at ``position`` in this run."""
        return self.redo[position] if self.redo is not None else position


_LOOP_COLUMNS = (
    steps.c.iter_total,
    steps.c.iter_launched,
    steps.c.iter_active,
    steps.c.iter_succeeded,
    steps.c.iter_failed,
    steps.c.iter_other,
)


def _loop(row: Any, redo: list[int] | None = None) -> LoopCounts:
    total, launched, active, succeeded, failed, other = (int(v or 0) for v in row)
    return LoopCounts(total, launched, active, succeeded, failed, other, redo)


def begin_foreach(
    conn: sa.Connection,
    instance_pk: int,
    step_id: str,
    *,
    params: dict[str, Any],
    over: dict[str, list[Any]],
    total: int,
    now: float,
) -> None:
    conn.execute(
        steps.update()
        .where(
            steps.c.instance_pk == instance_pk,
            steps.c.step_id == step_id,
            steps.c.status.in_(["CREATED", "PAUSED", "WAITING_FOR_SIGNALS"]),
        )
        .values(
            status="RUNNING",
            attempt=steps.c.attempt + 1,
            params=params,
            started_at=sa.func.coalesce(steps.c.started_at, now),
            iter_total=total,
            iter_over=over,
            iter_launched=0,
            iter_active=0,
            iter_succeeded=0,
            iter_failed=0,
            iter_other=0,
            iter_redo=None,
        )
    )


def resume_foreach(conn: sa.Connection, instance_pk: int, step_id: str, *, now: float) -> None:
    """Run a restarted foreach again over the iterations it marked to redo."""
    conn.execute(
        steps.update()
        .where(steps.c.instance_pk == instance_pk, steps.c.step_id == step_id)
        .values(
            status="RUNNING",
            attempt=steps.c.attempt + 1,
            started_at=sa.func.coalesce(steps.c.started_at, now),
        )
    )


def redo_iterations(conn: sa.Connection, instance_pk: int, step_id: str, run: int) -> int:
    """Before a restart: mark the iterations that did not succeed to run again, set them
    apart as the earlier run's history, and keep the rest. Returns how many are redone."""
    row = conn.execute(
        sa.select(steps.c.iter_total).where(
            steps.c.instance_pk == instance_pk, steps.c.step_id == step_id
        )
    ).scalar_one()
    kept = set(
        conn.execute(
            sa.select(instances.c.iteration).where(
                instances.c.parent_pk == instance_pk,
                instances.c.parent_step == step_id,
                instances.c.status == "SUCCEEDED",
            )
        ).scalars()
    )
    redo = [i for i in range(int(row or 0)) if i not in kept]
    conn.execute(
        instances.update()
        .where(
            instances.c.parent_pk == instance_pk,
            instances.c.parent_step == step_id,
            instances.c.status != "SUCCEEDED",
        )
        .values(parent_step=instances.c.parent_step + f"@run{run - 1}")
    )
    conn.execute(
        steps.update()
        .where(steps.c.instance_pk == instance_pk, steps.c.step_id == step_id)
        .values(
            iter_redo=redo,
            iter_launched=0,
            iter_active=0,
            iter_succeeded=len(kept),
            iter_failed=0,
            iter_other=0,
        )
    )
    return len(redo)


def loop_state(
    conn: sa.Connection, instance_pk: int, step_id: str
) -> tuple[LoopCounts, dict[str, list[Any]], dict[str, Any]]:
    row = conn.execute(
        sa.select(*_LOOP_COLUMNS, steps.c.iter_over, steps.c.params, steps.c.iter_redo).where(
            steps.c.instance_pk == instance_pk, steps.c.step_id == step_id
        )
    ).one()
    redo = list(row.iter_redo) if row.iter_redo is not None else None
    return _loop(row[:6], redo), dict(row.iter_over or {}), dict(row.params or {})


def save_loop(conn: sa.Connection, instance_pk: int, step_id: str, counts: LoopCounts) -> None:
    """Write a foreach step's counts (kept in memory while a transaction advances it)."""
    conn.execute(
        steps.update()
        .where(steps.c.instance_pk == instance_pk, steps.c.step_id == step_id)
        .values(
            iter_launched=counts.launched,
            iter_active=counts.active,
            iter_succeeded=counts.succeeded,
            iter_failed=counts.failed,
            iter_other=counts.other,
        )
    )


def create_child_instances(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert child instances (a batch of iterations, or a subworkflow's); their pks, in order."""
    result = conn.execute(
        instances.insert().returning(instances.c.pk, sort_by_parameter_order=True), list(rows)
    )
    return [int(r.pk) for r in result.all()]


def live_children(conn: sa.Connection, instance_pk: int, step_id: str) -> list[int]:
    return list(
        conn.execute(
            sa.select(instances.c.pk).where(
                instances.c.parent_pk == instance_pk,
                instances.c.parent_step == step_id,
                instances.c.status.in_(["CREATED", "IN_PROGRESS", "PAUSED"]),
            )
        ).scalars()
    )


def iteration_outputs(
    conn: sa.Connection, instance_pk: int, step_id: str
) -> dict[str, list[dict[str, Any]]]:
    """Each inner step's outputs over the iterations, in iteration order."""
    rows = conn.execute(
        sa.select(steps.c.step_id, steps.c.outputs)
        .select_from(instances.join(steps, steps.c.instance_pk == instances.c.pk))
        .where(instances.c.parent_pk == instance_pk, instances.c.parent_step == step_id)
        .order_by(instances.c.iteration, steps.c.position)
    ).all()
    found: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row.step_id, []).append(dict(row.outputs or {}))
    return found


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


# -- run strategies ------------------------------------------------------------------------

_RUNNING = ("IN_PROGRESS", "PAUSED")


def lock_workflow(conn: sa.Connection, workflow_id: str) -> tuple[int, int] | None:
    """Hold the workflow's row (PostgreSQL) while admitting its instances. Returns the
    number up to which failed instances no longer block (strict_sequential) and the version
    whose run strategy applies (the active one, else the latest)."""
    query = sa.select(
        workflows.c.unblocked_through, workflows.c.active_version, workflows.c.latest_version
    ).where(workflows.c.workflow_id == workflow_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        return None
    return int(row.unblocked_through), int(row.active_version or row.latest_version)


def running_instances(conn: sa.Connection, workflow_id: str) -> list[tuple[int, int]]:
    """(pk, instance_id) of the workflow's top-level instances that run, oldest first."""
    rows = conn.execute(
        sa.select(instances.c.pk, instances.c.instance_id)
        .where(
            instances.c.workflow_id == workflow_id,
            instances.c.status.in_(_RUNNING),
            instances.c.parent_pk.is_(None),
        )
        .order_by(instances.c.instance_id)
    ).all()
    return [(r.pk, r.instance_id) for r in rows]


def queued_instances(
    conn: sa.Connection, workflow_id: str, limit: int, *, before: int | None = None
) -> list[tuple[int, int]]:
    """(pk, instance_id) of instances waiting to start, first come first."""
    query = (
        sa.select(instances.c.pk, instances.c.instance_id)
        .where(
            instances.c.workflow_id == workflow_id,
            instances.c.status == "CREATED",
            instances.c.parent_pk.is_(None),
        )
        .order_by(instances.c.instance_id)
        .limit(limit)
    )
    if before is not None:
        query = query.where(instances.c.instance_id < before)
    return [(r.pk, r.instance_id) for r in conn.execute(query).all()]


def first_blocker(conn: sa.Connection, workflow_id: str, unblocked_through: int) -> int | None:
    """strict_sequential: the first failed instance not unblocked, if any."""
    value = conn.execute(
        sa.select(sa.func.min(instances.c.instance_id)).where(
            instances.c.workflow_id == workflow_id,
            instances.c.parent_pk.is_(None),
            instances.c.status.in_(["FAILED", "TIMED_OUT"]),
            instances.c.instance_id > unblocked_through,
        )
    ).scalar_one_or_none()
    return int(value) if value is not None else None


def set_waiting(conn: sa.Connection, instance_pk: int, reason: str | None) -> None:
    conn.execute(instances.update().where(instances.c.pk == instance_pk).values(waiting=reason))


def instance_workflow(conn: sa.Connection, instance_pk: int) -> str | None:
    """An instance's workflow, read without locking it (admission locks the workflow first)."""
    value = conn.execute(
        sa.select(instances.c.workflow_id).where(instances.c.pk == instance_pk)
    ).scalar_one_or_none()
    return str(value) if value is not None else None
