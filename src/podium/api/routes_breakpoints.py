"""Breakpoints: pause a step before it runs; resume it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from podium.api.context import Context, Who, WorkflowReader, act
from podium.api.query import MAX_ID, InstanceId, OptionalInstance
from podium.api.views import iso
from podium.control import breakpoints as control
from podium.control.instances import StepRef
from podium.store import breakpoints as store_breakpoints
from podium.store import workflows as store_workflows

router = APIRouter(prefix="/api/v1/workflows/{workflow_id}", tags=["breakpoints"])


class BreakpointBody(BaseModel):
    step_id: str
    instance_id: int | None = Field(default=None, ge=1, le=MAX_ID)


@router.get("/breakpoints", openapi_extra=act("workflow.read"))
def list_breakpoints(workflow_id: str, ctx: Context, _: WorkflowReader) -> dict[str, Any]:
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


@router.post("/breakpoints", status_code=201, openapi_extra=act("breakpoint.set"))
def set_breakpoint(
    workflow_id: str, body: BreakpointBody, ctx: Context, caller: Who
) -> dict[str, Any]:
    """Pause ``step_id`` before it runs: in every future instance, or in one instance."""
    request = control.BreakpointRequest(workflow_id, body.step_id, body.instance_id)
    added = control.set_breakpoint(ctx, request, caller)
    return {
        "workflow_id": workflow_id,
        "step_id": body.step_id,
        "instance_id": body.instance_id,
        "added": added,
    }


@router.delete("/breakpoints/{step_id}", openapi_extra=act("breakpoint.clear"))
def clear_breakpoint(
    workflow_id: str, step_id: str, ctx: Context, caller: Who, instance_id: OptionalInstance = None
) -> dict[str, Any]:
    """Remove a breakpoint; steps already paused stay paused until resumed."""
    request = control.BreakpointRequest(workflow_id, step_id, instance_id)
    removed = control.clear_breakpoint(ctx, request, caller)
    return {
        "workflow_id": workflow_id,
        "step_id": step_id,
        "instance_id": instance_id,
        "removed": removed,
    }


@router.post("/instances/{instance_id}/steps/{step_id}/resume", openapi_extra=act("step.resume"))
def resume(
    workflow_id: str, instance_id: InstanceId, step_id: str, ctx: Context, caller: Who
) -> dict[str, Any]:
    control.resume(ctx, StepRef(workflow_id, instance_id, step_id), caller)
    return {
        "workflow_id": workflow_id,
        "instance_id": instance_id,
        "step_id": step_id,
        "resumed": True,
    }
