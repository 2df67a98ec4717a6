"""Attempts: a step's job starts, ends, and is retried or given up on."""

from __future__ import annotations

from dataclasses import replace

from podium.engine import rules
from podium.engine.failures import Outcome, error_message, failure_kind
from podium.engine.plan import StepPlan
from podium.engine.states import TERMINAL_INSTANCE, ErrorKind, StepStatus
from podium.engine.topics import Topic
from podium.engine.work import WorkKind, work_row
from podium.expr import ExprError
from podium.store import attempts as store_attempts
from podium.store import queue
from podium.store import steps as store_steps
from podium.worker import cascade, scopes
from podium.worker.orders import LaunchOrder, make_attempt_id, parse_attempt_id
from podium.worker.transaction import Tracked, Transaction


def begin_attempt(tx: Transaction, t: Tracked, step: StepPlan) -> None:
    """Start the step's next attempt (numbers go on across retries and restarts, so an
    attempt id, and the directory it names, is never reused)."""
    row = t.row
    try:
        resolved, script = scopes.prepare(tx, t, step)
    except ExprError as exc:
        cascade.inputs_failed(tx, t, step, 1, exc)
        return
    attempt = store_steps.start_attempt(
        tx.conn, row.pk, step.id, params=t.shown(resolved), now=tx.now
    )
    if attempt is None:
        return
    attempt_id = make_attempt_id(row.pk, step.id, attempt)
    attempt_dir = tx.data_dir / "attempts" / row.workflow_id / str(row.instance_id)
    if row.parent_pk is not None:
        # An iteration shares its instance's number: its pk keeps its directory apart.
        attempt_dir /= f"{row.plan_path}[{row.iteration}]@{row.pk}"
    attempt_dir = attempt_dir / step.id / str(attempt)
    deadline = tx.now + step.timeout_s if step.timeout_s is not None else None
    store_attempts.add_attempt(
        tx.conn,
        {
            "attempt_id": attempt_id,
            "instance_pk": row.pk,
            "step_id": step.id,
            "attempt": attempt,
            "status": "RUNNING",
            "worker_id": tx.worker_id,
            "host": tx.host,
            "attempt_dir": str(attempt_dir),
            "deadline_at": deadline,
            "started_at": tx.now,
        },
    )
    tx.add_work(
        work_row(
            WorkKind.LAUNCH,
            row.pk,
            step_id=step.id,
            attempt=attempt,
            due_at=tx.now + tx.lease_s,
            lease_owner=tx.worker_id,
        )
    )
    tx.event(t, step.id, Topic.STEP_STATUS, {"status": "RUNNING", "attempt": attempt})
    tx.launches.append(
        LaunchOrder(
            attempt_id,
            row,
            step,
            attempt,
            resolved,
            script,
            attempt_dir,
            deadline,
            redactor=t.redactor,
        )
    )


def finish_attempt(tx: Transaction, attempt_id: str, outcome: Outcome) -> None:
    """A job ended (or was found ended): record it and decide what follows."""
    pk, step_id, number = parse_attempt_id(attempt_id)
    if not queue.finish_launch(tx.conn, pk, step_id, number, owner=tx.worker_id):
        return  # another worker took this attempt over (or it was finished): not ours
    # A job found ended after a takeover ended when its exit was recorded, not now.
    at = min(outcome.ended_at or tx.now, tx.now)
    ended = store_attempts.end_attempt(tx.conn, attempt_id, exit_code=outcome.exit_code, now=at)
    t = tx.instance(pk)
    if t is None or ended is None:
        return
    cancel_reason = ended
    step = t.plan.steps[step_id]
    for milestone_at, text in outcome.milestones:
        tx.event(t, step_id, Topic.STEP_MILESTONE, {"text": text}, at=milestone_at)
    kind = failure_kind(outcome, cancel_reason)
    too_big = rules.outputs_problem(outcome.outputs, tx.budgets.string_size)
    if kind is None and too_big:
        kind, outcome = ErrorKind.USER, replace(outcome, error=too_big)
    if kind is None:
        cascade.end_step(
            tx, t, step, StepStatus.SUCCEEDED, outputs=outcome.outputs, error=None, at=at
        )
    else:
        _attempt_failed(tx, t, step, kind, outcome, cancel_reason, at)
    cascade.drain_ready(tx)


def _attempt_failed(
    tx: Transaction,
    t: Tracked,
    step: StepPlan,
    kind: ErrorKind,
    outcome: Outcome,
    cancel_reason: str | None,
    at: float,
) -> None:
    state = store_steps.get_step(tx.conn, t.row.pk, step.id)
    assert state is not None
    user = state.user_errors + (kind in (ErrorKind.USER, ErrorKind.TIMEOUT))
    platform = state.platform_errors + (kind is ErrorKind.PLATFORM)
    error = {
        "kind": kind.value,
        "message": error_message(kind, outcome, cancel_reason, step.timeout_s),
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
    if isinstance(decision, rules.GiveUp):
        cascade.end_step(
            tx,
            t,
            step,
            decision.status,
            error=error,
            user_errors=user,
            platform_errors=platform,
            at=at,
        )
        return
    retry_at = tx.now + decision.delay_s
    store_steps.update_step(
        tx.conn,
        t.row.pk,
        step.id,
        expect=(StepStatus.RUNNING,),
        status=StepStatus.CREATED,
        user_errors=user,
        platform_errors=platform,
        error=error,
        retry_at=retry_at,
    )
    if tx.step_tags(t, step):
        tx.permit_returns.append((t.row.pk, step.id))  # none held while it waits
    tx.event(
        t,
        step.id,
        Topic.STEP_RETRY,
        {
            "status": "CREATED",
            "attempt": state.attempt,
            "kind": kind.value,
            "retry_at": retry_at,
            "error": {"kind": kind.value, "message": error["message"]},
        },
    )
    tx.add_work(
        work_row(
            WorkKind.RETRY,
            t.row.pk,
            step_id=step.id,
            attempt=state.attempt + 1,
            due_at=retry_at,
        )
    )


def retry_step(tx: Transaction, pk: int, step_id: str) -> None:
    """A retry's back-off ran out: ask for permits again, or start the next attempt."""
    t = tx.instance(pk)
    if t is None or t.row.status in TERMINAL_INSTANCE:
        return
    step = t.plan.steps[step_id]
    if tx.step_tags(t, step):
        tx.permit_asks.append((pk, step_id, False))
    else:
        begin_attempt(tx, t, step)


def sleep_done(tx: Transaction, pk: int, step_id: str) -> None:
    """A sleep step's time is up."""
    t = tx.instance(pk)
    if t is None:
        return
    cascade.end_step(tx, t, t.plan.steps[step_id], StepStatus.SUCCEEDED, outputs={})
    cascade.drain_ready(tx)
