"""The ``workers`` table: one row per engine process, written when it starts and stops."""

from __future__ import annotations

import sqlalchemy as sa

from podium.store.schema import workers


def record_start(
    conn: sa.Connection, worker_id: str, *, host: str, pid: int, started_at: float
) -> None:
    conn.execute(
        workers.insert().values(worker_id=worker_id, host=host, pid=pid, started_at=started_at)
    )


def record_stop(conn: sa.Connection, worker_id: str, *, stopped_at: float) -> None:
    conn.execute(
        workers.update().where(workers.c.worker_id == worker_id).values(stopped_at=stopped_at)
    )
