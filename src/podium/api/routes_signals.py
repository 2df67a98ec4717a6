"""Signals: announce one, list them; and skipping a step that waits."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, JsonValue

from podium.api.context import Context, ServerReader, Who, act
from podium.api.query import InstanceId
from podium.api.views import iso
from podium.control import instances as control_instances
from podium.control import signals as control
from podium.store import signals

router = APIRouter(prefix="/api/v1/signals", tags=["signals"])
skip_router = APIRouter(prefix="/api/v1/workflows/{workflow_id}/instances", tags=["instances"])


class SignalBody(BaseModel):
    name: str
    params: dict[str, JsonValue] = Field(default_factory=dict)
    request_id: str | None = Field(
        default=None,
        max_length=200,
        description="Announcing again with the same request id does nothing a second time",
    )


def signal_view(row: signals.SignalRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "seq": row.seq,
        "params": row.params,
        "request_id": row.request_id,
        "created_at": iso(row.created_at),
    }


@router.post("", status_code=201, openapi_extra=act("signal.announce"))
def announce(body: SignalBody, ctx: Context, caller: Who) -> dict[str, Any]:
    """Announce a signal: start the workflows whose signal trigger it completes, and let
    the steps waiting for it go on. ``failed`` lists the workflows it could not start
    (their params did not resolve) and why; the signal is stored all the same."""
    request = control.AnnounceRequest(body.name, body.params, body.request_id)
    done = control.announce(ctx, request, caller)
    return {
        **signal_view(done.signal),
        "duplicate": done.duplicate,
        "started": [{"workflow_id": wf, "instance_id": iid} for wf, iid in done.started],
        "failed": [
            {"workflow_id": f.workflow_id, "trigger": f.trigger, "reason": f.reason}
            for f in done.failed
        ],
        "released": len(done.released),
    }


@router.get("", openapi_extra=act("server.read"))
def list_signals(
    ctx: Context,
    _: ServerReader,
    name: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    """The latest signals (of one name), newest first."""
    with ctx.db.read() as conn:
        rows = signals.list_signals(conn, name, min(max(limit, 1), 1000))
    return {"signals": [signal_view(r) for r in rows]}


@skip_router.post("/{instance_id}/steps/{step_id}/skip", openapi_extra=act("step.skip"))
def skip(
    workflow_id: str, instance_id: InstanceId, step_id: str, ctx: Context, caller: Who
) -> dict[str, Any]:
    """Skip a step that waits (for signals, a permit or a resume at a breakpoint):
    it ends SKIPPED, and downstream treats it as skipped."""
    control_instances.skip(
        ctx, control_instances.StepRef(workflow_id, instance_id, step_id), caller
    )
    return {"workflow_id": workflow_id, "instance_id": instance_id, "step_id": step_id}
