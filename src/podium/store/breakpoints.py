"""Breakpoints: steps that pause before they run, for every instance or for one."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from podium.store.schema import breakpoints, steps

EVERY_INSTANCE = 0


def set_breakpoint(
    conn: sa.Connection, workflow_id: str, step_id: str, instance_id: int | None, *, now: float
) -> bool:
    """Add a breakpoint; False if it was already set."""
    key = {
        "workflow_id": workflow_id,
        "step_id": step_id,
        "instance_id": instance_id or EVERY_INSTANCE,
    }
    exists = conn.execute(
        sa.select(sa.literal(1)).where(*(breakpoints.c[k] == v for k, v in key.items()))
    ).first()
    if exists:
        return False
    conn.execute(breakpoints.insert().values(**key, created_at=now))
    return True


def clear_breakpoint(
    conn: sa.Connection, workflow_id: str, step_id: str, instance_id: int | None
) -> bool:
    result = conn.execute(
        breakpoints.delete().where(
            breakpoints.c.workflow_id == workflow_id,
            breakpoints.c.step_id == step_id,
            breakpoints.c.instance_id == (instance_id or EVERY_INSTANCE),
        )
    )
    return result.rowcount > 0


def list_breakpoints(conn: sa.Connection, workflow_id: str) -> list[Any]:
    return list(
        conn.execute(
            sa.select(breakpoints.c.step_id, breakpoints.c.instance_id, breakpoints.c.created_at)
            .where(breakpoints.c.workflow_id == workflow_id)
            .order_by(breakpoints.c.step_id, breakpoints.c.instance_id)
        ).all()
    )


def all_breakpoints(conn: sa.Connection) -> list[tuple[str, str, int]]:
    """Every breakpoint: (workflow_id, step_id, instance_id or 0 for every instance)."""
    rows = conn.execute(
        sa.select(breakpoints.c.workflow_id, breakpoints.c.step_id, breakpoints.c.instance_id)
    ).all()
    return [(r.workflow_id, r.step_id, r.instance_id) for r in rows]


def paused_steps(conn: sa.Connection, instance_pk: int) -> list[str]:
    return list(
        conn.execute(
            sa.select(steps.c.step_id).where(
                steps.c.instance_pk == instance_pk, steps.c.status == "PAUSED"
            )
        ).scalars()
    )


def step_status(conn: sa.Connection, instance_pk: int, step_id: str) -> str | None:
    value = conn.execute(
        sa.select(steps.c.status).where(
            steps.c.instance_pk == instance_pk, steps.c.step_id == step_id
        )
    ).scalar_one_or_none()
    return str(value) if value is not None else None
