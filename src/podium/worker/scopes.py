"""What a step's expressions see, and what its job receives."""

from __future__ import annotations

from typing import Any

from podium.engine import params, rules
from podium.engine.plan import StepPlan
from podium.expr import ExprError, Namespace
from podium.job_templates.registry import template_job
from podium.store import steps as store_steps
from podium.worker import foreach, subworkflow
from podium.worker.transaction import Tracked, Transaction


def scope(tx: Transaction, t: Tracked, step: StepPlan) -> dict[str, Any]:
    """The names ``step``'s expressions see. Inside an iteration, steps outside the
    foreach are read from the enclosing instances, and ``loop.index`` is its index."""
    local = [n for n in step.reads_outputs_of if n in t.plan.steps]
    upstream = store_steps.step_outputs(tx.conn, t.row.pk, local)
    outer = [n for n in step.reads_outputs_of if n not in t.plan.steps]
    if outer:
        upstream = {**store_steps.enclosing_outputs(tx.conn, t.row.parent_pk, outer), **upstream}
    names = params.step_scope(t.row.params, upstream, run=t.run(), signal=t.signal())
    names.update(foreach.foreach_scope(tx, t, tuple(local)))
    names.update(subworkflow.subworkflow_scope(tx, t, tuple(local)))
    if t.row.iteration is not None:
        names.setdefault("loop", Namespace({"index": t.row.iteration}, name="loop"))
    return names


def prepare(tx: Transaction, t: Tracked, step: StepPlan) -> tuple[dict[str, Any], str]:
    """The step's resolved params and script: what its job receives. Raises ExprError."""
    row = t.row
    names = scope(tx, t, step)
    own = params.resolve_step_params(step.params, names, tx.budgets)
    if "template" in step.job:
        return template_job(tx.conn, step.job["template"], own)
    script = params.render_script(step.script or "", names, tx.budgets, step.type)
    resolved = rules.step_params(row.params, own)
    too_big = params.env_problem(resolved)
    if too_big:
        raise ExprError(too_big)
    return resolved, script
