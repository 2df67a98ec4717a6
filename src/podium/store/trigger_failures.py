"""The starts a trigger could not make, kept where people look (``podium info``, the API).

A trigger has nobody to answer when a workflow's params do not resolve for its fire: the
failure is stored, and published as a ``trigger.failed`` event, in the transaction that
decided it. Only the newest ``KEEP_PER_TRIGGER`` of each trigger of a workflow are kept,
so a trigger that fails every minute costs a bounded table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from podium.engine.topics import Topic
from podium.store.schema import trigger_failures
from podium.store.timeline import append_events

KEEP_PER_TRIGGER = 20

TOPIC = Topic.TRIGGER_FAILED.value


@dataclass(frozen=True)
class TriggerFailure:
    """``trigger`` names which trigger of the workflow: ``cron`` or ``signals[N]`` (its
    group N); ``detail`` is what it fired with (the tick, or the signals used)."""

    workflow_id: str
    trigger: str
    version: int
    at: float
    reason: str
    detail: Mapping[str, Any]


def record_trigger_failure(
    conn: sa.Connection, failure: TriggerFailure, *, keep: int = KEEP_PER_TRIGGER
) -> None:
    """Store the failure and its event; forget that trigger's failures beyond ``keep``."""
    conn.execute(
        trigger_failures.insert().values(
            workflow_id=failure.workflow_id,
            trigger=failure.trigger,
            version=failure.version,
            at=failure.at,
            reason=failure.reason,
            detail=dict(failure.detail),
        )
    )
    same = (
        trigger_failures.c.workflow_id == failure.workflow_id,
        trigger_failures.c.trigger == failure.trigger,
    )
    oldest_kept = (
        sa.select(trigger_failures.c.id)
        .where(*same)
        .order_by(trigger_failures.c.id.desc())
        .offset(keep - 1)
        .limit(1)
        .scalar_subquery()
    )
    conn.execute(trigger_failures.delete().where(*same, trigger_failures.c.id < oldest_kept))
    payload = {
        "workflow_id": failure.workflow_id,
        "trigger": failure.trigger,
        "version": failure.version,
        "reason": failure.reason,
        **failure.detail,
    }
    append_events(
        conn,
        [],
        [{"at": failure.at, "topic": TOPIC, "key": failure.workflow_id, "payload": payload}],
    )


def list_trigger_failures(
    conn: sa.Connection,
    workflow_id: str,
    *,
    trigger: str | None = None,
    per_trigger: int = KEEP_PER_TRIGGER,
) -> list[TriggerFailure]:
    """The newest ``per_trigger`` failures of each trigger of a workflow (or of one),
    newest first. Never more than ``KEEP_PER_TRIGGER`` a trigger are stored."""
    query = (
        sa.select(trigger_failures)
        .where(trigger_failures.c.workflow_id == workflow_id)
        .order_by(trigger_failures.c.id.desc())
    )
    if trigger is not None:
        query = query.where(trigger_failures.c.trigger == trigger)
    found: list[TriggerFailure] = []
    counts: dict[str, int] = {}
    for row in conn.execute(query):
        if counts.get(row.trigger, 0) >= per_trigger:
            continue
        counts[row.trigger] = counts.get(row.trigger, 0) + 1
        found.append(
            TriggerFailure(
                workflow_id=row.workflow_id,
                trigger=row.trigger,
                version=row.version,
                at=float(row.at),
                reason=row.reason,
                detail=dict(row.detail or {}),
            )
        )
    return found
