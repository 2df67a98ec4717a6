"""An instance's own changes: it starts, a new run begins, it is halted, it ends."""

from __future__ import annotations

from podium.engine import rules
from podium.engine.failures import halt_error, stop_messages, stopped_error
from podium.engine.states import (
    TERMINAL_INSTANCE,
    Halt,
    InstanceStatus,
    StepStatus,
    check_instance_transition,
)
from podium.engine.topics import Topic
from podium.engine.work import TIMER_KINDS, WorkKind, work_row
from podium.store import admission as store_admission
from podium.store import attempts as store_attempts
from podium.store import breakpoints, queue
from podium.store import steps as store_steps
from podium.worker import cascade, foreach, signal_steps, subworkflow
from podium.worker.orders import CancelOrder
from podium.worker.transaction import Tracked, Transaction


def start_instance(tx: Transaction, pk: int) -> None:
    """Create the steps of an admitted instance and start its roots."""
    t = tx.instance(pk)
    if t is None or t.row.status != InstanceStatus.CREATED:
        return
    plan = t.plan
    store_steps.create_steps(
        tx.conn,
        pk,
        [
            {"step_id": s.id, "position": s.position, "pending_deps": len(s.depends_on)}
            for s in plan.steps.values()
        ],
    )
    t.row.steps_total = len(plan.steps)
    t.row.started_at = tx.now
    set_instance_status(tx, t, InstanceStatus.IN_PROGRESS)
    if plan.timeout_s is not None:
        tx.add_work(work_row(WorkKind.INSTANCE_TIMEOUT, pk, due_at=tx.now + plan.timeout_s))
    for step in plan.roots:
        tx.ready.append((pk, step.id))
    cascade.drain_ready(tx)


def restart_instance(tx: Transaction, pk: int) -> None:
    """A new run began (the API reset the steps): start what has nothing to wait for."""
    t = tx.instance(pk)
    if t is None or t.row.status != InstanceStatus.IN_PROGRESS:
        return
    tx.event(t, None, Topic.INSTANCE_RESTART, {"run": t.row.run})
    if t.plan.timeout_s is not None:
        tx.add_work(work_row(WorkKind.INSTANCE_TIMEOUT, pk, due_at=tx.now + t.plan.timeout_s))
    for step_id, live in store_steps.ready_after_restart(tx.conn, pk):
        cascade.release(tx, t, t.plan.steps[step_id], live)
    cascade.drain_ready(tx)
    verdict(tx, t)


def halt_instance(tx: Transaction, pk: int, halt: Halt) -> None:
    """Stop or time out an instance: kill what runs, end what waits on a timer."""
    t = tx.instance(pk)
    if t is None or t.row.status in TERMINAL_INSTANCE:
        return
    if t.row.status == InstanceStatus.CREATED:
        t.halt = halt
        verdict(tx, t)
        return
    t.halt = rules.stronger_halt(t.halt, halt)
    t.dirty = True
    reason = "stop" if halt is Halt.STOPPED else "instance_timeout"
    cancel_running(tx, t, reason)
    verdict(tx, t)


def cancel_running(tx: Transaction, t: Tracked, reason: str) -> None:
    """Kill the instance's jobs and end every step that waits (``reason``: stop,
    fail_fast, instance_timeout)."""
    for attempt in store_attempts.live_attempts(tx.conn, t.row.pk):
        if store_attempts.request_cancel(tx.conn, attempt.attempt_id, reason):
            tx.cancels.append(
                CancelOrder(attempt.attempt_id, attempt.host, attempt.attempt_dir, reason)
            )
    for step in t.plan.steps.values():
        if step.foreach is not None or step.subworkflow is not None:
            foreach.stop_iterations(tx, t, step.id)
    waiter_message, timer_message = stop_messages(reason)
    signal_steps.stop_waiters(tx, t, waiter_message)
    waiting = breakpoints.paused_steps(tx.conn, t.row.pk)
    for _ in waiting:
        t.take_slot()  # ended below like running steps
    timers = [
        *queue.delete_instance_work(tx.conn, t.row.pk, TIMER_KINDS),
        *tx.drop_work(t.row.pk, TIMER_KINDS),  # set in this transaction, not written yet
    ]
    for step_id in [*waiting, *timers]:
        if step_id is not None:
            cascade.end_step(
                tx,
                t,
                t.plan.steps[step_id],
                StepStatus.STOPPED,
                error=stopped_error(timer_message),
            )


def set_instance_status(tx: Transaction, t: Tracked, status: InstanceStatus) -> None:
    check_instance_transition(InstanceStatus(t.row.status), status)
    t.row.status = status.value
    t.dirty = True
    if t.row.iteration is None:  # an iteration is summed up by its foreach step
        tx.event(t, None, Topic.INSTANCE_STATUS, {"status": status.value})


def verdict(tx: Transaction, t: Tracked) -> None:
    """End the instance if nothing is left to run (or to wait for)."""
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
    row.ended_at = tx.now
    if status is not InstanceStatus.SUCCEEDED and row.error is None:
        row.error = halt_error(t.halt)
    set_instance_status(tx, t, status)
    if row.iteration is not None:
        foreach.iteration_ended(tx, t)
        return
    if row.parent_pk is not None:
        subworkflow.subworkflow_ended(tx, t)
    queue.delete_instance_work(tx.conn, row.pk, (WorkKind.INSTANCE_TIMEOUT, WorkKind.STOP))
    tx.ended_instances.append((row.workflow_id, row.instance_id, status.value))
    if row.parent_pk is None and store_admission.queued_instances(tx.conn, row.workflow_id, 1):
        tx.add_work(work_row(WorkKind.ADMIT, row.pk, due_at=tx.now))
