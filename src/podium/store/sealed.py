"""The sealed params of instances and foreach steps, for a key rotation to re-wrap.

Each is read a page at a time and swapped only if it did not change since it was read (a
restart sealed it again meanwhile, under the primary key already).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from podium.store.schema import instances, steps


@dataclass(frozen=True)
class SealedParams:
    """Where one sealed value lives: an instance (``step_id`` None) or a foreach step."""

    instance_pk: int
    step_id: str | None
    workflow_id: str
    sealed: str


def instances_page(conn: sa.Connection, *, after: int, limit: int) -> list[SealedParams]:
    rows = conn.execute(
        sa.select(instances.c.pk, instances.c.workflow_id, instances.c.sealed_params)
        .where(instances.c.sealed_params.is_not(None), instances.c.pk > after)
        .order_by(instances.c.pk)
        .limit(limit)
    ).all()
    return [SealedParams(r.pk, None, r.workflow_id, r.sealed_params) for r in rows]


def loops_page(conn: sa.Connection, *, after: tuple[int, str], limit: int) -> list[SealedParams]:
    rows = conn.execute(
        sa.select(
            steps.c.instance_pk, steps.c.step_id, instances.c.workflow_id, steps.c.sealed_params
        )
        .join(instances, instances.c.pk == steps.c.instance_pk)
        .where(
            steps.c.sealed_params.is_not(None),
            sa.tuple_(steps.c.instance_pk, steps.c.step_id) > sa.tuple_(*after),
        )
        .order_by(steps.c.instance_pk, steps.c.step_id)
        .limit(limit)
    ).all()
    return [SealedParams(r.instance_pk, r.step_id, r.workflow_id, r.sealed_params) for r in rows]


def replace(conn: sa.Connection, found: SealedParams, sealed: str) -> bool:
    """Swap ``found`` for ``sealed`` unless it changed since it was read."""
    if found.step_id is None:
        table, where = instances, [instances.c.pk == found.instance_pk]
    else:
        table = steps
        where = [steps.c.instance_pk == found.instance_pk, steps.c.step_id == found.step_id]
    done = conn.execute(
        table.update()
        .where(*where, table.c.sealed_params == found.sealed)
        .values(sealed_params=sealed)
    )
    return bool(done.rowcount)
