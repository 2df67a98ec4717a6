"""Foreach: a step that runs its inner steps once per item, each iteration a child instance.

An iteration is a child instance of the foreach step's instance, so everything the engine
does for instances (dependencies, retries, time-outs, stops) holds inside an iteration as it
is. The foreach step keeps counts of its iterations, updated as each one ends, and launches
the next ones in batches as slots free up: launching is proportional to what changed, and
reading the step's state never scans its iterations.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any

from podium.engine import params
from podium.engine.children import foreach_result, iteration_outcome
from podium.engine.plan import StepPlan
from podium.engine.states import Halt, InstanceStatus
from podium.engine.topics import Topic
from podium.engine.work import WorkKind, work_row
from podium.expr import ExprError, resolve
from podium.store import instances as store_instances
from podium.store import loops as store_loops
from podium.worker import cascade, instance_transitions, scopes, subworkflow

if TYPE_CHECKING:
    from podium.worker.transaction import Tracked, Transaction

# Iterations launched by one transaction at most; the rest follow in the next one, so a
# foreach of 100,000 iterations neither holds the database nor grows one transaction.
ITERATIONS_PER_TRANSACTION = 500


def iteration_values(over: dict[str, list[Any]], index: int) -> dict[str, Any]:
    """The values of iteration ``index`` of the cartesian product of ``over`` (the last key
    varies fastest), computed without building the product."""
    values: dict[str, Any] = {}
    for name in reversed(list(over)):
        items = over[name]
        index, position = divmod(index, len(items))
        values[name] = items[position]
    return dict(reversed(list(values.items())))


def begin_foreach(tx: Transaction, t: Tracked, step: StepPlan) -> None:
    assert step.foreach is not None
    state = tx.loop_state(t.row.pk, step.id)
    if state[0].redo is not None:  # a restart: the same items, only those to redo
        store_loops.resume_foreach(tx.conn, t.row.pk, step.id, now=tx.now)
        tx.event(t, step.id, Topic.STEP_STATUS, {"status": "RUNNING", "redo": len(state[0].redo)})
        tx.loops_due.append((t.row.pk, step.id))
        return
    del tx.loops[(t.row.pk, step.id)]  # written afresh below, then read again
    try:
        scope = scopes.scope(tx, t, step)
        own = params.resolve_step_params(step.params, scope, tx.budgets)
        over = _resolve_over(step.foreach.over, scope, tx)
    except ExprError as exc:
        cascade.inputs_failed(tx, t, step, 1, exc)
        return
    total = math.prod(len(items) for items in over.values())
    if total > tx.budgets.collection_size:
        sizes = " x ".join(f"{len(items):,}" for items in over.values())
        cascade.inputs_failed(
            tx,
            t,
            step,
            1,
            ExprError(
                f"foreach.over: {sizes} items make {total:,} iterations, more than "
                f"{tx.budgets.collection_size:,} (PODIUM_EXPR_COLLECTION_SIZE)"
            ),
        )
        return
    shown_own, shown_over, sealed = tx.seal_loop(t, own, over)
    store_loops.begin_foreach(
        tx.conn,
        t.row.pk,
        step.id,
        params=shown_own,
        over=shown_over,
        total=total,
        now=tx.now,
        sealed_params=sealed,
    )
    tx.event(t, step.id, Topic.STEP_STATUS, {"status": "RUNNING", "iterations": total})
    tx.loops_due.append((t.row.pk, step.id))


def top_up_loop(tx: Transaction, pk: int, step_id: str) -> None:
    """Launch iterations while slots are free, or end the foreach once all have ended."""
    t = tx.instance(pk)
    if t is None or t.row.status not in (InstanceStatus.IN_PROGRESS, InstanceStatus.PAUSED):
        return
    step = t.plan.steps[step_id]
    assert step.foreach is not None
    counts, over, own = tx.loop_state(pk, step_id)
    failing = t.halt is not None or (counts.failed > 0 and step.on_failure != "ignore")
    if not failing and counts.launched < counts.planned:
        limit = step.foreach.concurrency or t.plan.step_concurrency
        budget = ITERATIONS_PER_TRANSACTION - tx.iterations_launched
        count = min(limit - counts.active, counts.planned - counts.launched, budget)
        if count > 0:
            _launch_iterations(tx, t, step, counts.launched, count, over, own)
        elif budget <= 0 and counts.active < limit:
            _continue_later(tx, pk, step_id)
        return
    if counts.active == 0:
        _end_foreach(tx, t, step, counts)


def _launch_iterations(
    tx: Transaction,
    t: Tracked,
    step: StepPlan,
    first: int,
    count: int,
    over: dict[str, list[Any]],
    own: dict[str, Any],
) -> None:
    counts = tx.loop_state(t.row.pk, step.id)[0]
    row = t.row
    path = f"{row.plan_path}.{step.id}".lstrip(".")
    base = {**row.params, **own}
    indices = [counts.index(k) for k in range(first, first + count)]
    counts.launched += count
    tx.iterations_launched += count
    if step.foreach is not None and step.foreach.subworkflow is not None:
        children = subworkflow.iteration_children(tx, t, step, indices, over, base, counts)
    else:
        children = [
            {
                "workflow_id": row.workflow_id,
                "instance_id": row.instance_id,
                "version": row.version,
                "status": InstanceStatus.CREATED.value,
                "params": {**base, **iteration_values(over, index)},
                "trigger": row.trigger,
                "started_by": row.started_by,
                "run_as": row.run_as,
                "created_at": tx.now,
                "parent_pk": row.pk,
                "parent_step": step.id,
                "iteration": index,
                "plan_path": path,
                "tags": tx.child_tags(t, step),
            }
            for index in indices
        ]
    if not children:
        return
    if step.foreach is not None and step.foreach.subworkflow is not None:
        workflow = step.foreach.subworkflow.workflow
        secret = tx.load_plan(tx.conn, workflow, children[0]["version"]).secret_params
    else:
        secret = tx.load_plan(tx.conn, row.workflow_id, row.version).secret_params
    pks = tx.create_children(t, children, secret)
    counts.active += len(children)
    for pk in pks:
        instance_transitions.start_instance(tx, pk)


def _continue_later(tx: Transaction, pk: int, step_id: str) -> None:
    if (pk, step_id) not in tx.more_requested:
        tx.more_requested.add((pk, step_id))
        tx.add_work(work_row(WorkKind.FOREACH_MORE, pk, step_id=step_id, due_at=tx.now))


def iteration_ended(tx: Transaction, child: Tracked) -> None:
    """A child instance ended: count it on its foreach step, then top the loop up."""
    row = child.row
    assert row.parent_pk is not None and row.parent_step is not None
    parent = tx.instance(row.parent_pk)
    if parent is None:
        return
    step = parent.plan.steps[row.parent_step]
    outcome = iteration_outcome(row.status)
    counts = tx.loop_state(parent.row.pk, step.id)[0]
    counts.active -= 1
    if outcome == "succeeded":
        counts.succeeded += 1
    elif outcome == "failed":
        counts.failed += 1
    else:
        counts.other += 1
    if outcome == "failed" and step.on_failure == "fail_fast":
        stop_iterations(tx, parent, step.id)
    tx.loops_due.append((parent.row.pk, step.id))


def stop_iterations(tx: Transaction, t: Tracked, step_id: str) -> None:
    for child_pk in store_instances.live_children(tx.conn, t.row.pk, step_id):
        instance_transitions.halt_instance(tx, child_pk, Halt.STOPPED)


def _end_foreach(
    tx: Transaction, t: Tracked, step: StepPlan, counts: store_loops.LoopCounts
) -> None:
    status, error = foreach_result(
        failed=counts.failed,
        other=counts.other,
        ended=counts.ended,
        total=counts.total,
        halted=t.halt is not None,
        on_failure=step.on_failure,
    )
    cascade.end_step(tx, t, step, status, outputs={}, error=error)


def foreach_scope(tx: Transaction, t: Tracked, names: tuple[str, ...]) -> dict[str, Any]:
    """Namespaces for upstream foreach steps: ``backfill.load.rows`` is the list of the
    ``rows`` output of step ``load`` over the iterations, in iteration order."""
    scope: dict[str, Any] = {}
    for name in names:
        step = t.plan.steps.get(name)
        if step is None or step.foreach is None:
            continue
        per_step = store_loops.iteration_outputs(tx.conn, t.row.pk, name)
        inner_ids = list(step.foreach.inner.steps) or list(per_step)
        scope[name] = subworkflow.steps_namespace(
            name, {inner: _columns(per_step.get(inner, [])) for inner in inner_ids}
        )
    return scope


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    names = list(dict.fromkeys(itertools.chain.from_iterable(rows)))
    return {n: [r.get(n) for r in rows] for n in names}


def _resolve_over(
    over: dict[str, Any] | Any, scope: dict[str, Any], tx: Transaction
) -> dict[str, list[Any]]:
    resolved: dict[str, list[Any]] = {}
    for name, value in dict(over).items():
        items = resolve(value, scope, tx.budgets)
        if not isinstance(items, list):
            raise ExprError(
                f"foreach.over.{name}: must be a list to iterate over, not "
                f"{type(items).__name__} ({items!r})"
            )
        resolved[name] = items
    return resolved
