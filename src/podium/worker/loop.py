"""The worker: claims due work, applies the engine's rules, launches and watches jobs.

One thread makes every decision (``_run``), so an instance is never advanced twice at
once inside a process; PostgreSQL row locks do the same across processes. The loop
sleeps until the next due row, a finished job, or a notification: idle, it does nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from podium import jobs
from podium.config import Settings
from podium.engine.plan import Plan, compile_plan
from podium.engine.states import Halt
from podium.store import queue, runs
from podium.store.database import Database
from podium.store.schema import workers
from podium.worker.advance import Advance, CancelOrder, LaunchOrder, Outcome
from podium.worker.listen import listen_for_work

log = logging.getLogger("podium.worker")

IDLE_WAIT_S = 60.0


class Worker:
    def __init__(
        self, db: Database, settings: Settings, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.worker_id = f"{settings.host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.supervisor = jobs.Supervisor(grace_s=settings.kill_grace_s)
        self.wake = threading.Event()
        self._stopping = threading.Event()
        self._completions: deque[tuple[str, Outcome]] = deque()
        self._plans: dict[tuple[str, int], Plan] = {}
        self._threads: list[threading.Thread] = []
        self.on_instance_end: Callable[[str, int, str], None] | None = None

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                workers.insert().values(
                    worker_id=self.worker_id,
                    host=self.settings.host,
                    pid=os.getpid(),
                    started_at=self.clock(),
                )
            )
            if self.db.is_sqlite:
                queue.release_all_leases(conn, now=self.clock())
        targets: list[tuple[str, Callable[[], None]]] = [
            ("podium-engine", self._run),
            ("podium-heartbeat", self._heartbeat),
        ]
        if not self.db.is_sqlite:
            targets.append(("podium-listen", self._listen))
        for name, target in targets:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("worker started", extra={"event": "worker.start", "worker_id": self.worker_id})

    def stop(self, *, release: bool = True) -> None:
        """Stop deciding; running jobs go on and are handed over with our leases."""
        self._stopping.set()
        self.wake.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.supervisor.close()
        if release:
            with self.db.transaction() as conn:
                queue.release_leases(conn, owner=self.worker_id, now=self.clock())
                conn.execute(
                    workers.update()
                    .where(workers.c.worker_id == self.worker_id)
                    .values(stopped_at=self.clock())
                )

    def notify(self) -> None:
        self.wake.set()

    # -- the loop ---------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                busy = self.run_once()
            except Exception:
                log.exception("engine iteration failed", extra={"event": "worker.error"})
                self._stopping.wait(1.0)
                continue
            if not busy:
                self._idle()

    def _idle(self) -> None:
        self.wake.clear()
        if self._completions:
            return
        with self.db.read() as conn:
            due = queue.next_due_at(conn, owner=self.worker_id)
        timeout = IDLE_WAIT_S if due is None else max(0.0, min(IDLE_WAIT_S, due - self.clock()))
        if timeout > 0:
            self.wake.wait(timeout)

    def run_once(self) -> bool:
        """One transaction: finished jobs, then due work. True if more may be waiting."""
        completions = [self._completions.popleft() for _ in range(min(len(self._completions), 500))]
        now = self.clock()
        try:
            with self.db.transaction() as conn:
                advance = self._advance(conn, now)
                items = queue.claim_due_work(
                    conn,
                    owner=self.worker_id,
                    now=now,
                    lease_s=self.settings.lease_s,
                    limit=self.settings.claim_batch,
                )
                pks = {i.instance_pk for i in items} | {_pk_of(a) for a, _ in completions}
                for pk in sorted(pks):
                    advance.instance(pk)
                for attempt_id, outcome in completions:
                    advance.finish_attempt(attempt_id, outcome)
                for item in items:
                    self._dispatch(advance, item)
                advance.flush()
        except BaseException:
            self._completions.extendleft(reversed(completions))
            raise
        for order in advance.launches:
            self._launch(order)
        for cancel in advance.cancels:
            self._cancel(cancel)
        if self.on_instance_end is not None:
            for wf, iid, status in advance.ended_instances:
                self.on_instance_end(wf, iid, status)
        # Go straight on only if there may be more: a full batch, or jobs that ended meanwhile.
        # Otherwise ``_idle`` looks for the next due row (rows added meanwhile included).
        return len(items) >= self.settings.claim_batch or bool(self._completions)

    def _advance(self, conn: sa.Connection, now: float) -> Advance:
        return Advance(
            conn=conn,
            now=now,
            worker_id=self.worker_id,
            host=self.settings.host,
            data_dir=self.settings.data_dir,
            lease_s=self.settings.lease_s,
            load_plan=self._plan,
        )

    def _plan(self, conn: sa.Connection, workflow_id: str, version: int) -> Plan:
        key = (workflow_id, version)
        plan = self._plans.get(key)
        if plan is None:
            plan = compile_plan(workflow_id, version, runs.load_definition(conn, *key))
            self._plans[key] = plan
        return plan

    def _dispatch(self, advance: Advance, item: queue.WorkItem) -> None:
        kind = item.kind
        if kind == "start":
            advance.start_instance(item.instance_pk)
        elif kind == "launch":
            self._take_over(advance, item)
            return  # the row stays, leased to us, until the job ends
        elif kind == "retry":
            assert item.step_id is not None and item.attempt is not None
            advance.retry_step(item.instance_pk, item.step_id, item.attempt)
        elif kind == "sleep_done":
            assert item.step_id is not None
            advance.sleep_done(item.instance_pk, item.step_id)
        elif kind == "stop":
            advance.halt_instance(item.instance_pk, Halt.STOPPED)
        elif kind == "instance_timeout":
            advance.halt_instance(item.instance_pk, Halt.TIMED_OUT)
        else:
            log.error("unknown work kind", extra={"event": "worker.unknown_kind", "kind": kind})
        queue.finish_work(advance.conn, item.id, owner=self.worker_id)

    # -- jobs -------------------------------------------------------------------------

    def _take_over(self, advance: Advance, item: queue.WorkItem) -> None:
        """A launch whose worker died (or this process before a restart): re-attach."""
        assert item.step_id is not None and item.attempt is not None
        attempt_id = f"{item.instance_pk}-{item.step_id}-{item.attempt}"
        attempt = runs.get_attempt(advance.conn, attempt_id)
        if attempt is None or attempt.status != "RUNNING":
            queue.finish_work(advance.conn, item.id, owner=self.worker_id)
            return
        runs.update_attempt(advance.conn, attempt_id, worker_id=self.worker_id)
        log.info(
            "taking over attempt",
            extra={
                "event": "attempt.takeover",
                "attempt_id": attempt_id,
                "previous_owner": item.previous_owner,
            },
        )
        if attempt.host != self.settings.host:
            advance.finish_attempt(
                attempt_id,
                Outcome(
                    None,
                    {},
                    (f"the worker running this attempt on host {attempt.host} was lost"),
                    platform=True,
                ),
            )
            return
        t = advance.instance(item.instance_pk)
        assert t is not None
        params = runs.step_params(advance.conn, item.instance_pk, item.step_id) or {}
        # Launching is idempotent by attempt directory: this starts the job only if it never
        # started, and otherwise re-attaches to it (or reads its recorded exit).
        advance.launches.append(
            LaunchOrder(
                attempt_id,
                t.row,
                t.plan.steps[item.step_id],
                item.attempt,
                params,
                Path(attempt.attempt_dir),
                attempt.deadline_at,
                resume=True,
            )
        )

    def _launch(self, order: LaunchOrder) -> None:
        spec = jobs.JobSpec(
            attempt_id=order.attempt_id,
            step_type=order.step.type,
            script=order.step.script or "",
            params=order.params,
            attempt_dir=order.attempt_dir,
            env={
                "PODIUM_WORKFLOW_ID": order.instance.workflow_id,
                "PODIUM_INSTANCE_ID": str(order.instance.instance_id),
                "PODIUM_STEP_ID": order.step.id,
                "PODIUM_ATTEMPT": str(order.attempt),
            },
            outputs=order.step.outputs,
        )
        try:
            launched = jobs.launch(spec)
            pid, pid_start = launched.pid, launched.pid_start
        except jobs.AlreadyLaunched:
            # Launched before (by a worker that died, or by us before a restart): watch it.
            probe = jobs.probe(order.attempt_dir, None, None)
            if probe.pid is None or probe.pid_start is None:
                # Its launcher died between claiming the directory and starting the shim,
                # or the shim is starting right now: look once more before calling it lost.
                threading.Timer(1.0, self._reprobe, args=(order,)).start()
                return
            pid, pid_start = probe.pid, probe.pid_start
        except (jobs.LaunchFailed, OSError) as exc:
            self._report(
                order.attempt_id,
                Outcome(None, {}, f"could not start the job: {exc}", platform=True),
            )
            return
        self.supervisor.watch(
            order.attempt_id,
            pid,
            pid_start,
            order.attempt_dir,
            order.step.outputs,
            order.deadline_at,
            self._completed,
        )

    def _reprobe(self, order: LaunchOrder) -> None:
        probe = jobs.probe(order.attempt_dir, None, None)
        if probe.pid is None or probe.pid_start is None:
            lost = "the worker launching this attempt died before the job started"
            self._report(order.attempt_id, Outcome(None, {}, lost, platform=True))
            return
        self.supervisor.watch(
            order.attempt_id,
            probe.pid,
            probe.pid_start,
            order.attempt_dir,
            order.step.outputs,
            order.deadline_at,
            self._completed,
        )

    def _cancel(self, order: CancelOrder) -> None:
        if order.host != self.settings.host:
            log.warning(
                "cannot kill a job on another host",
                extra={"event": "attempt.cancel_remote", "attempt_id": order.attempt_id},
            )
            return
        if self.supervisor.cancel(order.attempt_id, order.reason):
            return
        probe = jobs.probe(Path(order.attempt_dir), None, None)
        if probe.state is jobs.ProbeState.RUNNING and probe.pid and probe.pid_start:
            # Another worker on this host watches it; killing waits out a grace period.
            threading.Thread(
                target=jobs.kill_group,
                args=(probe.pid, probe.pid_start, self.settings.kill_grace_s),
                daemon=True,
            ).start()

    def _completed(self, attempt_id: str, job_exit: jobs.JobExit, reason: str | None) -> None:
        self._report(attempt_id, _outcome(job_exit, reason))

    def _report(self, attempt_id: str, outcome: Outcome) -> None:
        self._completions.append((attempt_id, outcome))
        self.wake.set()

    # -- leases and notifications -----------------------------------------------------

    def _heartbeat(self) -> None:
        interval = self.settings.lease_s / 3
        while not self._stopping.wait(interval):
            if self.supervisor.watching() == 0:
                continue
            with contextlib.suppress(Exception), self.db.transaction() as conn:
                queue.extend_leases(
                    conn, owner=self.worker_id, until=self.clock() + self.settings.lease_s
                )

    def _listen(self) -> None:
        listen_for_work(self.db, self.wake, self._stopping)


def _pk_of(attempt_id: str) -> int:
    return int(attempt_id.split("-", 1)[0])


def _outcome(job_exit: jobs.JobExit, reason: str | None = None) -> Outcome:
    return Outcome(
        exit_code=job_exit.exit_code
        if job_exit.exit_code is not None
        else (-job_exit.signal if job_exit.signal else None),
        outputs=job_exit.outputs,
        error=job_exit.error,
        log_tail=job_exit.log_tail,
        platform=job_exit.vanished,
        supervisor_reason=reason,
    )
