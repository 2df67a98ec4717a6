"""The timeline and the outbox: the rows that describe each change, appended in the
transaction that makes it, and the timeline read back for an instance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from podium.store.schema import outbox, timeline

WROTE_OUTBOX = "podium.wrote_outbox"
"""Key of ``Connection.info`` set by the one writer of the outbox, ``append_events``."""


def append_events(
    conn: sa.Connection,
    timeline_rows: Sequence[dict[str, Any]],
    outbox_rows: Sequence[dict[str, Any]],
) -> None:
    if timeline_rows:
        conn.execute(timeline.insert(), list(timeline_rows))
    if outbox_rows:
        conn.execute(outbox.insert(), list(outbox_rows))
        # The event publisher wakes when a connection that wrote the outbox is returned.
        conn.info[WROTE_OUTBOX] = True


def instance_timeline(
    conn: sa.Connection,
    instance_pk: int,
    *,
    step_id: str | None = None,
    limit: int = 1000,
    after_id: int = 0,
) -> list[Any]:
    """The instance's timeline rows (and its steps'), oldest first; ``after_id`` pages on."""
    query = (
        sa.select(
            timeline.c.id,
            timeline.c.step_id,
            timeline.c.at,
            timeline.c.event,
            timeline.c.detail,
        )
        .where(timeline.c.instance_pk == instance_pk, timeline.c.id > after_id)
        .order_by(timeline.c.id)
        .limit(limit)
    )
    if step_id is not None:
        query = query.where(timeline.c.step_id == step_id)
    return list(conn.execute(query).all())
