"""The durable work queue: one row per thing to do next.

A row is due when ``due_at <= now``. Claiming leases a row by pushing its ``due_at`` to
the lease's end: an expired lease is therefore simply a due row again, and a dead
worker's work is taken over by the same query that takes new work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from podium.engine.work import WorkKind
from podium.store import dialect
from podium.store.schema import work

NOTIFY_CHANNEL = "podium_work"


@dataclass(frozen=True)
class WorkItem:
    id: int
    kind: str
    instance_pk: int
    step_id: str | None
    attempt: int | None
    tries: int
    previous_owner: str | None


def claim_due_work(
    conn: sa.Connection, *, owner: str, now: float, lease_s: float, limit: int
) -> list[WorkItem]:
    """Lease up to ``limit`` due rows, oldest first (``SKIP LOCKED`` on PostgreSQL)."""
    due = (
        sa.select(work.c.id, work.c.lease_owner)
        .where(work.c.due_at <= now)
        .order_by(work.c.due_at)
        .limit(limit)
    )
    due = dialect.of(conn).lock(due, skip_locked=True)
    rows = conn.execute(due).all()
    if not rows:
        return []
    previous = {r.id: r.lease_owner for r in rows}
    claimed = conn.execute(
        work.update()
        .where(work.c.id.in_(list(previous)))
        .values(lease_owner=owner, due_at=now + lease_s, tries=work.c.tries + 1)
        .returning(
            work.c.id, work.c.kind, work.c.instance_pk, work.c.step_id, work.c.attempt, work.c.tries
        )
    ).all()
    items = [
        WorkItem(r.id, r.kind, r.instance_pk, r.step_id, r.attempt, r.tries, previous[r.id])
        for r in claimed
    ]
    items.sort(key=lambda i: (i.instance_pk, i.id))
    return items


def add_work(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert work rows; each dict has kind, instance_pk, due_at and optionally step_id,
    attempt and lease_owner (a row created already leased by its own worker)."""
    if not rows:
        return
    full = [{"step_id": None, "attempt": None, "lease_owner": None, **row} for row in rows]
    conn.execute(work.insert(), full)
    dialect.of(conn).notify(conn, NOTIFY_CHANNEL)


def finish_work(conn: sa.Connection, work_id: int, *, owner: str) -> bool:
    """Delete a row this worker holds; False if its lease was lost to another worker."""
    result = conn.execute(work.delete().where(work.c.id == work_id, work.c.lease_owner == owner))
    return result.rowcount == 1


def finish_launch(
    conn: sa.Connection, instance_pk: int, step_id: str, attempt: int, *, owner: str
) -> bool:
    result = conn.execute(
        work.delete().where(
            work.c.instance_pk == instance_pk,
            work.c.kind == WorkKind.LAUNCH.value,
            work.c.step_id == step_id,
            work.c.attempt == attempt,
            work.c.lease_owner == owner,
        )
    )
    return result.rowcount == 1


def delete_instance_work(
    conn: sa.Connection, instance_pk: int, kinds: Sequence[str]
) -> list[str | None]:
    """Remove an instance's pending rows of these kinds; returns their step ids."""
    rows = conn.execute(
        work.delete()
        .where(work.c.instance_pk == instance_pk, work.c.kind.in_([str(k) for k in kinds]))
        .returning(work.c.step_id)
    ).all()
    return [r.step_id for r in rows]


def delay_work(conn: sa.Connection, work_id: int, *, until: float) -> None:
    """Set a row aside until ``until``, free for any worker then; counts as a try."""
    conn.execute(
        work.update()
        .where(work.c.id == work_id)
        .values(due_at=until, lease_owner=None, tries=work.c.tries + 1)
    )


def delay_launch(
    conn: sa.Connection, attempt: tuple[int, str, int], *, owner: str, until: float
) -> None:
    """Release a launch this worker holds, to be taken over (re-attached) at ``until``."""
    instance_pk, step_id, number = attempt
    conn.execute(
        work.update()
        .where(
            work.c.instance_pk == instance_pk,
            work.c.kind == WorkKind.LAUNCH.value,
            work.c.step_id == step_id,
            work.c.attempt == number,
            work.c.lease_owner == owner,
        )
        .values(due_at=until, lease_owner=None)
    )


def extend_leases(conn: sa.Connection, *, owner: str, until: float) -> int:
    result = conn.execute(work.update().where(work.c.lease_owner == owner).values(due_at=until))
    return result.rowcount


def release_leases(conn: sa.Connection, *, owner: str, now: float) -> int:
    """Make every row this worker holds due at once, so another worker takes it over."""
    result = conn.execute(work.update().where(work.c.lease_owner == owner).values(due_at=now))
    if result.rowcount:
        dialect.of(conn).notify(conn, NOTIFY_CHANNEL)
    return result.rowcount


def release_all_leases(conn: sa.Connection, *, now: float) -> int:
    """On SQLite the engine is alone: at start every lease is stale."""
    result = conn.execute(
        work.update().where(work.c.lease_owner.is_not(None), work.c.due_at > now).values(due_at=now)
    )
    return result.rowcount


def next_due_at(conn: sa.Connection, *, owner: str) -> float | None:
    """When the next row not held by this worker falls due (an expired lease counts)."""
    return conn.execute(
        sa.select(sa.func.min(work.c.due_at)).where(
            sa.or_(work.c.lease_owner.is_(None), work.c.lease_owner != owner)
        )
    ).scalar_one_or_none()


def notify(conn: sa.Connection) -> None:
    dialect.of(conn).notify(conn, NOTIFY_CHANNEL)
