"""Instance rows: numbered and created (with the queue row that starts them), locked and
saved by the engine, begun again by a restart, listed and read by the API."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from podium.engine.states import LIVE_INSTANCE
from podium.engine.topics import Topic
from podium.engine.work import WorkKind, work_row
from podium.errors import InstanceNotFound, WorkflowNotFound
from podium.store import dialect
from podium.store.queue import add_work
from podium.store.schema import instances, steps, workflows
from podium.store.timeline import append_events


@dataclass(frozen=True)
class Numbered:
    """A new instance's number, with the versions it may run."""

    workflow_id: str
    instance_id: int
    active_version: int | None
    latest_version: int


def number_instance(conn: sa.Connection, workflow_id: str) -> Numbered:
    """Take the workflow's next instance number (the row stays locked until commit)."""
    row = conn.execute(
        workflows.update()
        .where(workflows.c.workflow_id == workflow_id)
        .values(last_instance_id=workflows.c.last_instance_id + 1)
        .returning(
            workflows.c.last_instance_id, workflows.c.active_version, workflows.c.latest_version
        )
    ).first()
    if row is None:
        raise WorkflowNotFound(f"no workflow {workflow_id!r} on this server; push it first")
    return Numbered(workflow_id, row.last_instance_id, row.active_version, row.latest_version)


def create_instance(
    conn: sa.Connection,
    *,
    workflow_id: str,
    instance_id: int,
    version: int,
    params: dict[str, Any],
    trigger: dict[str, Any],
    now: float,
    started_by: str | None = None,
    sealed_params: str | None = None,
) -> None:
    """Write the instance and the queue row that starts it, in the caller's transaction.
    Its jobs run as the workflow's owner of this moment (``run_as``); ``params`` are those
    shown, ``sealed_params`` the secrets behind them."""
    owner = sa.select(workflows.c.owner).where(workflows.c.workflow_id == workflow_id)
    pk = conn.execute(
        instances.insert()
        .values(
            workflow_id=workflow_id,
            instance_id=instance_id,
            version=version,
            status="CREATED",
            params=params,
            trigger=trigger,
            created_at=now,
            started_by=started_by,
            run_as=owner.scalar_subquery(),
            sealed_params=sealed_params,
        )
        .returning(instances.c.pk)
    ).scalar_one()
    add_work(conn, [work_row(WorkKind.START, pk, due_at=now)])
    detail = {"status": "CREATED", "version": version, "trigger": trigger}
    append_events(
        conn,
        [
            {
                "instance_pk": pk,
                "step_id": None,
                "at": now,
                "event": Topic.INSTANCE_STATUS.value,
                "detail": detail,
            }
        ],
        [
            {
                "at": now,
                "topic": Topic.INSTANCE_STATUS.value,
                "key": f"{workflow_id}/{instance_id}",
                "payload": {"workflow_id": workflow_id, "instance_id": instance_id, **detail},
            }
        ],
    )


def number_instances(conn: sa.Connection, workflow_ids: Sequence[str]) -> dict[str, Numbered]:
    """Take the next number of each of these (distinct) workflows in one statement."""
    if not workflow_ids:
        return {}
    rows = conn.execute(
        workflows.update()
        .where(workflows.c.workflow_id.in_(list(workflow_ids)))
        .values(last_instance_id=workflows.c.last_instance_id + 1)
        .returning(
            workflows.c.workflow_id,
            workflows.c.last_instance_id,
            workflows.c.active_version,
            workflows.c.latest_version,
        )
    ).all()
    return {
        r.workflow_id: Numbered(
            r.workflow_id, r.last_instance_id, r.active_version, r.latest_version
        )
        for r in rows
    }


def create_instances(conn: sa.Connection, rows: Sequence[NewInstance], *, now: float) -> None:
    """Many instances and their start rows at once: what ``create_instance`` does for one,
    in a few statements for the whole batch (a cron spike)."""
    if not rows:
        return
    owners = dict(
        conn.execute(
            sa.select(workflows.c.workflow_id, workflows.c.owner).where(
                workflows.c.workflow_id.in_({r.workflow_id for r in rows})
            )
        ).all()
    )
    pks = (
        conn.execute(
            instances.insert().returning(instances.c.pk, sort_by_parameter_order=True),
            [
                {
                    "workflow_id": r.workflow_id,
                    "instance_id": r.instance_id,
                    "version": r.version,
                    "status": "CREATED",
                    "params": r.params,
                    "trigger": r.trigger,
                    "created_at": now,
                    "started_by": r.started_by,
                    "run_as": owners.get(r.workflow_id),
                }
                for r in rows
            ],
        )
        .scalars()
        .all()
    )
    add_work(conn, [work_row(WorkKind.START, pk, due_at=now) for pk in pks])
    timeline_rows = []
    outbox_rows = []
    for pk, r in zip(pks, rows, strict=True):
        detail = {"status": "CREATED", "version": r.version, "trigger": r.trigger}
        timeline_rows.append(
            {
                "instance_pk": pk,
                "step_id": None,
                "at": now,
                "event": Topic.INSTANCE_STATUS.value,
                "detail": detail,
            }
        )
        outbox_rows.append(
            {
                "at": now,
                "topic": Topic.INSTANCE_STATUS.value,
                "key": f"{r.workflow_id}/{r.instance_id}",
                "payload": {"workflow_id": r.workflow_id, "instance_id": r.instance_id, **detail},
            }
        )
    append_events(conn, timeline_rows, outbox_rows)


