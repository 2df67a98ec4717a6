"""Reading the outbox and moving each sink's cursor through it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from podium.store import dialect
from podium.store.database import Database
from podium.store.schema import outbox, outbox_cursors
from podium.store.timeline import WROTE_OUTBOX


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


def rows_of_key_after(
    conn: sa.Connection, after_id: int, key: str, *, prefix: bool, limit: int
) -> list[OutboxRow]:
    """Rows after ``after_id`` whose key is ``key`` (and, with ``prefix``, those under it:
    ``key/…``), oldest first: a reader catching up on one workflow or one instance."""
    wanted = outbox.c.key == key
    if prefix:
        wanted = wanted | outbox.c.key.startswith(key + "/", autoescape=True)
    rows = conn.execute(
        sa.select(outbox.c.id, outbox.c.at, outbox.c.topic, outbox.c.key, outbox.c.payload)
        .where(outbox.c.id > after_id, wanted)
        .order_by(outbox.c.id)
        .limit(limit)
    ).all()
    return [OutboxRow(r.id, r.at, r.topic, r.key, dict(r.payload or {})) for r in rows]


def ensure_cursor(conn: sa.Connection, sink: str, *, now: float) -> None:
    """A new sink starts at the beginning of the outbox: it receives the whole history."""
    conn.execute(
        dialect.of(conn)
        .insert_missing(outbox_cursors, ["sink"])
        .values(sink=sink, last_id=0, updated_at=now)
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


def watch_commits(db: Database, wake: Callable[[], None]) -> Callable[[], None]:
    """Call ``wake`` each time a connection that wrote the outbox is back in ``db``'s pool.

    A connection back in the pool has committed: what it wrote is visible now (at ``commit``
    it would not be yet); one rolled back forgets that it wrote. Returns what stops watching.
    """

    def on_checkin(_dbapi_conn: Any, record: Any) -> None:
        if record is not None and record.info.pop(WROTE_OUTBOX, False):
            wake()

    sa.event.listen(db.engine, "checkin", on_checkin)
    sa.event.listen(db.engine, "rollback", _forget_outbox_write)

    def stop() -> None:
        sa.event.remove(db.engine, "checkin", on_checkin)
        sa.event.remove(db.engine, "rollback", _forget_outbox_write)

    return stop


def _forget_outbox_write(conn: sa.Connection) -> None:
    conn.info.pop(WROTE_OUTBOX, None)
