"""Steps with tags: they take their tags' permits before they run, and give them back."""

from __future__ import annotations

from podium.engine.failures import halt_message, stopped_error
from podium.engine.states import STARTABLE_STEP, StepStatus
from podium.engine.topics import Topic
from podium.engine.work import WorkKind, work_row
from podium.store import permits
from podium.store import steps as store_steps
from podium.worker import cascade
from podium.worker.transaction import Transaction


def permit_granted(tx: Transaction, pk: int, step_id: str) -> None:
    """A waiting step was handed a permit: take the rest, then run."""
    t = tx.instance(pk)
    if t is None:
        return
    state = store_steps.get_step(tx.conn, pk, step_id)
    if state is None or state.status != StepStatus.WAITING_FOR_PERMITS:
        # It ended (stopped) after the grant: the permit goes to the next in line.
        tx.permit_returns.append((pk, step_id))
        return
    tx.permit_asks.append((pk, step_id, True))


def settle_permits(tx: Transaction) -> None:
    """Give back, hand on and take permits: all under the locks of the tags involved,
    taken in one pass at the end of the transaction, in tag order."""
    asks, returns = tx.permit_asks, tx.permit_returns
    tx.permit_asks, tx.permit_returns = [], []
    tags: set[str] = set()
    for pk, step_id in [(pk, step_id) for pk, step_id, _ in asks] + returns:
        t = tx.instances[pk]
        tags.update(tx.step_tags(t, t.plan.steps[step_id]))
    ledger = permits.Ledger.open(tx.conn, tags, tx.now)
    ledger.release(returns)
    for pk, step_id in ledger.grant_waiters():
        # SQLite has one engine: the next in line starts in this transaction. With
        # several workers (PostgreSQL) a work row hands it on, so any worker may run it
        # and jobs spread over the workers instead of piling up on the one releasing
        # permits. Never wait for an instance's lock while holding tags' locks.
        if tx.inline_grants and tx.instance(pk, skip_locked=True) is not None:
            permit_granted(tx, pk, step_id)
        else:
            tx.add_work(work_row(WorkKind.PERMIT, pk, step_id=step_id, due_at=tx.now))
    for pk, step_id, granted in asks:
        t = tx.instances[pk]
        step = t.plan.steps[step_id]
        if t.halt is not None:
            tx.permit_returns.append((pk, step_id))
            cascade.end_step(
                tx,
                t,
                step,
                StepStatus.STOPPED,
                error=stopped_error(f"not started: {halt_message(t.halt)}"),
            )
            continue
        waits_for = ledger.acquire((pk, step_id), tx.step_tags(t, step), granted=granted)
        if waits_for is None:
            cascade.start_job(tx, t, step)
            continue
        store_steps.update_step(
            tx.conn, pk, step_id, expect=STARTABLE_STEP, status=StepStatus.WAITING_FOR_PERMITS
        )
        tx.event(t, step_id, Topic.STEP_STATUS, {"status": "WAITING_FOR_PERMITS", "tag": waits_for})


def settle(tx: Transaction) -> None:
    """Run the cascade and settle permits until neither has anything left."""
    cascade.drain_ready(tx)
    while tx.permit_asks or tx.permit_returns:
        settle_permits(tx)
        cascade.drain_ready(tx)
