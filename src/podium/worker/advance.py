"""Applying the engine's rules inside one transaction.

An :class:`Advance` lives for one transaction. It loads each instance it touches once,
keeps its counters in memory, and writes them back once at the end together with the
timeline and outbox rows, so a cascade of many transitions costs one commit.
Launching and killing processes happen only after that commit (``launches``,
``cancels``): nothing outside the database is touched for a change that might roll back.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from podium.engine import params, rules
from podium.engine.plan import Plan, StepPlan
from podium.engine.states import (
    TERMINAL_INSTANCE,
    ErrorKind,
    Halt,
    InstanceStatus,
    StepStatus,
    check_instance_transition,
)
from podium.expr import Budgets, ExprError, Namespace, resolve
from podium.store import breakpoints, permits, queue, runs, signals
from podium.store.runs import InstanceRow, LoopCounts
from podium.templates.registry import template_job
from podium.triggers.start import start_active
from podium.worker import foreach, subworkflow
from podium.worker.records import (
    CancelOrder,
    LaunchOrder,
    Outcome,
    error_message,
    failure_kind,
    halt_message,
    make_attempt_id,
    parse_attempt_id,
)

PlanLoader = Callable[[sa.Connection, str, int], Plan]

_LIVE_STEP = (
    StepStatus.CREATED,
    StepStatus.RUNNING,
    StepStatus.PAUSED,
    StepStatus.WAITING_FOR_PERMITS,
    StepStatus.WAITING_FOR_SIGNALS,
)
_TIMER_KINDS = ("retry", "sleep_done")
_STARTABLE = (
    StepStatus.CREATED,
    StepStatus.PAUSED,
    StepStatus.WAITING_FOR_PERMITS,
    StepStatus.WAITING_FOR_SIGNALS,
)


@dataclass
class _Tracked:
    row: InstanceRow
    plan: Plan
    halt: Halt | None
    dirty: bool = False
    breakpoints: frozenset[str] | None = None

    def run(self) -> Namespace:
        row = self.row
        return params.run_namespace(
            workflow_id=row.workflow_id,
            instance_id=row.instance_id,
            version=row.version,
            trigger=row.trigger,
            at=row.created_at,
        )

    def signal(self) -> Namespace:
        return params.signal_namespace(self.row.trigger)


@dataclass
class Advance:
    conn: sa.Connection
    now: float
    worker_id: str
    host: str
    data_dir: Path
    lease_s: float
    load_plan: PlanLoader
    budgets: Budgets
    launches: list[LaunchOrder] = field(default_factory=list)
    cancels: list[CancelOrder] = field(default_factory=list)
    ended_instances: list[tuple[str, int, str]] = field(default_factory=list)
    _instances: dict[int, _Tracked] = field(default_factory=dict)
    _work: list[dict[str, Any]] = field(default_factory=list)
    _timeline: list[dict[str, Any]] = field(default_factory=list)
    _outbox: list[dict[str, Any]] = field(default_factory=list)
    _ready: deque[tuple[int, str]] = field(default_factory=deque)
    _resumed: set[tuple[int, str]] = field(default_factory=set)
    _signaled: set[tuple[int, str]] = field(default_factory=set)
    _loops: deque[tuple[int, str]] = field(default_factory=deque)
    _iterations_launched: int = 0
    _more_requested: set[tuple[int, str]] = field(default_factory=set)
    _draining: bool = False
    _all_breakpoints: list[tuple[str, str, int]] | None = None
    _permit_asks: list[tuple[int, str, bool]] = field(default_factory=list)
    _permit_returns: list[tuple[int, str]] = field(default_factory=list)
    admitted: set[str] = field(default_factory=set)
    inline_grants: bool = True
    """Start the next in line for a freed permit in the releasing transaction (one engine)
    rather than through a work row any worker may take."""
    loops: dict[tuple[int, str], tuple[LoopCounts, dict[str, Any], dict[str, Any]]] = field(
        default_factory=dict
    )

    # -- loading and flushing -------------------------------------------------------

    def instance(self, pk: int, *, skip_locked: bool = False) -> _Tracked | None:
        tracked = self._instances.get(pk)
        if tracked is None:
            row = runs.lock_instance(self.conn, pk, skip_locked=skip_locked)
            if row is None:
                return None
            plan = self.load_plan(self.conn, row.workflow_id, row.version).at(row.plan_path)
            tracked = _Tracked(row, plan, Halt(row.halt) if row.halt else None)
            self._instances[pk] = tracked
        return tracked

    def adopt_child(self, pk: int, values: dict[str, Any], parent: _Tracked) -> None:
        """Track an instance this transaction just wrote, without reading it back."""
        row = InstanceRow(
            pk=pk,
            workflow_id=values["workflow_id"],
            instance_id=values["instance_id"],
            version=values["version"],
            status=values["status"],
            params=values["params"],
            steps_total=0,
            steps_done=0,
            steps_active=0,
            steps_queued=0,
            ready_seq=0,
            halt=None,
            started_at=None,
            ended_at=None,
            error=None,
            trigger=values["trigger"],
            created_at=values["created_at"],
            run=1,
            parent_pk=values["parent_pk"],
            parent_step=values["parent_step"],
            iteration=values["iteration"],
            plan_path=values["plan_path"],
            tags=values["tags"],
        )
        plan = self.load_plan(self.conn, row.workflow_id, row.version).at(row.plan_path)
        self._instances[pk] = _Tracked(row, plan, None)

    def flush(self) -> None:
        """Write everything this transaction decided; the caller commits."""
        self._drain_ready()
        while self._permit_asks or self._permit_returns:
            self._settle_permits()
            self._drain_ready()
        for (pk, step_id), (counts, _, _) in self.loops.items():
            runs.save_loop(self.conn, pk, step_id, counts)
        for tracked in self._instances.values():
            if tracked.dirty:
                tracked.row.halt = tracked.halt.value if tracked.halt else None
                runs.save_instance(self.conn, tracked.row)
        queue.add_work(self.conn, self._work)
        runs.append_events(self.conn, self._timeline, self._outbox)

    def _event(
        self,
        t: _Tracked,
        step_id: str | None,
        event: str,
        detail: dict[str, Any],
        at: float | None = None,
    ) -> None:
        row = t.row
        self._timeline.append(
            {
                "instance_pk": row.pk,
                "step_id": step_id,
                "at": self.now if at is None else at,
                "event": event,
                "detail": detail,
            }
        )
        payload = {"workflow_id": row.workflow_id, "instance_id": row.instance_id, **detail}
        if step_id is not None:
            payload["step_id"] = step_id
        self._outbox.append(
            {
                "at": self.now if at is None else at,
                "topic": event,
                "key": f"{row.workflow_id}/{row.instance_id}",
                "payload": payload,
            }
        )

    # -- instances ------------------------------------------------------------------

    def start_instance(self, pk: int) -> None:
        t = self.instance(pk)
        if t is None or t.row.status != InstanceStatus.CREATED:
            return
        plan = t.plan
        runs.create_steps(
            self.conn,
            pk,
            [
                {"step_id": s.id, "position": s.position, "pending_deps": len(s.depends_on)}
                for s in plan.steps.values()
            ],
        )
        t.row.steps_total = len(plan.steps)
        t.row.started_at = self.now
        self._set_instance_status(t, InstanceStatus.IN_PROGRESS)
        if plan.timeout_s is not None:
            self._work.append(
                {"kind": "instance_timeout", "instance_pk": pk, "due_at": self.now + plan.timeout_s}
            )
        for step in plan.roots:
            self._ready.append((pk, step.id))
        self._drain_ready()

    def restart_instance(self, pk: int) -> None:
        """A new run began (the API reset the steps): start what has nothing to wait for."""
        t = self.instance(pk)
        if t is None or t.row.status != InstanceStatus.IN_PROGRESS:
            return
        self._event(t, None, "instance.restart", {"run": t.row.run})
        if t.plan.timeout_s is not None:
            self._work.append(
                {
                    "kind": "instance_timeout",
                    "instance_pk": pk,
                    "due_at": self.now + t.plan.timeout_s,
                }
            )
        for step_id, live in runs.ready_after_restart(self.conn, pk):
            self._release(t, t.plan.steps[step_id], live)
        self._drain_ready()
        self._verdict(t)

    def halt_instance(self, pk: int, halt: Halt) -> None:
        """Stop or time out an instance: kill what runs, end what waits on a timer."""
        t = self.instance(pk)
        if t is None or t.row.status in TERMINAL_INSTANCE:
            return
        if t.row.status == InstanceStatus.CREATED:
            t.halt = halt
            self._verdict(t)
            return
        t.halt = rules.stronger_halt(t.halt, halt)
        t.dirty = True
        reason = "stop" if halt is Halt.STOPPED else "instance_timeout"
        self._cancel_running(t, reason)
        self._verdict(t)

    def _cancel_running(self, t: _Tracked, reason: str) -> None:
        for attempt in runs.live_attempts(self.conn, t.row.pk):
            if runs.request_cancel(self.conn, attempt.attempt_id, reason):
                self.cancels.append(
                    CancelOrder(attempt.attempt_id, attempt.host, attempt.attempt_dir, reason)
                )
        for step in t.plan.steps.values():
            if step.foreach is not None or step.subworkflow is not None:
                foreach.stop_iterations(self, t, step.id)
        self._stop_waiters(
            t, "stopped while it waited" if reason == "stop" else f"stopped ({reason})"
        )
        waiting = breakpoints.paused_steps(self.conn, t.row.pk)
        t.row.steps_active += len(waiting)  # ended below like running steps
        for step_id in [*waiting, *queue.delete_instance_work(self.conn, t.row.pk, _TIMER_KINDS)]:
            if step_id is not None:
                message = "stopped while waiting" if reason == "stop" else f"stopped ({reason})"
                self._end_step(
                    t,
                    t.plan.steps[step_id],
                    StepStatus.STOPPED,
                    error={"kind": ErrorKind.STOPPED.value, "message": message},
                )

    def _set_instance_status(self, t: _Tracked, status: InstanceStatus) -> None:
        check_instance_transition(InstanceStatus(t.row.status), status)
        t.row.status = status.value
        t.dirty = True
        if t.row.iteration is None:  # an iteration is summed up by its foreach step
            self._event(t, None, "instance.status", {"status": status.value})

    def _verdict(self, t: _Tracked) -> None:
        row = t.row
        if row.status in TERMINAL_INSTANCE:
            return
        status = rules.instance_verdict(
            steps_total=row.steps_total,
            steps_done=row.steps_done,
            steps_active=row.steps_active,
            halt=t.halt,
        )
        if status is None:
            return
        row.ended_at = self.now
        if status is not InstanceStatus.SUCCEEDED and row.error is None:
            row.error = {
                "kind": (t.halt or Halt.FAILED).value.lower(),
                "message": halt_message(t.halt),
            }
        self._set_instance_status(t, status)
        if row.iteration is not None:
            foreach.iteration_ended(self, t)
            return
        if row.parent_pk is not None:
            subworkflow.subworkflow_ended(self, t)
        queue.delete_instance_work(self.conn, row.pk, ("instance_timeout", "stop"))
        self.ended_instances.append((row.workflow_id, row.instance_id, status.value))
        if row.parent_pk is None and runs.queued_instances(self.conn, row.workflow_id, 1):
            self._work.append({"kind": "admit", "instance_pk": row.pk, "due_at": self.now})

    # -- steps ----------------------------------------------------------------------

    def _drain_ready(self) -> None:
        """Start what became ready, and top up foreach loops, until nothing is left; one
        loop at the top, so long cascades never recurse."""
        if self._draining:
            return
        self._draining = True
        try:
            while self._ready or self._loops:
                if self._ready:
                    pk, step_id = self._ready.popleft()
                    t = self._instances[pk]
                    self._make_ready(t, t.plan.steps[step_id])
                else:
                    foreach.top_up_loop(self, *self._loops.popleft())
        finally:
            self._draining = False

    def _make_ready(self, t: _Tracked, step: StepPlan) -> None:
        row = t.row
        if t.halt is not None:
            return
        signaled = (row.pk, step.id) in self._signaled
        resumed = signaled or (row.pk, step.id) in self._resumed
        if not resumed and step.condition is not None and not self._condition_holds(t, step):
            return
        if not resumed and step.id in self._breakpoints(t):
            self._pause(t, step)
            return
        if step.wait_for and not signaled and not self._signals_there(t, step):
            return
        if row.steps_active >= t.plan.step_concurrency:
            row.ready_seq += 1
            row.steps_queued += 1
            t.dirty = True
            runs.update_step(self.conn, row.pk, step.id, expect=_STARTABLE, ready_seq=row.ready_seq)
            return
        row.steps_active += 1
        t.dirty = True
        self._begin(t, step)

    def _begin(self, t: _Tracked, step: StepPlan) -> None:
        if step.type == "noop":
            self._noop(t, step)
        elif step.takes_permits and self.step_tags(t, step):
            self._permit_asks.append((t.row.pk, step.id, False))
        elif step.type in ("sleep", "script", "python", "notebook", "container") or (
            "template" in step.job
        ):
            self._start_job(t, step)
        elif step.type == "foreach":
            foreach.begin_foreach(self, t, step)
        elif step.type == "subworkflow":
            subworkflow.begin_subworkflow(self, t, step)
        else:
            self._end_step(
                t,
                step,
                StepStatus.FAILED,
                attempt=1,
                started=True,
                error={
                    "kind": ErrorKind.PLATFORM.value,
                    "message": f"step type {step.type!r} is not supported by this server",
                },
            )

    def _start_job(self, t: _Tracked, step: StepPlan) -> None:
        """Run the step now: its slot (and permits, if it carries tags) are taken."""
        pk = t.row.pk
        if step.type == "sleep":
            runs.update_step(
                self.conn,
                pk,
                step.id,
                expect=_STARTABLE,
                status=StepStatus.RUNNING,
                attempt=1,
                started_at=self.now,
            )
            self._event(t, step.id, "step.status", {"status": "RUNNING", "attempt": 1})
            self._work.append(
                {
                    "kind": "sleep_done",
                    "instance_pk": pk,
                    "step_id": step.id,
                    "attempt": 1,
                    "due_at": self.now + (step.sleep_s or 0.0),
                }
            )
        else:
            self.begin_attempt(t, step)

    # -- permits --------------------------------------------------------------------

    def step_tags(self, t: _Tracked, step: StepPlan) -> tuple[str, ...]:
        """The tags whose permits the step needs: its own and those its instance inherited."""
        inherited = t.row.tags
        if not inherited:
            return step.tags
        return tuple(sorted({*step.tags, *inherited}))

    def child_tags(self, t: _Tracked, step: StepPlan) -> list[str] | None:
        """What a child instance started by ``step`` (foreach or subworkflow) inherits."""
        return sorted({*step.tags, *(t.row.tags or ())}) or None

    def permit_granted(self, pk: int, step_id: str) -> None:
        """A waiting step was handed a permit: take the rest, then run."""
        t = self.instance(pk)
        if t is None:
            return
        state = runs.get_step(self.conn, pk, step_id)
        if state is None or state.status != StepStatus.WAITING_FOR_PERMITS:
            # It ended (stopped) after the grant: the permit goes to the next in line.
            self._permit_returns.append((pk, step_id))
            return
        self._permit_asks.append((pk, step_id, True))

    def _settle_permits(self) -> None:
        """Give back, hand on and take permits: all under the locks of the tags involved,
        taken in one pass at the end of the transaction, in tag order."""
        asks, returns = self._permit_asks, self._permit_returns
        self._permit_asks, self._permit_returns = [], []
        tags: set[str] = set()
        for pk, step_id in [(pk, step_id) for pk, step_id, _ in asks] + returns:
            t = self._instances[pk]
            tags.update(self.step_tags(t, t.plan.steps[step_id]))
        ledger = permits.Ledger.open(self.conn, tags, self.now)
        ledger.release(returns)
        for pk, step_id in ledger.grant_waiters():
            # SQLite has one engine: the next in line starts in this transaction. With
            # several workers (PostgreSQL) a work row hands it on, so any worker may run it
            # and jobs spread over the workers instead of piling up on the one releasing
            # permits. Never wait for an instance's lock while holding tags' locks.
            if self.inline_grants and self.instance(pk, skip_locked=True) is not None:
                self.permit_granted(pk, step_id)
            else:
                self._work.append(
                    {"kind": "permit", "instance_pk": pk, "step_id": step_id, "due_at": self.now}
                )
        for pk, step_id, granted in asks:
            t = self._instances[pk]
            step = t.plan.steps[step_id]
            if t.halt is not None:
                self._permit_returns.append((pk, step_id))
                self._end_step(
                    t,
                    step,
                    StepStatus.STOPPED,
                    error={
                        "kind": ErrorKind.STOPPED.value,
                        "message": f"not started: {halt_message(t.halt)}",
                    },
                )
                continue
            waits_for = ledger.acquire((pk, step_id), self.step_tags(t, step), granted=granted)
            if waits_for is None:
                self._start_job(t, step)
                continue
            runs.update_step(
                self.conn, pk, step_id, expect=_STARTABLE, status=StepStatus.WAITING_FOR_PERMITS
            )
            self._event(
                t, step_id, "step.status", {"status": "WAITING_FOR_PERMITS", "tag": waits_for}
            )

    def _stop_waiters(self, t: _Tracked, message: str) -> None:
        """End the steps of a halting instance that wait for permits or signals: they
        never ran. (A step waiting for signals holds no slot; it is counted as it ends.)"""
        error = {"kind": ErrorKind.STOPPED.value, "message": message}
        pk = t.row.pk
        for step_id in runs.steps_in_status(self.conn, pk, StepStatus.WAITING_FOR_PERMITS):
            self._end_step(t, t.plan.steps[step_id], StepStatus.STOPPED, error=error)
        waiting = runs.steps_in_status(self.conn, pk, StepStatus.WAITING_FOR_SIGNALS)
        if waiting:
            signals.drop_waits(self.conn, pk)
        for step_id in waiting:
            t.row.steps_active += 1
            self._end_step(t, t.plan.steps[step_id], StepStatus.STOPPED, error=error)

    # -- signals --------------------------------------------------------------------

    def _signals_there(self, t: _Tracked, step: StepPlan) -> bool:
        """True if every signal the step waits for was announced since its instance was
        created; otherwise it waits for the missing ones (no slot held, nothing polled)."""
        try:
            scope = self._scope(t, step)
            wanted = [
                (index, name, resolve(dict(match), scope, self.budgets))
                for index, (name, match) in enumerate(step.wait_for)
            ]
        except ExprError as exc:
            t.row.steps_active += 1
            self._inputs_failed(t, step, 1, ExprError(f"wait_for: {exc.message}"))
            return False
        # The names' locks keep a signal announced right now from slipping between the
        # look below and the waits written after it.
        signals.lock_names(self.conn, [name for _, name, _ in wanted])
        missing = [
            (index, name, match)
            for index, name, match in wanted
            if signals.already_there(self.conn, name, match, t.row.created_at) is None
        ]
        if not missing:
            return True
        signals.add_waits(self.conn, t.row.pk, step.id, missing, self.now)
        runs.update_step(
            self.conn, t.row.pk, step.id, expect=_STARTABLE, status=StepStatus.WAITING_FOR_SIGNALS
        )
        self._event(
            t,
            step.id,
            "step.status",
            {
                "status": "WAITING_FOR_SIGNALS",
                "signals": [{"name": name, "match": match} for _, name, match in missing],
            },
        )
        return False

    def signals_arrived(self, pk: int, step_id: str) -> None:
        """Every signal a waiting step needed was announced: it goes on as if just ready."""
        t = self.instance(pk)
        if t is None or t.row.status in TERMINAL_INSTANCE or t.halt is not None:
            return
        state = runs.get_step(self.conn, pk, step_id)
        if state is None or state.status != StepStatus.WAITING_FOR_SIGNALS:
            return
        self._signaled.add((pk, step_id))
        self._ready.append((pk, step_id))
        self._drain_ready()

    def skip_step(self, pk: int, step_id: str) -> None:
        """Skip, by hand, a step that waits (for signals, permits, a slot or a resume)."""
        t = self.instance(pk)
        if t is None or t.row.status in TERMINAL_INSTANCE:
            return
        state = runs.get_step(self.conn, pk, step_id)
        if state is None:
            return
        if state.status in (StepStatus.WAITING_FOR_SIGNALS, StepStatus.PAUSED):
            signals.drop_waits(self.conn, pk, step_id)
            t.row.steps_active += 1
        elif state.status == StepStatus.CREATED and runs.queued_for_slot(self.conn, pk, step_id):
            t.row.steps_queued -= 1
            t.row.steps_active += 1
        elif state.status != StepStatus.WAITING_FOR_PERMITS:
            return
        t.dirty = True
        self._end_step(t, t.plan.steps[step_id], StepStatus.SKIPPED, reason="skipped by hand")
        self._drain_ready()

    def _emit(self, t: _Tracked, step: StepPlan, outputs: dict[str, Any]) -> None:
        """Announce the step's ``emits`` (it succeeded), in this transaction. Their params
        see what the step's params see, the step's own params, and its outputs
        (``${ load.rows }`` in step ``load``)."""
        source = {
            "workflow_id": t.row.workflow_id,
            "instance_id": t.row.instance_id,
            "step_id": step.id,
        }
        for name, raw in step.emits:
            try:
                scope = self._scope(t, step)
                scope.update(self.prepare(t, step)[0])
                scope[step.id] = Namespace(outputs, name=step.id, member="output")
                values = resolve(dict(raw), scope, self.budgets)
            except ExprError as exc:
                message = f"signal {name!r} not announced: its params failed: {exc.message}"
                self._event(t, step.id, "step.emit_failed", {"name": name, "message": message})
                continue
            announced = signals.announce(
                self.conn,
                name,
                values,
                now=self.now,
                start_instance=self._start_for_trigger,
                source=source,
            )
            self._event(t, step.id, "step.emitted", {"name": name, "seq": announced.signal.seq})

    def _start_for_trigger(
        self, conn: sa.Connection, workflow_id: str, trigger: dict[str, Any]
    ) -> int | None:
        return start_active(conn, workflow_id, trigger, now=self.now, budgets=self.budgets)

    def prepare(self, t: _Tracked, step: StepPlan) -> tuple[dict[str, Any], str]:
        """The step's resolved params and script: what its job receives. Raises ExprError."""
        row = t.row
        scope = self._scope(t, step)
        own = params.resolve_step_params(step.params, scope, self.budgets)
        if "template" in step.job:
            return template_job(self.conn, step.job["template"], own)
        script = params.render_script(step.script or "", scope, self.budgets)
        return rules.step_params(row.params, own), script

    def _inputs_failed(self, t: _Tracked, step: StepPlan, attempt: int, exc: ExprError) -> None:
        """Params that cannot be resolved fail the step as the user's error; retrying the
        same expression over the same inputs would fail the same way, so it is not retried."""
        final = rules.decide_after_failure(
            step.retries,
            ErrorKind.USER,
            user_errors=0,
            platform_errors=0,
            on_failure=step.on_failure,
            halted=True,
        )
        assert isinstance(final, rules.GiveUp)
        self._end_step(
            t,
            step,
            final.status,
            attempt=attempt,
            started=attempt == 1,
            error={"kind": ErrorKind.USER.value, "message": exc.message},
        )

    def _breakpoints(self, t: _Tracked) -> frozenset[str]:
        """The steps of this instance that pause; all breakpoints (few, and usually none)
        are read once per transaction rather than once per instance."""
        if t.breakpoints is None:
            if self._all_breakpoints is None:
                self._all_breakpoints = breakpoints.all_breakpoints(self.conn)
            t.breakpoints = frozenset(
                step_id
                for wf, step_id, instance_id in self._all_breakpoints
                if wf == t.row.workflow_id and instance_id in (0, t.row.instance_id)
            )
        return t.breakpoints

    def _pause(self, t: _Tracked, step: StepPlan) -> None:
        """Stop before the step runs, its params resolved so a person can look at them."""
        try:
            resolved, _ = self.prepare(t, step)
        except ExprError as exc:
            t.row.steps_active += 1
            self._inputs_failed(t, step, 1, exc)
            return
        runs.update_step(
            self.conn,
            t.row.pk,
            step.id,
            expect=(StepStatus.CREATED,),
            status=StepStatus.PAUSED,
            params=resolved,
        )
        self._event(t, step.id, "step.status", {"status": "PAUSED", "reason": "breakpoint"})

    def resume_step(self, pk: int, step_id: str) -> None:
        """Let a paused step go: it starts as if just released (slots permitting)."""
        t = self.instance(pk)
        if t is None or t.row.status in TERMINAL_INSTANCE:
            return
        if breakpoints.step_status(self.conn, pk, step_id) != StepStatus.PAUSED:
            return
        self._event(t, step_id, "step.resumed", {})
        self._resumed.add((pk, step_id))
        self._ready.append((pk, step_id))
        self._drain_ready()

    def _noop(self, t: _Tracked, step: StepPlan) -> None:
        """A noop ends at once; its params, if it has any, are resolved and kept (a join
        step that gathers values for people to read)."""
        extra: dict[str, Any] = {}
        if step.params:
            try:
                extra["params"] = self.prepare(t, step)[0]
            except ExprError as exc:
                self._inputs_failed(t, step, 1, exc)
                return
        self._end_step(t, step, StepStatus.SUCCEEDED, outputs={}, attempt=1, started=True, **extra)

    def _condition_holds(self, t: _Tracked, step: StepPlan) -> bool:
        """Evaluate ``if``; a false one (or one that fails) ends the step at once, without
        taking a slot."""
        try:
            scope = self._scope(t, step)
            params.resolve_step_params(step.params, scope, self.budgets)
            holds = params.condition_holds(step.condition or "", scope, self.budgets)
        except ExprError as exc:
            t.row.steps_active += 1
            self._inputs_failed(t, step, 1, exc)
            return False
        if not holds:
            t.row.steps_active += 1
            self._end_step(t, step, StepStatus.SKIPPED, reason="its condition (if) is false")
        return holds

    def _scope(self, t: _Tracked, step: StepPlan) -> dict[str, Any]:
        """The names ``step``'s expressions see. Inside an iteration, steps outside the
        foreach are read from the enclosing instances, and ``loop.index`` is its index."""
        local = [n for n in step.reads_outputs_of if n in t.plan.steps]
        upstream = runs.step_outputs(self.conn, t.row.pk, local)
        outer = [n for n in step.reads_outputs_of if n not in t.plan.steps]
        if outer:
            upstream = {**runs.enclosing_outputs(self.conn, t.row.parent_pk, outer), **upstream}
        scope = params.step_scope(t.row.params, upstream, run=t.run(), signal=t.signal())
        scope.update(foreach.foreach_scope(self, t, tuple(local)))
        scope.update(subworkflow.subworkflow_scope(self, t, tuple(local)))
        if t.row.iteration is not None:
            scope.setdefault("loop", Namespace({"index": t.row.iteration}, name="loop"))
        return scope

    def begin_attempt(self, t: _Tracked, step: StepPlan) -> None:
        """Start the step's next attempt (numbers go on across retries and restarts, so an
        attempt id, and the directory it names, is never reused)."""
        row = t.row
        try:
            resolved, script = self.prepare(t, step)
        except ExprError as exc:
            self._inputs_failed(t, step, 1, exc)
            return
        attempt = runs.start_attempt(self.conn, row.pk, step.id, params=resolved, now=self.now)
        if attempt is None:
            return
        attempt_id = make_attempt_id(row.pk, step.id, attempt)
        attempt_dir = self.data_dir / "attempts" / row.workflow_id / str(row.instance_id)
        if row.parent_pk is not None:
            # An iteration shares its instance's number: its pk keeps its directory apart.
            attempt_dir /= f"{row.plan_path}[{row.iteration}]@{row.pk}"
        attempt_dir = attempt_dir / step.id / str(attempt)
        deadline = self.now + step.timeout_s if step.timeout_s is not None else None
        runs.add_attempt(
            self.conn,
            {
                "attempt_id": attempt_id,
                "instance_pk": row.pk,
                "step_id": step.id,
                "attempt": attempt,
                "status": "RUNNING",
                "worker_id": self.worker_id,
                "host": self.host,
                "attempt_dir": str(attempt_dir),
                "deadline_at": deadline,
                "started_at": self.now,
            },
        )
        self._work.append(
            {
                "kind": "launch",
                "instance_pk": row.pk,
                "step_id": step.id,
                "attempt": attempt,
                "due_at": self.now + self.lease_s,
                "lease_owner": self.worker_id,
            }
        )
        self._event(t, step.id, "step.status", {"status": "RUNNING", "attempt": attempt})
        self.launches.append(
            LaunchOrder(attempt_id, row, step, attempt, resolved, script, attempt_dir, deadline)
        )

    def finish_attempt(self, attempt_id: str, outcome: Outcome) -> None:
        """A job ended (or was found ended): record it and decide what follows."""
        pk, step_id, number = parse_attempt_id(attempt_id)
        if not queue.finish_launch(self.conn, pk, step_id, number, owner=self.worker_id):
            return  # another worker took this attempt over (or it was finished): not ours
        # A job found ended after a takeover ended when its exit was recorded, not now.
        at = min(outcome.ended_at or self.now, self.now)
        ended = runs.end_attempt(self.conn, attempt_id, exit_code=outcome.exit_code, now=at)
        t = self.instance(pk)
        if t is None or ended is None:
            return
        cancel_reason = ended
        step = t.plan.steps[step_id]
        for milestone_at, text in outcome.milestones:
            self._event(t, step_id, "step.milestone", {"text": text}, at=milestone_at)
        kind = failure_kind(outcome, cancel_reason)
        too_big = rules.outputs_problem(outcome.outputs, self.budgets.string_size)
        if kind is None and too_big:
            kind, outcome = ErrorKind.USER, replace(outcome, error=too_big)
        if kind is None:
            self._end_step(
                t, step, StepStatus.SUCCEEDED, outputs=outcome.outputs, error=None, at=at
            )
        else:
            self._attempt_failed(t, step, kind, outcome, cancel_reason, at)
        self._drain_ready()

    def _attempt_failed(
        self,
        t: _Tracked,
        step: StepPlan,
        kind: ErrorKind,
        outcome: Outcome,
        cancel_reason: str | None,
        at: float,
    ) -> None:
        state = runs.get_step(self.conn, t.row.pk, step.id)
        assert state is not None
        user = state.user_errors + (kind in (ErrorKind.USER, ErrorKind.TIMEOUT))
        platform = state.platform_errors + (kind is ErrorKind.PLATFORM)
        error = {
            "kind": kind.value,
            "message": error_message(kind, outcome, cancel_reason, step),
            "attempt": state.attempt,
        }
        if outcome.log_tail:
            error["log_tail"] = outcome.log_tail
        decision = rules.decide_after_failure(
            step.retries,
            kind,
            user_errors=user,
            platform_errors=platform,
            on_failure=step.on_failure,
            halted=t.halt is not None,
        )
        if isinstance(decision, rules.Retry):
            retry_at = self.now + decision.delay_s
            runs.update_step(
                self.conn,
                t.row.pk,
                step.id,
                expect=(StepStatus.RUNNING,),
                status=StepStatus.CREATED,
                user_errors=user,
                platform_errors=platform,
                error=error,
                retry_at=retry_at,
            )
            if self.step_tags(t, step):
                self._permit_returns.append((t.row.pk, step.id))  # none held while it waits
            self._event(
                t,
                step.id,
                "step.retry",
                {
                    "status": "CREATED",
                    "attempt": state.attempt,
                    "kind": kind.value,
                    "retry_at": retry_at,
                    "error": {"kind": kind.value, "message": error["message"]},
                },
            )
            self._work.append(
                {
                    "kind": "retry",
                    "instance_pk": t.row.pk,
                    "step_id": step.id,
                    "attempt": state.attempt + 1,
                    "due_at": retry_at,
                }
            )
            return
        self._end_step(
            t,
            step,
            decision.status,
            error=error,
            user_errors=user,
            platform_errors=platform,
            at=at,
        )

    def retry_step(self, pk: int, step_id: str) -> None:
        t = self.instance(pk)
        if t is None or t.row.status in TERMINAL_INSTANCE:
            return
        step = t.plan.steps[step_id]
        if self.step_tags(t, step):
            self._permit_asks.append((pk, step_id, False))
        else:
            self.begin_attempt(t, step)

    def sleep_done(self, pk: int, step_id: str) -> None:
        t = self.instance(pk)
        if t is None:
            return
        self._end_step(t, t.plan.steps[step_id], StepStatus.SUCCEEDED, outputs={})
        self._drain_ready()

    def _end_step(
        self,
        t: _Tracked,
        step: StepPlan,
        status: StepStatus,
        *,
        outputs: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
        attempt: int | None = None,
        started: bool = False,
        at: float | None = None,
        reason: str | None = None,
        **columns: Any,
    ) -> None:
        row = t.row
        values: dict[str, Any] = {
            "status": status,
            "ended_at": self.now if at is None else at,
            "outputs": outputs,
            "error": error,
            "ready_seq": None,
            "retry_at": None,
            **columns,
        }
        if attempt is not None:
            values["attempt"] = attempt
        if started:
            values["started_at"] = self.now
        if not runs.update_step(self.conn, row.pk, step.id, expect=_LIVE_STEP, **values):
            return
        detail: dict[str, Any] = {"status": status.value}
        if reason:
            detail["reason"] = reason
        if error:
            detail["error"] = {"kind": error["kind"], "message": error["message"]}
        self._event(t, step.id, "step.status", detail)
        row.steps_active -= 1
        row.steps_done += 1
        t.dirty = True
        if step.takes_permits and self.step_tags(t, step):
            self._permit_returns.append((row.pk, step.id))
        if step.emits and status is StepStatus.SUCCEEDED:
            self._emit(t, step, outputs or {})
        halt = rules.halt_for_step_end(status, step.on_failure)
        if halt is not None:
            first = t.halt is None
            t.halt = rules.stronger_halt(t.halt, halt)
            if first and row.error is None and error is not None:
                row.error = {
                    "kind": error["kind"],
                    "step_id": step.id,
                    "message": f"step {step.id!r} {status.value}: {error['message']}",
                }
            if halt is Halt.FAIL_FAST:
                self._cancel_running(t, "fail_fast")
            elif first:
                self._stop_waiters(t, f"not started: {halt_message(t.halt)}")
        if t.halt is None:
            live = status is not StepStatus.SKIPPED
            for dep_id, pending, live_deps in runs.release_dependents(
                self.conn, row.pk, step.dependents, live=live
            ):
                if pending == 0:
                    self._release(t, t.plan.steps[dep_id], live_deps)
            self._pull_queued(t)
        self._verdict(t)

    def _release(self, t: _Tracked, step: StepPlan, live_deps: int) -> None:
        if rules.skipped_by_dependencies(len(step.depends_on), live_deps):
            t.row.steps_active += 1
            self._end_step(
                t, step, StepStatus.SKIPPED, reason="all of its dependencies were skipped"
            )
        else:
            self._ready.append((t.row.pk, step.id))

    def _pull_queued(self, t: _Tracked) -> None:
        row = t.row
        free = t.plan.step_concurrency - row.steps_active - _pending_ready(self._ready, row.pk)
        if row.steps_queued <= 0 or free <= 0:
            return
        for step_id in runs.take_queued_steps(self.conn, row.pk, free):
            row.steps_queued -= 1
            row.steps_active += 1
            t.dirty = True
            self._begin(t, t.plan.steps[step_id])


def _pending_ready(ready: deque[tuple[int, str]], pk: int) -> int:
    return sum(1 for p, _ in ready if p == pk) if ready else 0
