"""The worker: claims due work, applies the engine's rules, launches and watches jobs.

One thread makes every decision (``_run``), so an instance is never advanced twice at
once inside a process; PostgreSQL row locks do the same across processes. The loop
sleeps until the next due row, a finished job, or a notification: idle, it does nothing.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from pathlib import Path

from podium import jobs
from podium.config import Settings
from podium.control.assets import AssetUnavailable, asset_redactor, assets_for_launch
from podium.control.keys import MasterKeys
from podium.control.plans import PlanCache
from podium.engine.states import Halt
from podium.engine.work import ADMISSION_KINDS, WorkKind
from podium.expr import Budgets, ExprError
from podium.store import Connection, DatabaseError, DriverError, queue
from podium.store import admission as store_admission
from podium.store import attempts as store_attempts
from podium.store import workers as store_workers
from podium.store.database import Database, is_retryable
from podium.store.notify import listen_for_work
from podium.vault import Redactor
from podium.vault.redact import asset_secrets
from podium.worker import admission, foreach
from podium.worker.advance import Advance
from podium.worker.identity import Refusal, RunAsResolver
from podium.worker.orders import (
    CancelOrder,
    LaunchOrder,
    Outcome,
    make_attempt_id,
    parse_attempt_id,
)

log = logging.getLogger("podium.worker")

IDLE_WAIT_S = 60.0

WorkHandler = Callable[["Worker", Advance, queue.WorkItem], None]


def _start(worker: Worker, advance: Advance, item: queue.WorkItem) -> None:
    workflow_id = store_admission.instance_workflow(advance.conn, item.instance_pk)
    if workflow_id is not None:
        admission.on_start(advance, item.instance_pk, workflow_id)


def _admit(worker: Worker, advance: Advance, item: queue.WorkItem) -> None:
    workflow_id = store_admission.instance_workflow(advance.conn, item.instance_pk)
    if workflow_id is not None and workflow_id not in advance.admitted:
        # Many instances of a workflow ending together need one admission.
        advance.admitted.add(workflow_id)
        admission.admit_next(advance, workflow_id)


def _take_over(worker: Worker, advance: Advance, item: queue.WorkItem) -> None:
    worker._take_over(advance, item)


def _on_step(apply: Callable[[Advance, int, str], None]) -> WorkHandler:
    """A handler of work about one step of an instance."""

    def handle(worker: Worker, advance: Advance, item: queue.WorkItem) -> None:
        assert item.step_id is not None
        apply(advance, item.instance_pk, item.step_id)

    return handle


def _on_instance(apply: Callable[[Advance, int], None]) -> WorkHandler:
    def handle(worker: Worker, advance: Advance, item: queue.WorkItem) -> None:
        apply(advance, item.instance_pk)

    return handle


WORK_HANDLERS: dict[str, WorkHandler] = {
    WorkKind.START: _start,
    WorkKind.ADMIT: _admit,
    WorkKind.LAUNCH: _take_over,
    WorkKind.RETRY: _on_step(Advance.retry_step),
    WorkKind.SLEEP_DONE: _on_step(Advance.sleep_done),
    WorkKind.FOREACH_MORE: _on_step(foreach.top_up_loop),
    WorkKind.PERMIT: _on_step(Advance.permit_granted),
    WorkKind.SIGNALED: _on_step(Advance.signals_arrived),
    WorkKind.SKIP: _on_step(Advance.skip_step),
    WorkKind.RESUME: _on_step(Advance.resume_step),
    WorkKind.RESTART: _on_instance(Advance.restart_instance),
    WorkKind.STOP: _on_instance(lambda advance, pk: advance.halt_instance(pk, Halt.STOPPED)),
    WorkKind.INSTANCE_TIMEOUT: _on_instance(
        lambda advance, pk: advance.halt_instance(pk, Halt.TIMED_OUT)
    ),
}
"""What applies each kind of work row (keyed by ``WorkKind``, which equals the stored text)."""
_ROW_STAYS = frozenset({WorkKind.LAUNCH})
"""Kinds whose row stays after dispatch: a launch's, leased to its worker until the job ends."""
POISON_DELAY_S = 5.0


