"""The step cascade: a step becomes ready, starts (or queues, pauses, waits, is skipped),
ends, and releases its dependents, within one transaction and without recursing."""

from __future__ import annotations

from collections import deque
from typing import Any

from podium.engine import params, rules
from podium.engine.failures import halt_message, instance_error_from_step
from podium.engine.plan import StepPlan
from podium.engine.states import (
    LIVE_STEP,
    STARTABLE_STEP,
    TERMINAL_INSTANCE,
    ErrorKind,
    Halt,
    StepStatus,
)
from podium.engine.topics import Topic
from podium.engine.work import WorkKind, work_row
from podium.expr import ExprError
from podium.store import breakpoints, signals
from podium.store import steps as store_steps
from podium.worker import (
    attempts,
    foreach,
    instance_transitions,
    scopes,
    signal_steps,
    subworkflow,
)
from podium.worker.transaction import Tracked, Transaction

JOB_TYPES = ("sleep", "script", "python", "notebook", "container")


def drain_ready(tx: Transaction) -> None:
    """Start what became ready, and top up foreach loops, until nothing is left; one
    loop at the top, so long cascades never recurse."""
    if tx.draining:
        return
    tx.draining = True
    try:
        while tx.ready or tx.loops_due:
            if tx.ready:
                pk, step_id = tx.ready.popleft()
                t = tx.instances[pk]
                _make_ready(tx, t, t.plan.steps[step_id])
            else:
                foreach.top_up_loop(tx, *tx.loops_due.popleft())
    finally:
        tx.draining = False


def _make_ready(tx: Transaction, t: Tracked, step: StepPlan) -> None:
    row = t.row
    if t.halt is not None:
        return
    signaled = (row.pk, step.id) in tx.signaled
    resumed = signaled or (row.pk, step.id) in tx.resumed
    if not resumed and step.condition is not None and not _condition_holds(tx, t, step):
        return
    if not resumed and step.id in tx.breakpoints(t):
        _pause(tx, t, step)
        return
    if step.wait_for and not signaled and not signal_steps.signals_there(tx, t, step):
        return
    if not t.slot_free():
        ready_seq = t.queue_for_slot()
        store_steps.update_step(
            tx.conn, row.pk, step.id, expect=STARTABLE_STEP, ready_seq=ready_seq
        )
        return
    t.take_slot()
    begin(tx, t, step)


