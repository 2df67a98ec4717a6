"""Restarting an ended instance: a new run that keeps what succeeded."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from podium.api.context import Context, Who, act
from podium.api.query import InstanceId
from podium.control import instances as control

router = APIRouter(prefix="/api/v1/workflows/{workflow_id}/instances", tags=["instances"])


class RestartBody(BaseModel):
    from_step: str | None = Field(default=None, alias="from")
    params: dict[str, Any] = Field(default_factory=dict)


@router.post("/{instance_id}/restart", openapi_extra=act("instance.restart"))
def restart(
    workflow_id: str,
    instance_id: InstanceId,
    ctx: Context,
    caller: Who,
    body: RestartBody | None = None,
) -> dict[str, Any]:
    """Rerun what did not succeed (or ``from`` a step and all downstream of it), keeping the
    outputs of the rest; ``params`` override the run's params. The instance's history (its
    attempts, their logs, its timeline) is kept."""
    body = body or RestartBody()
    request = control.RestartRequest(workflow_id, instance_id, body.from_step, body.params)
    done = control.restart(ctx, request, caller)
    return {
        "workflow_id": workflow_id,
        "instance_id": instance_id,
        "run": done.run,
        "status": done.status,
        "rerun": done.rerun,
        "iterations_rerun": done.iterations_rerun,
    }
