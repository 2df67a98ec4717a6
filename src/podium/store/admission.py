"""Run strategies: which of a workflow's instances run, which wait to start, and why."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from podium.engine.states import FAILED_INSTANCE
from podium.store import dialect
from podium.store.schema import instances, workflows

_RUNNING = ("IN_PROGRESS", "PAUSED")


def lock_workflow(conn: sa.Connection, workflow_id: str) -> tuple[int, int] | None:
    """Hold the workflow's row (PostgreSQL) while admitting its instances. Returns the
    number up to which failed instances no longer block (strict_sequential) and the version
    whose run strategy applies (the active one, else the latest)."""
    query = sa.select(
        workflows.c.unblocked_through, workflows.c.active_version, workflows.c.latest_version
    ).where(workflows.c.workflow_id == workflow_id)
    query = dialect.of(conn).lock(query)
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
    query = _waiting_to_start(workflow_id, limit, instances.c.pk, instances.c.instance_id)
    if before is not None:
        query = query.where(instances.c.instance_id < before)
    return [(r.pk, r.instance_id) for r in conn.execute(query).all()]


def first_blocker(conn: sa.Connection, workflow_id: str, unblocked_through: int) -> int | None:
    """strict_sequential: the first failed instance not unblocked, if any."""
    value = conn.execute(
        sa.select(sa.func.min(instances.c.instance_id)).where(
            instances.c.workflow_id == workflow_id,
            instances.c.parent_pk.is_(None),
            instances.c.status.in_(FAILED_INSTANCE),
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


def queued(conn: sa.Connection, workflow_id: str, *, limit: int) -> list[Any]:
    """Instances waiting to start, first come first, with why they wait."""
    return list(
        conn.execute(
            _waiting_to_start(workflow_id, limit, instances.c.instance_id, instances.c.waiting)
        ).all()
    )


def _waiting_to_start(
    workflow_id: str, limit: int, *columns: sa.ColumnElement[Any]
) -> sa.Select[Any]:
    """A workflow's top-level instances waiting to start, first come first."""
    return (
        sa.select(*columns)
        .where(
            instances.c.workflow_id == workflow_id,
            instances.c.status == "CREATED",
            instances.c.parent_pk.is_(None),
        )
        .order_by(instances.c.instance_id)
        .limit(limit)
    )