class Worker:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        master_keys: MasterKeys | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.master_keys = master_keys or MasterKeys()
        """Open the assets jobs receive; loaded when a step first names one."""
        self.worker_id = f"{settings.host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.supervisor = jobs.Supervisor(grace_s=settings.kill_grace_s)
        self.identities = RunAsResolver(db, unmapped=settings.run_unmapped_as)
        self.wake = threading.Event()
        # Set while the engine has nothing to do now: no job result waiting, no row due, and
        # no notify or result since it looked. Tests wait for it instead of sleeping.
        self.idle = threading.Event()
        self._generation = 0
        self._generation_lock = threading.Lock()
        self._stopping = threading.Event()
        self._completions: deque[tuple[str, Outcome]] = deque()
        self.plans = PlanCache()
        """Compiled plans, shared with the API when it runs in this process."""
        self._threads: list[threading.Thread] = []
        self.on_instance_end: Callable[[str, int, str], None] | None = None
        self._careful = False
        self.budgets = Budgets.from_env()

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        with self.db.transaction() as conn:
            store_workers.record_start(
                conn,
                self.worker_id,
                host=self.settings.host,
                pid=os.getpid(),
                started_at=self.clock(),
            )
            if self.db.dialect.single_engine:
                queue.release_all_leases(conn, now=self.clock())
        targets: list[tuple[str, Callable[[], None]]] = [
            ("podium-engine", self._run),
            ("podium-heartbeat", self._heartbeat),
        ]
        if self.db.dialect.listen_notify:
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
                store_workers.record_stop(conn, self.worker_id, stopped_at=self.clock())

    def notify(self) -> None:
        self._bump()
        self.wake.set()

    def _bump(self) -> None:
        """Something may have changed since the engine last looked: it is not idle."""
        with self._generation_lock:
            self._generation += 1
            self.idle.clear()

    def _mark_idle(self, seen: int) -> None:
        with self._generation_lock:
            if self._generation == seen:
                self.idle.set()

    # -- the loop ---------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                busy = self.run_once()
            except DriverError as exc:
                # Nothing was written and everything claimed is still due: try again. A
                # deadlock victim goes again at once; an unreachable database after a pause.
                if is_retryable(exc):
                    log.warning("deadlock; retrying", extra={"event": "worker.db_retry"})
                    self._stopping.wait(random.uniform(0.005, 0.05))
                    continue
                log.exception("database error", extra={"event": "worker.db_error"})
                self._stopping.wait(1.0)
                continue
            if not busy:
                self._idle()

    def _idle(self) -> None:
        self.wake.clear()
        seen = self._generation  # a notify after this one is looked at before idle is set
        if self._completions:
            return
        with self.db.read() as conn:
            due = queue.next_due_at(conn, owner=self.worker_id)
        # With one engine every new row comes from this process, which wakes us; with
        # several, a notification could be lost while the listener reconnects: a rare look.
        longest = None if self.db.dialect.single_engine else IDLE_WAIT_S
        if due is None:
            timeout = longest
        else:
            timeout = max(0.0, due - self.clock())
            timeout = timeout if longest is None else min(timeout, longest)
        if timeout is None or timeout > 0:  # nothing is due now
            self._mark_idle(seen)
            self.wake.wait(timeout)
            self.idle.clear()  # woken, or a row fell due: it looks again

    def run_once(self) -> bool:
        """One transaction: finished jobs, then due work. True if more may be waiting.

        If a batch fails for a reason other than the database, the work is redone one piece
        per transaction, so one poisonous row is set aside (with a back-off) instead of
        stopping everything behind it.
        """
        careful = self._careful
        completions = self._take_completions(1 if careful else 500)
        limit = 0 if careful and completions else (1 if careful else self.settings.claim_batch)
        items: list[queue.WorkItem] = []
        try:
            with self.db.transaction() as conn:
                advance = self._advance(conn, self.clock())
                items = queue.claim_due_work(
                    conn,
                    owner=self.worker_id,
                    now=advance.now,
                    lease_s=self.settings.lease_s,
                    limit=limit,
                )
                # Admission locks its workflow before its instances: not locked here.
                pks = {i.instance_pk for i in items if i.kind not in ADMISSION_KINDS} | {
                    parse_attempt_id(a)[0] for a, _ in completions
                }
                for pk in sorted(pks):
                    advance.instance(pk)
                for attempt_id, outcome in completions:
                    advance.finish_attempt(attempt_id, outcome)
                for item in items:
                    self._dispatch(advance, item)
                advance.flush()
        except DriverError:
            self._completions.extendleft(reversed(completions))
            raise
        except Exception:
            if not careful:
                log.exception(
                    "batch failed; retrying piece by piece", extra={"event": "worker.batch_error"}
                )
                self._completions.extendleft(reversed(completions))
                self._careful = True
            else:
                self._set_aside(completions, items)
            return True
        self._after_commit(advance)
        if careful and not completions and len(items) < limit:
            self._careful = False
        self.budgets = Budgets.from_env()
        # Go straight on only if there may be more: a full batch, or jobs that ended meanwhile.
        # Otherwise ``_idle`` looks for the next due row (rows added meanwhile included).
        return len(items) >= max(limit, 1) or bool(self._completions) or careful

    def _take_completions(self, limit: int) -> list[tuple[str, Outcome]]:
        return [self._completions.popleft() for _ in range(min(len(self._completions), limit))]

    def _after_commit(self, advance: Advance) -> None:
        for order in advance.launches:
            self._launch(order)
        for cancel in advance.cancels:
            self._cancel(cancel)
        if self.on_instance_end is not None:
            for wf, iid, status in advance.ended_instances:
                self.on_instance_end(wf, iid, status)

    def _set_aside(
        self, completions: list[tuple[str, Outcome]], items: list[queue.WorkItem]
    ) -> None:
        """Delay the one piece of work that fails on its own; it is retried with a back-off.

        A failing job result is not dropped: its launch row is released, so the attempt is
        taken over later and its recorded exit read again.
        """
        now = self.clock()
        with self.db.transaction() as conn:
            for attempt_id, _ in completions:
                log.exception(
                    "job result set aside",
                    extra={"event": "worker.poison", "attempt_id": attempt_id},
                )
                queue.delay_launch(
                    conn,
                    parse_attempt_id(attempt_id),
                    owner=self.worker_id,
                    until=now + POISON_DELAY_S,
                )
            for item in items:
                delay = min(POISON_DELAY_S * 2 ** min(item.tries - 1, 10), 3600.0)
                log.exception(
                    "work set aside",
                    extra={
                        "event": "worker.poison",
                        "work_id": item.id,
                        "kind": item.kind,
                        "retry_in_s": delay,
                    },
                )
                queue.delay_work(conn, item.id, until=now + delay)

    def _advance(self, conn: Connection, now: float) -> Advance:
        return Advance(
            conn=conn,
            now=now,
            worker_id=self.worker_id,
            host=self.settings.host,
            data_dir=self.settings.data_dir,
            lease_s=self.settings.lease_s,
            load_plan=self.plans,
            budgets=self.budgets,
            keys=self.master_keys,
            inline_grants=self.db.dialect.single_engine,
        )

    def _dispatch(self, advance: Advance, item: queue.WorkItem) -> None:
        handler = WORK_HANDLERS.get(item.kind)
        if handler is None:
            log.error(
                "unknown work kind", extra={"event": "worker.unknown_kind", "kind": item.kind}
            )
        else:
            handler(self, advance, item)
        if item.kind not in _ROW_STAYS:
            queue.finish_work(advance.conn, item.id, owner=self.worker_id)

    # -- jobs -------------------------------------------------------------------------

    def _take_over(self, advance: Advance, item: queue.WorkItem) -> None:
        """A launch whose worker died (or this process before a restart): re-attach."""
        assert item.step_id is not None and item.attempt is not None
        attempt_id = make_attempt_id(item.instance_pk, item.step_id, item.attempt)
        attempt = store_attempts.get_attempt(advance.conn, attempt_id)
        if attempt is None or attempt.status != "RUNNING":
            queue.finish_work(advance.conn, item.id, owner=self.worker_id)
            return
        store_attempts.update_attempt(advance.conn, attempt_id, worker_id=self.worker_id)
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
        step = t.plan.steps[item.step_id]
        try:
            # The same inputs as at the first try; used only if the job never started.
            resolved, script = advance.prepare(t, step)
        except ExprError as exc:
            advance.finish_attempt(attempt_id, Outcome(None, {}, exc.message))
            return
        # Launching is idempotent by attempt directory: this starts the job only if it never
        # started, and otherwise re-attaches to it (or reads its recorded exit).
        advance.launches.append(
            LaunchOrder(
                attempt_id,
                t.row,
                step,
                item.attempt,
                resolved,
                script,
                Path(attempt.attempt_dir),
                attempt.deadline_at,
                resume=True,
                redactor=t.redactor,
            )
        )

    def _launch(self, order: LaunchOrder) -> None:
        who = self.identities.run_as(order.instance.run_as)
        if isinstance(who, Refusal):
            if not (order.resume and order.attempt_dir.exists()):
                self._report(order.attempt_id, Outcome(None, {}, who.message))
                return
            who = None  # launched before: re-attach to the job, whoever it runs as
        assets = self._assets(order)
        if isinstance(assets, Outcome):
            self._report(order.attempt_id, assets)
            return
        redactor = self._redactor(order, assets)
        spec = jobs.JobSpec(
            attempt_id=order.attempt_id,
            step_type=order.step.type,
            script=order.script,
            params=order.params,
            attempt_dir=order.attempt_dir,
            env={
                "PODIUM_WORKFLOW_ID": order.instance.workflow_id,
                "PODIUM_INSTANCE_ID": str(order.instance.instance_id),
                "PODIUM_STEP_ID": order.step.id,
                "PODIUM_ATTEMPT": str(order.attempt),
            },
            outputs=order.step.outputs,
            config=order.step.job,
            run_as=who,
            assets=assets,
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
                threading.Timer(1.0, self._reprobe, args=(order, redactor)).start()
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
            redactor,
        )

    def _assets(self, order: LaunchOrder) -> dict[str, bytes] | Outcome:
        """The plaintext of the step's assets, or how the step fails without them: a refusal
        is the user's to fix (decision 49), a database that does not answer the platform's."""
        if not order.step.assets or (order.resume and order.attempt_dir.exists()):
            return {}  # none, or launched before: the job has them or never will
        try:
            return assets_for_launch(
                self.db, self.master_keys, order.instance.run_as, order.step.assets
            )
        except AssetUnavailable as exc:
            return Outcome(None, {}, exc.message)
        except DatabaseError as exc:
            message = f"could not read the step's assets: {type(exc).__name__}"
            return Outcome(None, {}, message, platform=True)

    def _redactor(self, order: LaunchOrder, assets: dict[str, bytes]) -> Redactor | None:
        """What the job's files are masked with once it ends: its instance's secrets, and what
        it could print of its assets (opened again for a job launched before)."""
        if not order.step.assets:
            return order.redactor
        if assets:
            found = set().union(*(asset_secrets(content) for content in assets.values()))
            return (order.redactor or Redactor()).including(found) if found else order.redactor
        try:
            return asset_redactor(
                self.db, self.master_keys, order.instance.run_as, order.step.assets, order.redactor
            )
        except DatabaseError:
            return order.redactor

    def _reprobe(self, order: LaunchOrder, redactor: Redactor | None) -> None:
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
            redactor,
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
        self._bump()
        self.wake.set()

    # -- leases and notifications -----------------------------------------------------

    def _heartbeat(self) -> None:
        interval = self.settings.lease_s / 3
        while not self._stopping.wait(interval):
            if self.supervisor.watching() == 0:
                continue
            try:
                with self.db.transaction() as conn:
                    queue.extend_leases(
                        conn, owner=self.worker_id, until=self.clock() + self.settings.lease_s
                    )
            except Exception:
                # The next beat tries again; leases last three beats.
                log.exception(
                    "heartbeat failed; leases not extended",
                    extra={"event": "worker.heartbeat_error"},
                )

    def _listen(self) -> None:
        listen_for_work(self.db, self.wake, self._stopping)


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
        ended_at=job_exit.ended_at,
        milestones=job_exit.milestones,
    )