def begin(tx: Transaction, t: Tracked, step: StepPlan) -> None:
    """Start a step that holds a slot: ask for its permits, run its job, or begin the
    foreach or subworkflow it is."""
    if step.type == "noop":
        _noop(tx, t, step)
    elif step.takes_permits and tx.step_tags(t, step):
        tx.permit_asks.append((t.row.pk, step.id, False))
    elif step.type in JOB_TYPES or ("template" in step.job):
        start_job(tx, t, step)
    elif step.type == "foreach":
        foreach.begin_foreach(tx, t, step)
    elif step.type == "subworkflow":
        subworkflow.begin_subworkflow(tx, t, step)
    else:
        end_step(
            tx,
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


def start_job(tx: Transaction, t: Tracked, step: StepPlan) -> None:
    """Run the step now: its slot (and permits, if it carries tags) are taken."""
    pk = t.row.pk
    if step.type == "sleep":
        store_steps.update_step(
            tx.conn,
            pk,
            step.id,
            expect=STARTABLE_STEP,
            status=StepStatus.RUNNING,
            attempt=1,
            started_at=tx.now,
        )
        tx.event(t, step.id, Topic.STEP_STATUS, {"status": "RUNNING", "attempt": 1})
        tx.add_work(
            work_row(
                WorkKind.SLEEP_DONE,
                pk,
                step_id=step.id,
                attempt=1,
                due_at=tx.now + (step.sleep_s or 0.0),
            )
        )
    else:
        attempts.begin_attempt(tx, t, step)


def inputs_failed(
    tx: Transaction, t: Tracked, step: StepPlan, attempt: int, exc: ExprError
) -> None:
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
    end_step(
        tx,
        t,
        step,
        final.status,
        attempt=attempt,
        started=attempt == 1,
        error={"kind": ErrorKind.USER.value, "message": exc.message},
    )


def _pause(tx: Transaction, t: Tracked, step: StepPlan) -> None:
    """Stop before the step runs, its params resolved so a person can look at them."""
    try:
        resolved, _ = scopes.prepare(tx, t, step)
    except ExprError as exc:
        t.take_slot()
        inputs_failed(tx, t, step, 1, exc)
        return
    store_steps.update_step(
        tx.conn,
        t.row.pk,
        step.id,
        expect=(StepStatus.CREATED,),
        status=StepStatus.PAUSED,
        params=t.shown(resolved),
    )
    tx.event(t, step.id, Topic.STEP_STATUS, {"status": "PAUSED", "reason": "breakpoint"})


def _noop(tx: Transaction, t: Tracked, step: StepPlan) -> None:
    """A noop ends at once; its params, if it has any, are resolved and kept (a join
    step that gathers values for people to read)."""
    extra: dict[str, Any] = {}
    if step.params:
        try:
            extra["params"] = t.shown(scopes.prepare(tx, t, step)[0])
        except ExprError as exc:
            inputs_failed(tx, t, step, 1, exc)
            return
    end_step(tx, t, step, StepStatus.SUCCEEDED, outputs={}, attempt=1, started=True, **extra)


def _condition_holds(tx: Transaction, t: Tracked, step: StepPlan) -> bool:
    """Evaluate ``if``; a false one (or one that fails) ends the step at once, without
    taking a slot."""
    try:
        names = scopes.scope(tx, t, step)
        params.resolve_step_params(step.params, names, tx.budgets)
        holds = params.condition_holds(step.condition or "", names, tx.budgets)
    except ExprError as exc:
        t.take_slot()
        inputs_failed(tx, t, step, 1, exc)
        return False
    if not holds:
        t.take_slot()
        end_step(tx, t, step, StepStatus.SKIPPED, reason="its condition (if) is false")
    return holds


def end_step(
    tx: Transaction,
    t: Tracked,
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
    """End a step that holds a slot (taken with :meth:`Tracked.take_slot`): record it,
    give its slot back, halt the instance if it must, and release its dependents. Outputs
    and errors are kept as shown: with the instance's secrets masked."""
    row = t.row
    outputs, error = t.shown(outputs), t.shown(error)
    values: dict[str, Any] = {
        "status": status,
        "ended_at": tx.now if at is None else at,
        "outputs": outputs,
        "error": error,
        "ready_seq": None,
        "retry_at": None,
        **columns,
    }
    if attempt is not None:
        values["attempt"] = attempt
    if started:
        values["started_at"] = tx.now
    if not store_steps.update_step(tx.conn, row.pk, step.id, expect=LIVE_STEP, **values):
        return
    detail: dict[str, Any] = {"status": status.value}
    if reason:
        detail["reason"] = reason
    if error:
        detail["error"] = {"kind": error["kind"], "message": error["message"]}
    tx.event(t, step.id, Topic.STEP_STATUS, detail)
    t.return_slot()
    if step.takes_permits and tx.step_tags(t, step):
        tx.permit_returns.append((row.pk, step.id))
    if step.emits and status is StepStatus.SUCCEEDED:
        signal_steps.emit(tx, t, step, outputs or {})
    halt = rules.halt_for_step_end(status, step.on_failure)
    if halt is not None:
        _halt_for(tx, t, step, status, halt, error)
    if t.halt is None:
        live = status is not StepStatus.SKIPPED
        for dep_id, pending, live_deps in store_steps.release_dependents(
            tx.conn, row.pk, step.dependents, live=live
        ):
            if pending == 0:
                release(tx, t, t.plan.steps[dep_id], live_deps)
        _pull_queued(tx, t)
    instance_transitions.verdict(tx, t)


def _halt_for(
    tx: Transaction,
    t: Tracked,
    step: StepPlan,
    status: StepStatus,
    halt: Halt,
    error: dict[str, Any] | None,
) -> None:
    first = t.halt is None
    t.halt = rules.stronger_halt(t.halt, halt)
    if first and t.row.error is None and error is not None:
        t.row.error = instance_error_from_step(step.id, status, error)
    if halt is Halt.FAIL_FAST:
        instance_transitions.cancel_running(tx, t, "fail_fast")
    elif first:
        signal_steps.stop_waiters(tx, t, f"not started: {halt_message(t.halt)}")


def release(tx: Transaction, t: Tracked, step: StepPlan, live_deps: int) -> None:
    """A step's dependencies all ended: it is ready, or skipped if they all were."""
    if rules.skipped_by_dependencies(len(step.depends_on), live_deps):
        t.take_slot()
        end_step(tx, t, step, StepStatus.SKIPPED, reason="all of its dependencies were skipped")
    else:
        tx.ready.append((t.row.pk, step.id))


def _pull_queued(tx: Transaction, t: Tracked) -> None:
    row = t.row
    free = t.plan.step_concurrency - row.steps_active - _pending_ready(tx.ready, row.pk)
    if row.steps_queued <= 0 or free <= 0:
        return
    for step_id in store_steps.take_queued_steps(tx.conn, row.pk, free):
        t.take_queued_slot()
        begin(tx, t, t.plan.steps[step_id])


def _pending_ready(ready: deque[tuple[int, str]], pk: int) -> int:
    return sum(1 for p, _ in ready if p == pk) if ready else 0


def resume_step(tx: Transaction, pk: int, step_id: str) -> None:
    """Let a paused step go: it starts as if just released (slots permitting)."""
    t = tx.instance(pk)
    if t is None or t.row.status in TERMINAL_INSTANCE:
        return
    if breakpoints.step_status(tx.conn, pk, step_id) != StepStatus.PAUSED:
        return
    tx.event(t, step_id, Topic.STEP_RESUMED, {})
    tx.resumed.add((pk, step_id))
    tx.ready.append((pk, step_id))
    drain_ready(tx)


def skip_step(tx: Transaction, pk: int, step_id: str) -> None:
    """Skip, by hand, a step that waits (for signals, permits, a slot or a resume)."""
    t = tx.instance(pk)
    if t is None or t.row.status in TERMINAL_INSTANCE:
        return
    state = store_steps.get_step(tx.conn, pk, step_id)
    if state is None:
        return
    if state.status in (StepStatus.WAITING_FOR_SIGNALS, StepStatus.PAUSED):
        signals.drop_waits(tx.conn, pk, step_id)
        t.take_slot()
    elif state.status == StepStatus.CREATED and store_steps.queued_for_slot(tx.conn, pk, step_id):
        t.take_queued_slot()
    elif state.status != StepStatus.WAITING_FOR_PERMITS:
        return
    t.dirty = True
    end_step(tx, t, t.plan.steps[step_id], StepStatus.SKIPPED, reason="skipped by hand")
    drain_ready(tx)
