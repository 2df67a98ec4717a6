"""The cron scheduler: sleeps until the earliest due trigger, then starts its instances.

Each pass claims due triggers in batches (``SKIP LOCKED`` on PostgreSQL, so every worker's
scheduler can take a share of a spike), records each tick in ``fires`` (a tick already
there was fired by another scheduler), creates the instance as a manual start would, and
moves the trigger to its next tick, all in one transaction per batch. The instances then
go through admission like any other.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import cast

from podium.control import changes
from podium.control.starts import TriggerStart, start_many
from podium.expr import Budgets
from podium.store import Connection, DriverError
from podium.store import triggers as store_triggers
from podium.store.database import Database
from podium.store.notify import listen_for_work
from podium.timing.schedule import MISSED_GRACE_S, Catchup, CronState, plan_fires

log = logging.getLogger("podium.triggers")

RECHECK_S = 30.0
"""The longest the scheduler sleeps without looking at the triggers again (a safety net:
changes wake it at once, in this process or through NOTIFY)."""

CLAIM_BATCH = 500


class Scheduler:
    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], float] = time.time,
        on_work: Callable[[], None] = lambda: None,
        batch: int = CLAIM_BATCH,
        recheck_s: float = RECHECK_S,
        grace_s: float = MISSED_GRACE_S,
    ) -> None:
        self.db = db
        self.clock = clock
        self.on_work = on_work
        self.batch = batch
        self.recheck_s = recheck_s
        self.grace_s = grace_s
        self.wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._watching_since = clock()

    def start(self) -> None:
        self._watching_since = self.clock()
        changes.subscribe(self.notify)
        targets: list[tuple[str, Callable[[], None]]] = [("podium-scheduler", self._run)]
        if self.db.dialect.listen_notify:
            targets.append(("podium-scheduler-listen", self._listen))
        for name, target in targets:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("scheduler started", extra={"event": "scheduler.start"})

    def stop(self) -> None:
        changes.unsubscribe(self.notify)
        self._stopping.set()
        self.wake.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def notify(self) -> None:
        self.wake.set()

    def _listen(self) -> None:
        listen_for_work(self.db, self.wake, self._stopping, store_triggers.NOTIFY_CHANNEL)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self.wake.clear()
            try:
                self.run_once()
                with self.db.read() as conn:
                    due = store_triggers.next_trigger_due(conn)
            except DriverError:
                log.exception("database error", extra={"event": "scheduler.db_error"})
                self._stopping.wait(1.0)
                continue
            timeout = self.recheck_s if due is None else min(self.recheck_s, due - self.clock())
            if timeout > 0:
                self.wake.wait(timeout)

    def run_once(self) -> int:
        """Fire everything due now, a batch per transaction; returns the instances created.

        A tick counts as missed (and follows the trigger's catch-up policy) only if it fell
        due before the previous pass looked: a spike that takes this pass a while is late,
        never missed.
        """
        now = self.clock()
        watching_since = self._watching_since
        budgets = Budgets.from_env()
        created = 0
        while True:
            with self.db.transaction() as conn:
                rows = store_triggers.claim_due_triggers(conn, now=now, limit=self.batch)
                created += self._fire_batch(conn, rows, now, watching_since, budgets)
            if created:
                self.on_work()
            if len(rows) < self.batch:
                break
        self._watching_since = now
        return created

    def _fire_batch(
        self,
        conn: Connection,
        rows: list[store_triggers.CronTriggerRow],
        now: float,
        watching_since: float,
        budgets: Budgets,
    ) -> int:
        """Fire the due ticks of a batch of triggers and move each to its next tick, in a
        handful of statements for the whole batch."""
        at = self.clock()
        wanted: list[tuple[store_triggers.CronTriggerRow, float]] = []
        moves: list[tuple[store_triggers.CronTriggerRow, float]] = []
        for row in rows:
            state = CronState(
                workflow_id=row.workflow_id,
                cron=row.cron,
                timezone=row.timezone,
                catchup=cast(Catchup, row.catchup),
                next_fire_at=row.next_fire_at,
                offset_s=row.due_at - row.next_fire_at,
            )
            plan = plan_fires(state, now=now, watching_since=watching_since, grace_s=self.grace_s)
            wanted += [(row, fire_time) for fire_time in plan.fire]
            moves.append((row, plan.next_fire_at))
            if plan.skipped:
                log.info(
                    "missed cron ticks skipped",
                    extra={
                        "event": "scheduler.skipped",
                        "workflow_id": row.workflow_id,
                        "skipped": plan.skipped,
                        "catchup": row.catchup,
                    },
                )
        # A tick already in ``fires`` was fired by another scheduler: it is not fired again.
        new = store_triggers.record_fires(conn, [(r.workflow_id, t) for r, t in wanted], now=at)
        ticks = [(row, t) for row, t in wanted if (row.workflow_id, t) in new]
        starts = [
            TriggerStart(
                row.workflow_id,
                row.version,
                {"type": "cron", "scheduled_at": t, "timezone": row.timezone, "cron": row.cron},
            )
            for row, t in ticks
        ]
        numbers = start_many(conn, starts, now=at, budgets=budgets)
        store_triggers.set_fire_instances(
            conn,
            [(row.workflow_id, t, n) for (row, t), n in zip(ticks, numbers, strict=True) if n],
        )
        store_triggers.advance_triggers(conn, moves, now=at)
        return sum(1 for n in numbers if n is not None)
