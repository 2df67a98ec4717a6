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
from podium.engine.plan import StepPlan
from podium.engine.states import ErrorKind, Halt, InstanceStatus, StepStatus
from podium.expr import ExprError, resolve
from podium.store import runs
from podium.worker import subworkflow

if TYPE_CHECKING:
    from podium.worker.advance import Advance, _Tracked

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


def begin_foreach(a: Advance, t: _Tracked, step: StepPlan) -> None:
    assert step.foreach is not None
    state = runs.loop_state(a.conn, t.row.pk, step.id)
    if state[0].redo is not None:  # a restart: the same items, only those to redo
        runs.resume_foreach(a.conn, t.row.pk, step.id, now=a.now)
        a.loops[(t.row.pk, step.id)] = state
        a._event(t, step.id, "step.status", {"status": "RUNNING", "redo": len(state[0].redo)})
        a._loops.append((t.row.pk, step.id))
        return
    try:
        scope = a._scope(t, step)
        own = params.resolve_step_params(step.params, scope, a.budgets)
        over = _resolve_over(step.foreach.over, scope, a)
    except ExprError as exc:
        a._inputs_failed(t, step, 1, exc)
        return
    total = math.prod(len(items) for items in over.values())
    runs.begin_foreach(a.conn, t.row.pk, step.id, params=own, over=over, total=total, now=a.now)
    a._event(t, step.id, "step.status", {"status": "RUNNING", "iterations": total})
    a._loops.append((t.row.pk, step.id))


def top_up_loop(a: Advance, pk: int, step_id: str) -> None:
    """Launch iterations while slots are free, or end the foreach once all have ended."""
    t = a.instance(pk)
    if t is None or t.row.status not in (InstanceStatus.IN_PROGRESS, InstanceStatus.PAUSED):
        return
    step = t.plan.steps[step_id]
    assert step.foreach is not None
    counts, over, own = loop_state(a, pk, step_id)
    failing = t.halt is not None or (counts.failed > 0 and step.on_failure != "ignore")
    if not failing and counts.launched < counts.planned:
        limit = step.foreach.concurrency or t.plan.step_concurrency
        budget = ITERATIONS_PER_TRANSACTION - a._iterations_launched
        count = min(limit - counts.active, counts.planned - counts.launched, budget)
        if count > 0:
            _launch_iterations(a, t, step, counts.launched, count, over, own)
        elif budget <= 0 and counts.active < limit:
            _continue_later(a, pk, step_id)
        return
    if counts.active == 0:
        _end_foreach(a, t, step, counts)


def _launch_iterations(
    a: Advance,
    t: _Tracked,
    step: StepPlan,
    first: int,
    count: int,
    over: dict[str, list[Any]],
    own: dict[str, Any],
) -> None:
    counts = loop_state(a, t.row.pk, step.id)[0]
    row = t.row
    path = f"{row.plan_path}.{step.id}".lstrip(".")
    base = {**row.params, **own}
    indices = [counts.index(k) for k in range(first, first + count)]
    counts.launched += count
    a._iterations_launched += count
    if step.foreach is not None and step.foreach.subworkflow is not None:
        children = subworkflow.iteration_children(a, t, step, indices, over, base, counts)
    else:
        children = [
            {
                "workflow_id": row.workflow_id,
                "instance_id": row.instance_id,
                "version": row.version,
                "status": InstanceStatus.CREATED.value,
                "params": {**base, **iteration_values(over, index)},
                "trigger": row.trigger,
                "created_at": a.now,
                "parent_pk": row.pk,
                "parent_step": step.id,
                "iteration": index,
                "plan_path": path,
                "tags": a.child_tags(t, step),
            }
            for index in indices
        ]
    if not children:
        return
    pks = runs.create_child_instances(a.conn, children)
    counts.active += len(children)
    for pk, child in zip(pks, children, strict=True):
        a.adopt_child(pk, child, t)
        a.start_instance(pk)


