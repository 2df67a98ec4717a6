"""Breakpoints: pause a step before it runs; resume it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from podium.api.context import Context
from podium.api.views import iso
from podium.errors import Conflict, StepNotFound
from podium.store import breakpoints as store_breakpoints
from podium.store import instances as store_instances
from podium.store import queue
from podium.store import workflows as store_workflows

router = APIRouter(prefix="/api/v1/workflows/{workflow_id}", tags=["breakpoints"])


class BreakpointBody(BaseModel):
    step_id: str
    instance_id: int | None = None


@router.get("/breakpoints")
def list_breakpoints(workflow_id: str, ctx: Context) -> dict[str, Any]:
    with ctx.db.read() as conn:
        store_workflows.get_workflow(conn, workflow_id)
        rows = store_breakpoints.list_breakpoints(conn, workflow_id)
    return {
        "workflow_id": workflow_id,
        "breakpoints": [
            {
                "step_id": r.step_id,
                "instance_id": r.instance_id or None,
                "created_at": iso(r.created_at),
            }
            for r in rows
        ],
    }


@router.post("/breakpoints", status_code=201)
def set_breakpoint(workflow_id: str, body: BreakpointBody, ctx: Context) -> dict[str, Any]:
    """Pause ``step_id`` before it runs: in every future instance, or in one instance."""
    with ctx.db.transaction() as conn:
        wf = store_workflows.get_workflow(conn, workflow_id)
        version = wf.active_version or wf.latest_version
        if body.instance_id is not None:
            version = store_instances.find_instance(conn, workflow_id, body.instance_id).version
        definition = store_workflows.get_version(conn, workflow_id, version).definition
        known = [s["id"] for s in definition["steps"]]
        if body.step_id not in known:
            raise StepNotFound(
                f"workflow {workflow_id!r} (version {version}) has no step {body.step_id!r}; "
                f"its steps: {', '.join(known)}"
            )
        added = store_breakpoints.set_breakpoint(
            conn, workflow_id, body.step_id, body.instance_id, now=ctx.clock()
        )
    return {
        "workflow_id": workflow_id,
        "step_id": body.step_id,
        "instance_id": body.instance_id,
        "added": added,
    }


@router.delete("/breakpoints/{step_id}")
def clear_breakpoint(
    workflow_id: str, step_id: str, ctx: Context, instance_id: int | None = None
) -> dict[str, Any]:
    """Remove a breakpoint; steps already paused stay paused until resumed."""
    with ctx.db.transaction() as conn:
        store_workflows.get_workflow(conn, workflow_id)
        removed = store_breakpoints.clear_breakpoint(conn, workflow_id, step_id, instance_id)
    return {
        "workflow_id": workflow_id,
        "step_id": step_id,
        "instance_id": instance_id,
        "removed": removed,
    }


@router.post("/instances/{instance_id}/steps/{step_id}/resume")
def resume(workflow_id: str, instance_id: int, step_id: str, ctx: Context) -> dict[str, Any]:
    with ctx.db.transaction() as conn:
        row = store_instances.find_instance(conn, workflow_id, instance_id)
        status = store_breakpoints.step_status(conn, row.pk, step_id)
        if status is None:
            raise StepNotFound(f"instance {instance_id} of {workflow_id!r} has no step {step_id!r}")
        if status != "PAUSED":
            raise Conflict(f"step {step_id!r} is {status}, not PAUSED: there is nothing to resume")
        now = ctx.clock()
        queue.add_work(
            conn, [{"kind": "resume", "instance_pk": row.pk, "step_id": step_id, "due_at": now}]
        )
    ctx.on_work()
    return {
        "workflow_id": workflow_id,
        "instance_id": instance_id,
        "step_id": step_id,
        "resumed": True,
    }
