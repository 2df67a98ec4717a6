"""Subworkflow steps: the step starts an instance of another workflow and ends with it.

The child is an instance of its own workflow (numbered, listed and followed there), linked
both ways: its trigger names the parent, the parent step's params name the child. Depth is
limited so that a workflow calling itself cannot run away.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from podium.engine import params
from podium.engine.children import subworkflow_result
from podium.engine.plan import StepPlan, SubworkflowRef
from podium.engine.states import InstanceStatus, StepStatus
from podium.engine.topics import Topic
from podium.errors import PodiumError
from podium.expr import ExprError, Namespace, resolve
from podium.store import instances as store_instances
from podium.store import loops as store_loops
from podium.store import steps as store_steps
from podium.worker import cascade, instance_transitions, scopes

if TYPE_CHECKING:
    from podium.worker.transaction import Tracked, Transaction

MAX_DEPTH = 10


def begin_subworkflow(tx: Transaction, t: Tracked, step: StepPlan) -> None:
    assert step.subworkflow is not None
    ref = step.subworkflow
    try:
        scope = scopes.scope(tx, t, step)
        params.resolve_step_params(step.params, scope, tx.budgets)
        overrides = resolve(dict(ref.params), scope, tx.budgets)
        child = child_values(tx, t, step, ref, overrides)
    except (ExprError, PodiumError) as exc:
        cascade.inputs_failed(tx, t, step, 1, ExprError(f"subworkflow: {exc.message}"))
        return
    version, child_id = child["version"], child["instance_id"]
    secret = tx.load_plan(tx.conn, ref.workflow, version).secret_params
    child_pk = tx.create_children(t, [child], secret)[0]
    link = {
        "workflow": ref.workflow,
        "version": version,
        "instance_id": child_id,
        "params": overrides,
    }
    store_steps.update_step(
        tx.conn,
        t.row.pk,
        step.id,
        expect=("CREATED", "PAUSED", "WAITING_FOR_SIGNALS"),
        status=StepStatus.RUNNING,
        attempt=1,
        params=t.shown(link),
        started_at=tx.now,
    )
    tx.event(t, step.id, Topic.STEP_STATUS, {"status": "RUNNING", "subworkflow": link})
    instance_transitions.start_instance(tx, child_pk)


def iteration_children(
    tx: Transaction,
    t: Tracked,
    step: StepPlan,
    indices: list[int],
    over: dict[str, list[Any]],
    base: dict[str, Any],
    counts: store_loops.LoopCounts,
) -> list[dict[str, Any]]:
    """The child instances of a foreach that runs a workflow per iteration. An iteration whose
    instance cannot be made (an unknown workflow, params it refuses) counts as failed."""
    from podium.worker.foreach import iteration_values

    assert step.foreach is not None and step.foreach.subworkflow is not None
    ref = step.foreach.subworkflow
    children = []
    for index in indices:
        values = iteration_values(over, index)
        scope = {
            **scopes.scope(tx, t, step),
            **base,
            **values,
            "loop": Namespace({"index": index}, name="loop"),
        }
        try:
            overrides = resolve(dict(ref.params), scope, tx.budgets)
            children.append(child_values(tx, t, step, ref, overrides, index))
        except (ExprError, PodiumError) as exc:
            counts.failed += 1
            tx.event(
                t,
                step.id,
                Topic.STEP_ITERATION_FAILED,
                {"iteration": index, "message": f"subworkflow: {exc.message}"},
            )
    return children


def child_values(
    tx: Transaction,
    t: Tracked,
    step: StepPlan,
    ref: SubworkflowRef,
    overrides: dict[str, Any],
    iteration: int | None = None,
) -> dict[str, Any]:
    """The row of a child instance of workflow ``ref``: numbered in its own workflow, its
    params checked against that workflow's declarations, its trigger naming the parent."""
    depth = int(t.row.trigger.get("depth", 0)) + 1
    if depth > MAX_DEPTH:
        raise ExprError(
            f"subworkflow depth limit ({MAX_DEPTH}) reached: {ref.workflow!r} would run "
            f"{depth} levels deep; does a workflow call itself?"
        )
    numbered = store_instances.number_instance(tx.conn, ref.workflow)
    version = _version(numbered, ref.version)
    parent = {
        "workflow_id": t.row.workflow_id,
        "instance_id": t.row.instance_id,
        "step_id": step.id,
    }
    if iteration is not None:
        parent["iteration"] = iteration
    trigger = {"type": "subworkflow", "depth": depth, "parent": parent}
    run = params.run_namespace(
        workflow_id=ref.workflow,
        instance_id=numbered.instance_id,
        version=version,
        trigger=trigger,
        at=tx.now,
    )
    plan = tx.load_plan(tx.conn, ref.workflow, version)
    return {
        "workflow_id": ref.workflow,
        "instance_id": numbered.instance_id,
        "version": version,
        "status": InstanceStatus.CREATED.value,
        "params": params.resolve_run_params(
            plan.params,
            overrides,
            run=run,
            signal=params.signal_namespace(trigger),
            budgets=tx.budgets,
        ),
        "trigger": trigger,
        # A subworkflow runs as its caller: whoever may start the parent runs its children.
        "started_by": t.row.started_by,
        "run_as": t.row.run_as,
        "created_at": tx.now,
        "parent_pk": t.row.pk,
        "parent_step": step.id,
        "iteration": iteration,
        "plan_path": "",
        "tags": tx.child_tags(t, step),
    }


def _version(numbered: store_instances.Numbered, wanted: str | int) -> int:
    if wanted == "latest":
        return numbered.latest_version
    if wanted == "active":
        if numbered.active_version is None:
            raise ExprError(f"workflow {numbered.workflow_id!r} is inactive: activate it")
        return numbered.active_version
    number = int(wanted)
    if not 1 <= number <= numbered.latest_version:
        raise ExprError(f"workflow {numbered.workflow_id!r} has no version {number}")
    return number


def subworkflow_ended(tx: Transaction, child: Tracked) -> None:
    """The child ended: its parent step ends with it, its steps' outputs handed on."""
    row = child.row
    assert row.parent_pk is not None and row.parent_step is not None
    parent = tx.instance(row.parent_pk)
    if parent is None:
        return
    step = parent.plan.steps[row.parent_step]
    outputs = store_steps.step_outputs(tx.conn, row.pk, list(child.plan.steps))
    kept = {step_id: values for step_id, values in outputs.items() if values}
    where = f"subworkflow {row.workflow_id!r} instance {row.instance_id}"
    status, error = subworkflow_result(
        child_status=row.status, child_error=row.error, where=where, on_failure=step.on_failure
    )
    cascade.end_step(tx, parent, step, status, outputs=kept, error=error)


def subworkflow_scope(tx: Transaction, t: Tracked, names: tuple[str, ...]) -> dict[str, Any]:
    """``report.send.id``: the output ``id`` of step ``send`` of the subworkflow of ``report``."""
    scope: dict[str, Any] = {}
    wanted = [n for n in names if (s := t.plan.steps.get(n)) is not None and s.subworkflow]
    for name, outputs in store_steps.step_outputs(tx.conn, t.row.pk, wanted).items():
        scope[name] = steps_namespace(name, outputs)
    return scope


def steps_namespace(name: str, outputs: dict[str, dict[str, Any]]) -> Namespace:
    """``name.STEP.OUTPUT``: the outputs of the steps inside a foreach or a subworkflow."""
    return Namespace(
        {
            inner: Namespace(dict(values), name=f"{name}.{inner}", member="output")
            for inner, values in outputs.items()
        },
        name=name,
        member="step",
    )
