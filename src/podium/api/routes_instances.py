"""Instances: start, list, status, stop, logs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from podium.api.context import Context
from podium.api.routes_workflows import version_number
from podium.api.views import instance_summary, pending_step_view, step_view
from podium.engine.rules import run_params
from podium.engine.states import TERMINAL_INSTANCE
from podium.errors import StepNotFound
from podium.jobs import read_log
from podium.store import instances as store_instances
from podium.store import workflows as store_workflows

router = APIRouter(prefix="/api/v1/workflows/{workflow_id}/instances", tags=["instances"])


class RunBody(BaseModel):
    version: int | str | None = None
    params: dict[str, Any] = Field(default_factory=dict)


@router.post("", status_code=201)
def start(workflow_id: str, ctx: Context, body: RunBody | None = None) -> dict[str, Any]:
    """Write the instance and its start row; any worker takes it from there."""
    body = body or RunBody()
    with ctx.db.transaction() as conn:
        numbered = store_instances.number_instance(conn, workflow_id)
        number = version_number(numbered, body.version)
        instance_id = numbered.instance_id
        store_instances.create_instance(
            conn,
            workflow_id=workflow_id,
            instance_id=instance_id,
            version=number,
            params=run_params(ctx.param_defaults(conn, workflow_id, number), body.params),
            trigger={"type": "manual"},
            now=ctx.clock(),
        )
    ctx.on_work()
    return {
        "workflow_id": workflow_id,
        "instance_id": instance_id,
        "version": number,
        "status": "CREATED",
    }


@router.get("")
def list_instances(
    workflow_id: str, ctx: Context, limit: int = 50, before: int | None = None
) -> dict[str, Any]:
    with ctx.db.read() as conn:
        store_workflows.get_workflow(conn, workflow_id)
        rows = store_instances.list_instances(
            conn, workflow_id, limit=min(limit, 1000), before=before
        )
    return {"instances": [instance_summary(r) for r in rows]}


@router.get("/{instance_id}")
def status(workflow_id: str, instance_id: int, ctx: Context) -> dict[str, Any]:
    with ctx.db.read() as conn:
        row = store_instances.find_instance(conn, workflow_id, instance_id)
        definition = store_workflows.get_version(conn, workflow_id, row.version).definition
        step_rows = store_instances.instance_steps(conn, row.pk)
    types = {s["id"]: s.get("type") or "noop" for s in definition["steps"]}
    if step_rows:
        steps = [step_view(s, types.get(s.step_id, "noop")) for s in step_rows]
    else:
        steps = [pending_step_view(s) for s in definition["steps"]]
    return {
        **instance_summary(row),
        "params": row.params,
        "trigger": row.trigger,
        "error": row.error,
        "steps": steps,
    }


@router.post("/{instance_id}/stop")
def stop(workflow_id: str, instance_id: int, ctx: Context) -> dict[str, Any]:
    """Record a stop; the engine kills running jobs and ends the instance STOPPED."""
    with ctx.db.transaction() as conn:
        row = store_instances.find_instance(conn, workflow_id, instance_id)
        live = row.status not in TERMINAL_INSTANCE
        if live:
            store_instances.request_stop(conn, row.pk, now=ctx.clock())
    ctx.on_work()
    return {
        "workflow_id": workflow_id,
        "instance_id": instance_id,
        "status": row.status,
        "stop_requested": live,
    }


@router.get("/{instance_id}/steps/{step_id}/logs")
def logs(
    workflow_id: str,
    instance_id: int,
    step_id: str,
    ctx: Context,
    offset: int = 0,
    attempt: int | None = None,
) -> dict[str, Any]:
    """A piece of a step's log from ``offset``; ``complete`` once the attempt ended and all
    of its log was returned."""
    with ctx.db.read() as conn:
        row = store_instances.find_instance(conn, workflow_id, instance_id)
        found = store_instances.find_attempt(conn, row.pk, step_id, attempt)
        definition = store_workflows.get_version(conn, workflow_id, row.version).definition
    if found is None:
        if not any(s["id"] == step_id for s in definition["steps"]):
            raise StepNotFound(f"instance {instance_id} of {workflow_id!r} has no step {step_id!r}")
        empty = {"text": "", "offset": offset, "next_offset": offset, "attempt": None}
        return {**empty, "complete": row.status in TERMINAL_INSTANCE}
    text, next_offset = read_log(Path(found.attempt_dir), offset)
    return {
        "text": text,
        "offset": offset,
        "next_offset": next_offset,
        "attempt": found.attempt,
        "complete": found.ended and text == "",
    }
