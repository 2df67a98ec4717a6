"""Waking workers and schedulers across processes with PostgreSQL LISTEN/NOTIFY.

The NOTIFY side is in the transactions that make work (``store/queue.py``, ``store/triggers.py``);
this is the LISTEN side: a connection of its own, outside the pool, that only waits.
"""

from __future__ import annotations

import logging
import threading

import psycopg

from podium.store.database import Database
from podium.store.queue import NOTIFY_CHANNEL

# The worker's logger and event name, as before this moved here from podium/worker/.
log = logging.getLogger("podium.worker")


def listen_for_work(
    db: Database,
    wake: threading.Event,
    stopping: threading.Event,
    channel: str = NOTIFY_CHANNEL,
) -> None:
    """Set ``wake`` on every notification until ``stopping``; reconnect after errors."""
    dsn = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    while not stopping.is_set():
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f"LISTEN {channel}")
                wake.set()  # anything missed while (re)connecting
                while not stopping.is_set():
                    for _ in conn.notifies(timeout=1.0, stop_after=1):
                        wake.set()
        except psycopg.Error:
            log.warning("listen connection lost", extra={"event": "worker.listen_error"})
            stopping.wait(1.0)
