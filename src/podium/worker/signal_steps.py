"""Signals in steps: a step waits for signals (``wait_for``) and announces them (``emits``)."""

from __future__ import annotations

from typing import Any

from podium.control.starts import start_active
from podium.engine.failures import stopped_error
from podium.engine.plan import StepPlan
from podium.engine.states import STARTABLE_STEP, TERMINAL_INSTANCE, StepStatus
from podium.engine.topics import Topic
from podium.expr import ExprError, Namespace, resolve
from podium.store import Connection, signals
from podium.store import steps as store_steps
from podium.worker import cascade, scopes
from podium.worker.transaction import Tracked, Transaction


def signals_there(tx: Transaction, t: Tracked, step: StepPlan) -> bool:
    """True if every signal the step waits for was announced since its instance was
    created; otherwise it waits for the missing ones (no slot held, nothing polled)."""
    try:
        names = scopes.scope(tx, t, step)
        wanted = [
            (index, name, resolve(dict(match), names, tx.budgets))
            for index, (name, match) in enumerate(step.wait_for)
        ]
    except ExprError as exc:
        t.take_slot()
        cascade.inputs_failed(tx, t, step, 1, ExprError(f"wait_for: {exc.message}"))
        return False
    # The names' locks keep a signal announced right now from slipping between the
    # look below and the waits written after it.
    signals.lock_names(tx.conn, [name for _, name, _ in wanted])
    missing = [
        (index, name, match)
        for index, name, match in wanted
        if signals.already_there(tx.conn, name, match, t.row.created_at) is None
    ]
    if not missing:
        return True
    signals.add_waits(tx.conn, t.row.pk, step.id, missing, tx.now)
    store_steps.update_step(
        tx.conn, t.row.pk, step.id, expect=STARTABLE_STEP, status=StepStatus.WAITING_FOR_SIGNALS
    )
    tx.event(
        t,
        step.id,
        Topic.STEP_STATUS,
        {
            "status": "WAITING_FOR_SIGNALS",
            "signals": [{"name": name, "match": match} for _, name, match in missing],
        },
    )
    return False


def signals_arrived(tx: Transaction, pk: int, step_id: str) -> None:
    """Every signal a waiting step needed was announced: it goes on as if just ready."""
    t = tx.instance(pk)
    if t is None or t.row.status in TERMINAL_INSTANCE or t.halt is not None:
        return
    state = store_steps.get_step(tx.conn, pk, step_id)
    if state is None or state.status != StepStatus.WAITING_FOR_SIGNALS:
        return
    tx.signaled.add((pk, step_id))
    tx.ready.append((pk, step_id))
    cascade.drain_ready(tx)


def stop_waiters(tx: Transaction, t: Tracked, message: str) -> None:
    """End the steps of a halting instance that wait for permits or signals: they
    never ran. (A step waiting for signals holds no slot; it is counted as it ends.)"""
    error = stopped_error(message)
    pk = t.row.pk
    for step_id in store_steps.steps_in_status(tx.conn, pk, StepStatus.WAITING_FOR_PERMITS):
        cascade.end_step(tx, t, t.plan.steps[step_id], StepStatus.STOPPED, error=error)
    waiting = store_steps.steps_in_status(tx.conn, pk, StepStatus.WAITING_FOR_SIGNALS)
    if waiting:
        signals.drop_waits(tx.conn, pk)
    for step_id in waiting:
        t.take_slot()
        cascade.end_step(tx, t, t.plan.steps[step_id], StepStatus.STOPPED, error=error)


def emit(tx: Transaction, t: Tracked, step: StepPlan, outputs: dict[str, Any]) -> None:
    """Announce the step's ``emits`` (it succeeded), in this transaction. Their params
    see what the step's params see, the step's own params, and its outputs
    (``${ load.rows }`` in step ``load``)."""
    source = {
        "workflow_id": t.row.workflow_id,
        "instance_id": t.row.instance_id,
        "step_id": step.id,
    }

    def start_for_trigger(
        conn: Connection, workflow_id: str, trigger: dict[str, Any]
    ) -> int | None:
        return start_active(conn, workflow_id, trigger, now=tx.now, budgets=tx.budgets)

    for name, raw in step.emits:
        try:
            names = scopes.scope(tx, t, step)
            names.update(scopes.prepare(tx, t, step)[0])
            names[step.id] = Namespace(outputs, name=step.id, member="output")
            values = t.shown(resolve(dict(raw), names, tx.budgets))
        except ExprError as exc:
            message = f"signal {name!r} not announced: its params failed: {exc.message}"
            tx.event(t, step.id, Topic.STEP_EMIT_FAILED, {"name": name, "message": message})
            continue
        announced = signals.announce(
            tx.conn,
            name,
            values,
            now=tx.now,
            start_instance=start_for_trigger,
            source=source,
        )
        tx.event(t, step.id, Topic.STEP_EMITTED, {"name": name, "seq": announced.signal.seq})
