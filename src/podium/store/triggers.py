"""Cron triggers of active versions and their fires.

The ``cron_triggers`` row of a workflow follows its active version in the transaction that
changes it; the ``fires`` key (workflow, fire time) is what makes a tick start one
instance however many schedulers look at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from podium.definition.fields import seconds_of
from podium.store import dialect
from podium.store.schema import cron_triggers, fires
from podium.timing.schedule import jitter_offset_s, next_fire_after

NOTIFY_CHANNEL = "podium_triggers"


@dataclass(frozen=True)
class CronTriggerRow:
    workflow_id: str
    version: int
    cron: str
    timezone: str
    jitter_s: float
    catchup: str
    next_fire_at: float
    due_at: float


_COLUMNS = (
    cron_triggers.c.workflow_id,
    cron_triggers.c.version,
    cron_triggers.c.cron,
    cron_triggers.c.timezone,
    cron_triggers.c.jitter_s,
    cron_triggers.c.catchup,
    cron_triggers.c.next_fire_at,
    cron_triggers.c.due_at,
)


def sync_cron_trigger(
    conn: sa.Connection,
    workflow_id: str,
    version: int | None,
    definition: dict[str, Any] | None,
    *,
    now: float,
) -> None:
    """Make the workflow's trigger row match its active ``version`` (None: inactive).

    A version that takes over an unchanged schedule keeps the pending fire time, so
    activating a new version at the moment of a tick does not lose that tick.
    """
    trigger = (definition or {}).get("trigger") or {}
    cron = trigger.get("cron")
    if version is None or not cron:
        conn.execute(cron_triggers.delete().where(cron_triggers.c.workflow_id == workflow_id))
        return
    timezone = str(trigger.get("timezone") or "UTC")
    jitter_s = seconds_of(trigger.get("jitter")) or 0.0
    current = get_cron_trigger(conn, workflow_id)
    if current is not None and current.version == version:
        return
    if current is not None and (current.cron, current.timezone) == (cron, timezone):
        next_fire_at = current.next_fire_at
    else:
        next_fire_at = next_fire_after(cron, timezone, now)
    values = {
        "version": version,
        "cron": cron,
        "timezone": timezone,
        "jitter_s": jitter_s,
        "catchup": str(trigger.get("catchup") or "latest"),
        "next_fire_at": next_fire_at,
        "due_at": next_fire_at + jitter_offset_s(workflow_id, jitter_s),
        "updated_at": now,
    }
    if current is None:
        conn.execute(cron_triggers.insert().values(workflow_id=workflow_id, **values))
    else:
        conn.execute(
            cron_triggers.update()
            .where(cron_triggers.c.workflow_id == workflow_id)
            .values(**values)
        )
    dialect.of(conn).notify(conn, NOTIFY_CHANNEL)


def get_cron_trigger(conn: sa.Connection, workflow_id: str) -> CronTriggerRow | None:
    row = conn.execute(
        sa.select(*_COLUMNS).where(cron_triggers.c.workflow_id == workflow_id)
    ).first()
    return None if row is None else CronTriggerRow(**row._mapping)


def claim_due_triggers(conn: sa.Connection, *, now: float, limit: int) -> list[CronTriggerRow]:
    """Lock up to ``limit`` due triggers, earliest first (``SKIP LOCKED`` on PostgreSQL, so
    schedulers on several workers share a spike instead of queueing behind each other)."""
    query = (
        sa.select(*_COLUMNS)
        .where(cron_triggers.c.due_at <= now)
        .order_by(cron_triggers.c.due_at)
        .limit(limit)
    )
    query = dialect.of(conn).lock(query, skip_locked=True)
    rows = [CronTriggerRow(**r._mapping) for r in conn.execute(query).all()]
    # One lock order for the workflow rows that numbering instances takes next.
    return sorted(rows, key=lambda r: r.workflow_id)


def record_fires(
    conn: sa.Connection, ticks: list[tuple[str, float]], *, now: float
) -> set[tuple[str, float]]:
    """Claim many ticks at once; returns those not fired before."""
    if not ticks:
        return set()
    rows = conn.execute(
        dialect.of(conn)
        .insert_missing(fires, ["workflow_id", "fire_time"])
        .returning(fires.c.workflow_id, fires.c.fire_time),
        [
            {"workflow_id": w, "fire_time": t, "instance_id": None, "created_at": now}
            for w, t in ticks
        ],
    ).all()
    return {(r.workflow_id, r.fire_time) for r in rows}


def set_fire_instances(conn: sa.Connection, fired: list[tuple[str, float, int]]) -> None:
    if not fired:
        return
    conn.execute(
        fires.update()
        .where(fires.c.workflow_id == sa.bindparam("w"), fires.c.fire_time == sa.bindparam("t"))
        .values(instance_id=sa.bindparam("i")),
        [{"w": w, "t": t, "i": i} for w, t, i in fired],
    )


def advance_triggers(
    conn: sa.Connection, moves: list[tuple[CronTriggerRow, float]], *, now: float
) -> None:
    """Move each trigger to its next tick (its jitter kept)."""
    if not moves:
        return
    conn.execute(
        cron_triggers.update()
        .where(cron_triggers.c.workflow_id == sa.bindparam("w"))
        .values(
            next_fire_at=sa.bindparam("next_fire_at"),
            due_at=sa.bindparam("due_at"),
            updated_at=now,
        ),
        [
            {
                "w": row.workflow_id,
                "next_fire_at": following,
                "due_at": following + (row.due_at - row.next_fire_at),
            }
            for row, following in moves
        ],
    )


def next_trigger_due(conn: sa.Connection) -> float | None:
    """When the earliest trigger falls due (None: no trigger at all)."""
    return conn.execute(sa.select(sa.func.min(cron_triggers.c.due_at))).scalar_one_or_none()


def list_fires(conn: sa.Connection, workflow_id: str) -> list[tuple[float, int | None]]:
    rows = conn.execute(
        sa.select(fires.c.fire_time, fires.c.instance_id)
        .where(fires.c.workflow_id == workflow_id)
        .order_by(fires.c.fire_time)
    ).all()
    return [(r.fire_time, r.instance_id) for r in rows]
