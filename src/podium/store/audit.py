"""The audit trail: one row per change made through the door, written in its transaction,
with an ``audit`` event in the outbox beside it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from podium.engine.topics import Topic
from podium.store.schema import audit
from podium.store.timeline import append_events


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: float
    actor: str
    action: str
    workflow_id: str | None
    target: str | None
    outcome: str
    detail: dict[str, Any]


def record(
    conn: sa.Connection,
    *,
    actor: str,
    action: str,
    workflow_id: str | None,
    target: str | None,
    outcome: str,
    detail: dict[str, Any],
    now: float,
) -> None:
    row = {
        "at": now,
        "actor": actor,
        "action": action,
        "workflow_id": workflow_id,
        "target": target,
        "outcome": outcome,
        "detail": detail,
    }
    conn.execute(audit.insert().values(**row))
    append_events(
        conn,
        [],
        [{"at": now, "topic": Topic.AUDIT.value, "key": workflow_id or actor, "payload": row}],
    )


def list_audit(
    conn: sa.Connection,
    *,
    actor: str | None = None,
    workflow_id: str | None = None,
    since: float | None = None,
    until: float | None = None,
    action: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[AuditRow]:
    """Newest first."""
    query = sa.select(audit).order_by(audit.c.id.desc()).limit(limit)
    if actor is not None:
        query = query.where(audit.c.actor == actor)
    if workflow_id is not None:
        query = query.where(audit.c.workflow_id == workflow_id)
    if since is not None:
        query = query.where(audit.c.at >= since)
    if until is not None:
        query = query.where(audit.c.at < until)
    if action is not None:
        query = query.where(audit.c.action == action)
    if before_id is not None:
        query = query.where(audit.c.id < before_id)
    return [AuditRow(**r._mapping) for r in conn.execute(query).all()]
