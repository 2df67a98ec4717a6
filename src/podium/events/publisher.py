"""Delivering the outbox to the sinks: one thread per sink, each with its own cursor.

A sink that is down holds back only its own events: its thread retries the same batch with
exponential back-off while the others go on. The cursor moves only after the sink
acknowledged the batch, so every event arrives at least once, in outbox id order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from podium.events.sinks import Sink, SinkUnavailable, open_sink
from podium.events.urls import SinkSpec, parse_sinks
from podium.store import DriverError, outbox
from podium.store.database import Database
from podium.store.outbox import OutboxRow

log = logging.getLogger("podium.events")

BATCH = 200
GAP_GRACE_S = 5.0
RETRY_S = 0.5
MAX_RETRY_S = 30.0


@dataclass
class _Lane:
    """One sink and what its thread remembers between batches."""

    sink: Sink
    wake: threading.Event = field(default_factory=threading.Event)
    delivered_id: int = 0
    holes: dict[int, float] = field(default_factory=dict)


class Publisher:
    def __init__(
        self,
        db: Database,
        specs: Sequence[SinkSpec],
        *,
        poll_s: float = 0.25,
        batch: int = BATCH,
        gap_grace_s: float = GAP_GRACE_S,
        retry_s: float = RETRY_S,
        max_retry_s: float = MAX_RETRY_S,
    ) -> None:
        self.db = db
        self.specs = list(specs)
        self.poll_s = poll_s
        self.batch = batch
        self.gap_grace_s = gap_grace_s
        self.retry_s = retry_s
        self.max_retry_s = max_retry_s
        self._lanes: list[_Lane] = []
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._stop_watching: Callable[[], None] | None = None

    def start(self) -> None:
        if not self.specs:
            return
        with self.db.transaction() as conn:
            for spec in self.specs:
                outbox.ensure_cursor(conn, spec.name, now=time.time())
        self._lanes = [_Lane(open_sink(spec)) for spec in self.specs]
        # A commit that wrote the outbox in this process wakes every lane.
        self._stop_watching = outbox.watch_commits(self.db, self._wake_all)
        for lane in self._lanes:
            thread = threading.Thread(
                target=self._run, args=(lane,), name=f"podium-events-{lane.sink.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        log.info(
            "event publisher started",
            extra={"event": "events.start", "sinks": [s.name for s in self.specs]},
        )

    def stop(self) -> None:
        self._stopping.set()
        for lane in self._lanes:
            lane.wake.set()
        for thread in self._threads:
            thread.join(timeout=15)
        if self._stop_watching is not None:
            self._stop_watching()
            self._stop_watching = None
        for lane in self._lanes:
            lane.sink.close()

    # -- one sink's thread ------------------------------------------------------------

    def _run(self, lane: _Lane) -> None:
        failures = 0
        while not self._stopping.is_set():
            lane.wake.clear()
            try:
                busy = self._deliver_batch(lane)
                failures = 0
            except Exception as exc:
                failures += 1
                delay = min(self.max_retry_s, self.retry_s * 2 ** (failures - 1))
                _log_failure(lane, exc, delay)
                self._stopping.wait(delay)
                continue
            if not busy:
                # A commit that wrote outbox rows in this process wakes us; the poll finds
                # rows written by other processes (PostgreSQL replicas).
                lane.wake.wait(self.poll_s)

    def _deliver_batch(self, lane: _Lane) -> bool:
        """One batch delivered; True if there may be more right away."""
        with self.db.read() as conn:
            if outbox.latest_id(conn) <= lane.delivered_id:
                return False
        if self.db.dialect.single_engine:
            return self._deliver_sqlite(lane)
        return self._deliver_pg(lane)

    def _deliver_sqlite(self, lane: _Lane) -> bool:
        """One engine per file writes in id order, so what is visible has no holes; the
        sink is delivered outside any write transaction, which would stall the engine."""
        with self.db.read() as conn:
            last_id = outbox.cursor(conn, lane.sink.name)
            rows = outbox.rows_after(conn, last_id, limit=self.batch)
        lane.delivered_id = last_id
        if not rows:
            return False
        lane.sink.deliver(rows)
        with self.db.transaction() as conn:
            outbox.move_cursor(conn, lane.sink.name, rows[-1].id, now=time.time())
        lane.delivered_id = rows[-1].id
        return len(rows) == self.batch

    def _deliver_pg(self, lane: _Lane) -> bool:
        """The cursor row stays locked while the sink is delivered: one replica at a time
        delivers a sink, the others skip it; if this one dies, its lock goes with it."""
        with self.db.transaction() as conn:
            last_id = outbox.lock_cursor(conn, lane.sink.name)
            if last_id is None:
                return False
            lane.delivered_id = last_id
            rows = self._without_holes(
                lane, last_id, outbox.rows_after(conn, last_id, limit=self.batch)
            )
            if not rows:
                return False
            lane.sink.deliver(rows)
            outbox.move_cursor(conn, lane.sink.name, rows[-1].id, now=time.time())
        lane.delivered_id = rows[-1].id
        return True

    def _without_holes(self, lane: _Lane, last_id: int, rows: list[OutboxRow]) -> list[OutboxRow]:
        """The rows up to the first hole in the ids, unless that hole is old.

        PostgreSQL gives an id at insert, and transactions commit in any order: an id
        missing below a visible one is either still in flight (its transaction has not
        committed yet) or gone for good (rolled back). Moving the cursor past one in flight
        would lose it, so delivery stops at the hole until this process has seen the hole
        for ``gap_grace_s``, far longer than a Podium transaction holds an outbox id (the
        rows are inserted at the end of each transaction); by then it is a rollback.
        """
        now = time.monotonic()
        expected = last_id + 1
        ready: list[OutboxRow] = []
        for row in rows:
            if row.id != expected:
                seen_at = lane.holes.setdefault(expected, now)
                if now - seen_at < self.gap_grace_s:
                    break
                log.info(
                    "outbox hole skipped",
                    extra={
                        "event": "events.hole",
                        "sink": lane.sink.name,
                        "ids": [expected, row.id - 1],
                    },
                )
            ready.append(row)
            expected = row.id + 1
        lane.holes = {hole: seen for hole, seen in lane.holes.items() if hole >= expected}
        return ready

    def _wake_all(self) -> None:
        for lane in self._lanes:
            lane.wake.set()


def start_publisher(db: Database, sink_urls: tuple[str, ...], *, poll_s: float) -> Publisher:
    """The publisher of this process, delivering to the sinks named by ``sink_urls``
    (``Settings.event_sinks``), looking at the outbox every ``poll_s`` at least."""
    publisher = Publisher(db, parse_sinks(sink_urls), poll_s=poll_s)
    publisher.start()
    return publisher


def _log_failure(lane: _Lane, exc: Exception, delay: float) -> None:
    extra = {
        "event": "events.sink_unavailable",
        "sink": lane.sink.name,
        "error": str(exc),
        "retry_in_s": round(delay, 3),
    }
    if isinstance(exc, SinkUnavailable | DriverError):
        log.warning("event sink not delivered; retrying", extra=extra)
    else:
        log.exception("event sink failed; retrying", extra=extra)