@dataclass(frozen=True)
class NewInstance:
    workflow_id: str
    instance_id: int
    version: int
    params: dict[str, Any]
    trigger: dict[str, Any]
    started_by: str | None = None


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
    started_by: str | None = None
    run_as: str | None = None
    sealed_params: str | None = None
    """The sealed real values of the params shown masked (see podium.vault.params)."""


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
        instances.c.started_by,
        instances.c.run_as,
        instances.c.sealed_params,
    ).where(instances.c.pk == pk)
    query = dialect.of(conn).lock(query, skip_locked=skip_locked)
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


def begin_new_run(
    conn: sa.Connection,
    instance_pk: int,
    *,
    params: dict[str, Any],
    sealed_params: str | None,
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
            sealed_params=sealed_params,
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
                instances.c.status.in_(LIVE_INSTANCE),
            )
        ).scalars()
    )


INSTANCE_COLUMNS = (
    instances.c.pk,
    instances.c.workflow_id,
    instances.c.instance_id,
    instances.c.version,
    instances.c.run,
    instances.c.status,
    instances.c.params,
    instances.c.trigger,
    instances.c.error,
    instances.c.steps_total,
    instances.c.steps_done,
    instances.c.created_at,
    instances.c.started_at,
    instances.c.ended_at,
    instances.c.plan_path,
    instances.c.iteration,
    instances.c.waiting,
    instances.c.tags,
    instances.c.started_by,
    instances.c.run_as,
    instances.c.sealed_params,
)


_FIND_INSTANCE = sa.select(*INSTANCE_COLUMNS).where(
    instances.c.workflow_id == sa.bindparam("workflow_id"),
    instances.c.instance_id == sa.bindparam("instance_id"),
    instances.c.iteration.is_(None),
)
"""Built once: every status read runs it."""


def find_instance(conn: sa.Connection, workflow_id: str, instance_id: int) -> Any:
    row = conn.execute(
        _FIND_INSTANCE, {"workflow_id": workflow_id, "instance_id": instance_id}
    ).first()
    if row is None:
        raise InstanceNotFound(f"workflow {workflow_id!r} has no instance {instance_id}")
    return row


def find_iteration(conn: sa.Connection, parent_pk: int, step_path: str, iteration: int) -> Any:
    """An iteration of a foreach step (``backfill``, or ``outer.inner`` through the first
    iteration... of each enclosing loop is not supported: one level per call)."""
    row = conn.execute(
        sa.select(*INSTANCE_COLUMNS).where(
            instances.c.parent_pk == parent_pk,
            instances.c.parent_step == step_path,
            instances.c.iteration == iteration,
        )
    ).first()
    if row is None:
        raise InstanceNotFound(f"step {step_path!r} has no iteration {iteration}")
    return row


def find_child(
    conn: sa.Connection, parent_pk: int, step_id: str, iteration: int | None
) -> Any | None:
    """The child instance that step ``step_id`` of instance ``parent_pk`` started: its
    iteration ``iteration`` (a foreach), or its workflow's instance (a subworkflow, None);
    the latest one when a restart made another."""
    condition = (
        instances.c.iteration.is_(None) if iteration is None else instances.c.iteration == iteration
    )
    return conn.execute(
        sa.select(*INSTANCE_COLUMNS)
        .where(
            instances.c.parent_pk == parent_pk,
            instances.c.parent_step == step_id,
            condition,
        )
        .order_by(instances.c.pk.desc())
        .limit(1)
    ).first()


def list_instances(
    conn: sa.Connection, workflow_id: str, *, limit: int, before: int | None = None
) -> list[Any]:
    query = (
        sa.select(*INSTANCE_COLUMNS)
        .where(instances.c.workflow_id == workflow_id, instances.c.iteration.is_(None))
        .order_by(instances.c.instance_id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(instances.c.instance_id < before)
    return list(conn.execute(query).all())


def request_stop(conn: sa.Connection, instance_pk: int, *, now: float) -> None:
    add_work(conn, [work_row(WorkKind.STOP, instance_pk, due_at=now)])
