"""Admitting instances under their workflow's run strategy and concurrency.

A started instance is CREATED with a ``start`` row; admission decides, under a lock on the
workflow, whether it starts now, waits (and why), or ends at once (first_only). When an
instance ends, an ``admit`` row lets the next ones in. The workflow's current policy (that
of its active version) applies to every instance it admits, whichever version it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from podium.engine import strategy
from podium.engine.states import ErrorKind, Halt, InstanceStatus
from podium.store import admission as store_admission
from podium.worker import instance_transitions

if TYPE_CHECKING:
    from podium.worker.transaction import Transaction


def on_start(tx: Transaction, pk: int, workflow_id: str) -> None:
    """A new instance arrived: refuse it (first_only), supersede others (last_only), then
    admit what the limits allow, first come first."""
    locked = store_admission.lock_workflow(tx.conn, workflow_id)
    if locked is None:
        return
    t = tx.instance(pk)
    if t is None or t.row.status != InstanceStatus.CREATED:
        return
    policy = _policy(tx, workflow_id, locked[1])
    running = store_admission.running_instances(tx.conn, workflow_id)
    refused = strategy.arrival_refused(policy, [i for _, i in running], t.row.instance_id)
    if refused:
        t.row.error = {"kind": ErrorKind.STOPPED.value, "message": refused}
        instance_transitions.halt_instance(tx, pk, Halt.STOPPED)
        return
    if strategy.superseded(policy):
        superseding = f"last_only: superseded by instance {t.row.instance_id}"
        for older_pk, _ in running + store_admission.queued_instances(
            tx.conn, workflow_id, 1000, before=t.row.instance_id
        ):
            older = tx.instance(older_pk)
            if older is not None and older.row.error is None:
                older.row.error = {"kind": ErrorKind.STOPPED.value, "message": superseding}
            instance_transitions.halt_instance(tx, older_pk, Halt.STOPPED)
    waiting = _admit(tx, workflow_id, policy, locked[0])
    if waiting is not None and t.row.status == InstanceStatus.CREATED:
        store_admission.set_waiting(tx.conn, pk, waiting)


def admit_next(tx: Transaction, workflow_id: str) -> None:
    """An instance of the workflow ended (or it was unblocked): let the next ones in."""
    locked = store_admission.lock_workflow(tx.conn, workflow_id)
    if locked is not None:
        _admit(tx, workflow_id, _policy(tx, workflow_id, locked[1]), locked[0])


def _admit(
    tx: Transaction, workflow_id: str, policy: strategy.Policy, unblocked: int
) -> str | None:
    """Start the oldest waiting instances while slots are free; the reason the others wait."""
    running = len(store_admission.running_instances(tx.conn, workflow_id))
    blocker = None
    if policy.strategy == "strict_sequential":
        blocker = store_admission.first_blocker(tx.conn, workflow_id, unblocked)
    free = 0 if blocker is not None else strategy.free_slots(policy, running)
    queued = store_admission.queued_instances(tx.conn, workflow_id, free + 1)
    for pk, _ in queued[:free]:
        store_admission.set_waiting(tx.conn, pk, None)
        instance_transitions.start_instance(tx, pk)
    if len(queued) <= free:
        return None
    reason = strategy.waiting_reason(policy, running + free, blocker)
    store_admission.set_waiting(tx.conn, queued[free][0], reason)
    return reason


def _policy(tx: Transaction, workflow_id: str, version: int) -> strategy.Policy:
    plan = tx.load_plan(tx.conn, workflow_id, version)
    return strategy.Policy(plan.run_strategy, plan.concurrency)
