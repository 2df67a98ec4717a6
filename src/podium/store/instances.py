"""Starting, listing, reading and stopping instances (the API's side of runs)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from podium.errors import InstanceNotFound, WorkflowNotFound
from podium.store.queue import add_work
from podium.store.runs import append_events
from podium.store.schema import attempts, instances, steps, timeline, workflows


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
) -> None:
    """Write the instance and the queue row that starts it, in the caller's transaction."""
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
        )
        .returning(instances.c.pk)
    ).scalar_one()
    add_work(conn, [{"kind": "start", "instance_pk": pk, "due_at": now}])
    detail = {"status": "CREATED", "version": version, "trigger": trigger}
    append_events(
        conn,
        [
            {
                "instance_pk": pk,
                "step_id": None,
                "at": now,
                "event": "instance.status",
                "detail": detail,
            }
        ],
        [
            {
                "at": now,
                "topic": "instance.status",
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
                }
                for r in rows
            ],
        )
        .scalars()
        .all()
    )
    add_work(conn, [{"kind": "start", "instance_pk": pk, "due_at": now} for pk in pks])
    timeline_rows = []
    outbox_rows = []
    for pk, r in zip(pks, rows, strict=True):
        detail = {"status": "CREATED", "version": r.version, "trigger": r.trigger}
        timeline_rows.append(
            {
                "instance_pk": pk,
                "step_id": None,
                "at": now,
                "event": "instance.status",
                "detail": detail,
            }
        )
        outbox_rows.append(
            {
                "at": now,
                "topic": "instance.status",
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
)


def find_instance(conn: sa.Connection, workflow_id: str, instance_id: int) -> Any:
    row = conn.execute(
        sa.select(*INSTANCE_COLUMNS).where(
            instances.c.workflow_id == workflow_id,
            instances.c.instance_id == instance_id,
            instances.c.iteration.is_(None),
        )
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


def find_step(conn: sa.Connection, instance_pk: int, step_id: str) -> Any | None:
    """A step's status, its attempts so far and (a foreach) its number of iterations; None
    before the instance has written its steps."""
    return conn.execute(
        sa.select(steps.c.status, steps.c.attempt, steps.c.iter_total).where(
            steps.c.instance_pk == instance_pk, steps.c.step_id == step_id
        )
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


def instance_steps(conn: sa.Connection, instance_pk: int) -> list[Any]:
    return list(
        conn.execute(
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
                steps.c.iter_total,
                steps.c.iter_launched,
                steps.c.iter_active,
                steps.c.iter_succeeded,
                steps.c.iter_failed,
                steps.c.iter_other,
            )
            .where(steps.c.instance_pk == instance_pk)
            .order_by(steps.c.position)
        ).all()
    )


@dataclass(frozen=True)
class AttemptLog:
    attempt: int
    attempt_dir: str
    ended: bool


def find_attempt(
    conn: sa.Connection, instance_pk: int, step_id: str, attempt: int | None
) -> AttemptLog | None:
    query = sa.select(attempts.c.attempt, attempts.c.attempt_dir, attempts.c.status).where(
        attempts.c.instance_pk == instance_pk, attempts.c.step_id == step_id
    )
    if attempt is not None:
        query = query.where(attempts.c.attempt == attempt)
    row = conn.execute(query.order_by(attempts.c.attempt.desc()).limit(1)).first()
    if row is None:
        return None
    return AttemptLog(row.attempt, row.attempt_dir, row.status == "ENDED")


def request_stop(conn: sa.Connection, instance_pk: int, *, now: float) -> None:
    add_work(conn, [{"kind": "stop", "instance_pk": instance_pk, "due_at": now}])


def instance_timeline(
    conn: sa.Connection,
    instance_pk: int,
    *,
    step_id: str | None = None,
    limit: int = 1000,
    after_id: int = 0,
) -> list[Any]:
    """The instance's timeline rows (and its steps'), oldest first; ``after_id`` pages on."""
    query = (
        sa.select(
            timeline.c.id,
            timeline.c.step_id,
            timeline.c.at,
            timeline.c.event,
            timeline.c.detail,
        )
        .where(timeline.c.instance_pk == instance_pk, timeline.c.id > after_id)
        .order_by(timeline.c.id)
        .limit(limit)
    )
    if step_id is not None:
        query = query.where(timeline.c.step_id == step_id)
    return list(conn.execute(query).all())


def queued(conn: sa.Connection, workflow_id: str, *, limit: int) -> list[Any]:
    """Instances waiting to start, first come first, with why they wait."""
    return list(
        conn.execute(
            sa.select(instances.c.instance_id, instances.c.waiting)
            .where(
                instances.c.workflow_id == workflow_id,
                instances.c.status == "CREATED",
                instances.c.parent_pk.is_(None),
            )
            .order_by(instances.c.instance_id)
            .limit(limit)
        ).all()
    )


def latest_attempt_dirs(conn: sa.Connection, instance_pk: int) -> dict[str, str]:
    """Each step's latest attempt directory, by step id."""
    rows = conn.execute(
        sa.select(attempts.c.step_id, attempts.c.attempt_dir)
        .where(attempts.c.instance_pk == instance_pk)
        .order_by(attempts.c.attempt)
    ).all()
    return {row.step_id: row.attempt_dir for row in rows}
