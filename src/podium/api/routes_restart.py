"""Restarting an ended instance: a new run that keeps what succeeded."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from podium.api.context import Context
from podium.engine import params
from podium.engine.restart import plan_restart
from podium.engine.states import TERMINAL_INSTANCE
from podium.errors import Conflict
from podium.store import instances as store_instances
from podium.store import queue, runs

router = APIRouter(prefix="/api/v1/workflows/{workflow_id}/instances", tags=["instances"])


class RestartBody(BaseModel):
    from_step: str | None = Field(default=None, alias="from")
    params: dict[str, Any] = Field(default_factory=dict)


@router.post("/{instance_id}/restart")
def restart(
    workflow_id: str, instance_id: int, ctx: Context, body: RestartBody | None = None
) -> dict[str, Any]:
    """Rerun what did not succeed (or ``from`` a step and all downstream of it), keeping the
    outputs of the rest; ``params`` override the run's params. The instance's history (its
    attempts, their logs, its timeline) is kept."""
    body = body or RestartBody()
    with ctx.db.transaction() as conn:
        row = store_instances.find_instance(conn, workflow_id, instance_id)
        if row.status not in TERMINAL_INSTANCE:
            raise Conflict(
                f"instance {instance_id} of {workflow_id!r} is {row.status}: only an ended "
                "instance can be restarted (stop it first)"
            )
        plan = ctx.plan(conn, workflow_id, row.version)
        params.check_overrides(plan.params, body.params)
        decided = plan_restart(plan, runs.step_statuses(conn, row.pk), body.from_step)
        statuses = runs.step_statuses(conn, row.pk)
        loops = [s for s in decided.reset if plan.steps[s].foreach is not None]
        # A foreach that ran and did not succeed reruns only the iterations that did not
        # succeed, unless --from asked for it (and all downstream) to run again whole.
        partial = [
            s for s in loops if body.from_step is None and statuses.get(s) in _RAN_AND_FAILED
        ]
        run = runs.begin_new_run(
            conn,
            row.pk,
            params={**row.params, **body.params},
            steps_done=len(plan.steps) - len(decided.reset),
            reset={s: (decided.pending_deps[s], decided.live_deps[s]) for s in decided.reset},
            terminal=[s.value for s in TERMINAL_INSTANCE],
            loops=[s for s in loops if s not in partial],
        )
        if run is None:
            raise Conflict(f"instance {instance_id} of {workflow_id!r} is already running again")
        redo = {s: runs.redo_iterations(conn, row.pk, s, run) for s in partial}
        queue.add_work(conn, [{"kind": "restart", "instance_pk": row.pk, "due_at": ctx.clock()}])
    ctx.on_work()
    return {
        "workflow_id": workflow_id,
        "instance_id": instance_id,
        "run": run,
        "status": "IN_PROGRESS",
        "rerun": sorted(decided.reset, key=lambda s: plan.steps[s].position),
        "iterations_rerun": redo,
    }


_RAN_AND_FAILED = frozenset({"FAILED", "STOPPED", "TIMED_OUT", "COMPLETED_WITH_ERROR"})
