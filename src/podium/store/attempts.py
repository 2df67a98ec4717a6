"""Attempt rows: one per run of a step's job, with where its files are and why it was
cancelled."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from podium.store.schema import attempts


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


def latest_attempt_dirs(conn: sa.Connection, instance_pk: int) -> dict[str, str]:
    """Each step's latest attempt directory, by step id."""
    rows = conn.execute(
        sa.select(attempts.c.step_id, attempts.c.attempt_dir)
        .where(attempts.c.instance_pk == instance_pk)
        .order_by(attempts.c.attempt)
    ).all()
    return {row.step_id: row.attempt_dir for row in rows}