def loop_state(
    a: Advance, pk: int, step_id: str
) -> tuple[runs.LoopCounts, dict[str, list[Any]], dict[str, Any]]:
    """A foreach step's counts, read once per transaction and written back by ``flush``."""
    key = (pk, step_id)
    state = a.loops.get(key)
    if state is None:
        state = a.loops[key] = runs.loop_state(a.conn, pk, step_id)
    return state


def _continue_later(a: Advance, pk: int, step_id: str) -> None:
    if (pk, step_id) not in a._more_requested:
        a._more_requested.add((pk, step_id))
        a._work.append(
            {"kind": "foreach_more", "instance_pk": pk, "step_id": step_id, "due_at": a.now}
        )


def iteration_ended(a: Advance, child: _Tracked) -> None:
    """A child instance ended: count it on its foreach step, then top the loop up."""
    row = child.row
    assert row.parent_pk is not None and row.parent_step is not None
    parent = a.instance(row.parent_pk)
    if parent is None:
        return
    step = parent.plan.steps[row.parent_step]
    outcome = {
        InstanceStatus.SUCCEEDED.value: "succeeded",
        InstanceStatus.FAILED.value: "failed",
        InstanceStatus.TIMED_OUT.value: "failed",
    }.get(row.status, "other")
    counts = loop_state(a, parent.row.pk, step.id)[0]
    counts.active -= 1
    if outcome == "succeeded":
        counts.succeeded += 1
    elif outcome == "failed":
        counts.failed += 1
    else:
        counts.other += 1
    if outcome == "failed" and step.on_failure == "fail_fast":
        stop_iterations(a, parent, step.id)
    a._loops.append((parent.row.pk, step.id))


def stop_iterations(a: Advance, t: _Tracked, step_id: str) -> None:
    for child_pk in runs.live_children(a.conn, t.row.pk, step_id):
        a.halt_instance(child_pk, Halt.STOPPED)


def _end_foreach(a: Advance, t: _Tracked, step: StepPlan, counts: runs.LoopCounts) -> None:
    if counts.failed:
        status = (
            StepStatus.COMPLETED_WITH_ERROR if step.on_failure == "ignore" else StepStatus.FAILED
        )
        message = f"{counts.failed} of {counts.total} iterations failed"
        error = {"kind": ErrorKind.USER.value, "message": message}
    elif t.halt is not None or counts.other or counts.ended < counts.total:
        status, error = (
            StepStatus.STOPPED,
            {"kind": ErrorKind.STOPPED.value, "message": "its iterations were stopped"},
        )
    else:
        status, error = StepStatus.SUCCEEDED, None
    a._end_step(t, step, status, outputs={}, error=error)


def foreach_scope(a: Advance, t: _Tracked, names: tuple[str, ...]) -> dict[str, Any]:
    """Namespaces for upstream foreach steps: ``backfill.load.rows`` is the list of the
    ``rows`` output of step ``load`` over the iterations, in iteration order."""
    scope: dict[str, Any] = {}
    for name in names:
        step = t.plan.steps.get(name)
        if step is None or step.foreach is None:
            continue
        per_step = runs.iteration_outputs(a.conn, t.row.pk, name)
        inner_ids = list(step.foreach.inner.steps) or list(per_step)
        scope[name] = subworkflow.steps_namespace(
            name, {inner: _columns(per_step.get(inner, [])) for inner in inner_ids}
        )
    return scope


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    names = list(dict.fromkeys(itertools.chain.from_iterable(rows)))
    return {n: [r.get(n) for r in rows] for n in names}


def _resolve_over(
    over: dict[str, Any] | Any, scope: dict[str, Any], advance: Advance
) -> dict[str, list[Any]]:
    resolved: dict[str, list[Any]] = {}
    for name, value in dict(over).items():
        items = resolve(value, scope, advance.budgets)
        if not isinstance(items, list):
            raise ExprError(
                f"foreach.over.{name}: must be a list to iterate over, not "
                f"{type(items).__name__} ({items!r})"
            )
        resolved[name] = items
    return resolved
