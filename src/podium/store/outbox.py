"""Reading the outbox and moving each sink's cursor through it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from podium.store.schema import outbox, outbox_cursors


@dataclass(frozen=True)
class OutboxRow:
    id: int
    at: float
    topic: str
    key: str
    payload: dict[str, Any]


def latest_id(conn: sa.Connection) -> int:
    """The highest id written so far (an index-only look: the idle check)."""
    return int(conn.execute(sa.select(sa.func.max(outbox.c.id))).scalar() or 0)


def rows_after(conn: sa.Connection, after_id: int, *, limit: int) -> list[OutboxRow]:
    rows = conn.execute(
        sa.select(outbox.c.id, outbox.c.at, outbox.c.topic, outbox.c.key, outbox.c.payload)
        .where(outbox.c.id > after_id)
        .order_by(outbox.c.id)
        .limit(limit)
    ).all()
    return [OutboxRow(r.id, r.at, r.topic, r.key, dict(r.payload or {})) for r in rows]


def ensure_cursor(conn: sa.Connection, sink: str, *, now: float) -> None:
    """A new sink starts at the beginning of the outbox: it receives the whole history."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(
        insert(outbox_cursors)
        .values(sink=sink, last_id=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=["sink"])
    )


def cursor(conn: sa.Connection, sink: str) -> int:
    value = conn.execute(
        sa.select(outbox_cursors.c.last_id).where(outbox_cursors.c.sink == sink)
    ).scalar()
    return int(value or 0)


def lock_cursor(conn: sa.Connection, sink: str) -> int | None:
    """The cursor, locked for this transaction; None while another process delivers the sink.

    PostgreSQL only: the lock is what lets one replica at a time deliver a sink.
    """
    value = conn.execute(
        sa.select(outbox_cursors.c.last_id)
        .where(outbox_cursors.c.sink == sink)
        .with_for_update(skip_locked=True)
    ).scalar()
    return None if value is None else int(value)


def move_cursor(conn: sa.Connection, sink: str, last_id: int, *, now: float) -> None:
    """Forward only: a slow replica that delivered an older batch never moves it back."""
    conn.execute(
        outbox_cursors.update()
        .where(outbox_cursors.c.sink == sink, outbox_cursors.c.last_id < last_id)
        .values(last_id=last_id, updated_at=now)
    )
