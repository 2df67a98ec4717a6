"""Workflows and versions: push, list, info, activate, deactivate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from podium.api.context import Context, Who, WorkflowReader, act
from podium.api.query import MAX_ID
from podium.api.views import instance_summary, iso, workflow_summary
from podium.control import workflows as control
from podium.control.access import global_role
from podium.control.workflows import version_number
from podium.store import access as store_access
from podium.store import admission as store_admission
from podium.store import instances as store_instances
from podium.store import trigger_failures as store_failures
from podium.store import triggers as store_triggers
from podium.store import workflows as store_workflows
from podium.timing.cron import next_fire_times

router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"])


class PushBody(BaseModel):
    yaml: str
    active: bool = True


class ActivateBody(BaseModel):
    version: int | None = Field(default=None, ge=1, le=MAX_ID)


@router.post("", status_code=201, openapi_extra=act("workflow.push"))
def push(body: PushBody, ctx: Context, caller: Who, http: Request) -> dict[str, Any]:
    """Validate a definition and store it as the workflow's next version."""
    now = ctx.clock()
    pushed = control.push(ctx, control.PushRequest(body.yaml, body.active), caller, now=now)
    http.app.state.authenticator.forget_grants()  # its owner and access: may have changed
    return {
        "workflow_id": pushed.workflow_id,
        "version": pushed.version,
        "active": pushed.active,
        "created_at": iso(now),
        "warnings": [w.as_dict() for w in pushed.warnings],
    }


@router.get("", openapi_extra=act("workflow.list"))
def list_workflows(ctx: Context, caller: Who) -> dict[str, Any]:
    """The workflows you may read (all of them with a global role)."""
    with ctx.db.read() as conn:
        rows = store_workflows.list_workflows(conn)
        if global_role(caller) is None:
            visible = store_access.visible_workflows(conn, caller.names)
            if caller.workflows is not None:
                visible &= caller.workflows
            rows = [r for r in rows if r.workflow_id in visible]
    return {"workflows": [workflow_summary(w) for w in rows]}


@router.get("/{workflow_id}", openapi_extra=act("workflow.read"))
def info(workflow_id: str, ctx: Context, _: WorkflowReader) -> dict[str, Any]:
    with ctx.db.read() as conn:
        wf = store_workflows.get_workflow(conn, workflow_id)
        version = store_workflows.get_version(
            conn, workflow_id, wf.active_version or wf.latest_version
        )
        recent = store_instances.list_instances(conn, workflow_id, limit=10)
        queued = store_admission.queued(conn, workflow_id, limit=20)
        stored = store_triggers.get_cron_trigger(conn, workflow_id)
        failures = store_failures.list_trigger_failures(
            conn, workflow_id, per_trigger=INFO_FAILURES_PER_TRIGGER
        )
    trigger = version.definition.get("trigger")
    fires: list[str] = []
    if stored is not None:
        # The stored trigger's pending tick first: what the scheduler will fire next.
        after = datetime.fromtimestamp(stored.next_fire_at - 1, UTC)
        times = next_fire_times(stored.cron, stored.timezone, after=after, count=5)
        fires = [t.isoformat() for t in times]
    elif trigger and trigger.get("cron") and wf.active_version is not None:
        times = next_fire_times(trigger["cron"], trigger.get("timezone") or "UTC", count=5)
        fires = [t.isoformat() for t in times]
    return {
        **workflow_summary(wf),
        "trigger": trigger,
        "next_fire_times": fires,
        "trigger_failures": [trigger_failure_view(f) for f in failures],
        "instances": [instance_summary(r) for r in recent],
        "run_strategy": version.definition.get("run_strategy") or "parallel",
        "queued": [{"instance_id": q.instance_id, "waiting": q.waiting} for q in queued],
        "ui_url": None,  # the web UI arrives in a later release
    }


INFO_FAILURES_PER_TRIGGER = 5


def trigger_failure_view(failure: store_failures.TriggerFailure) -> dict[str, Any]:
    """A start a trigger could not make: which trigger, when, for which version, why, and
    what it fired with (the tick of a cron trigger, the signals of a group)."""
    detail = dict(failure.detail)
    view: dict[str, Any] = {
        "trigger": failure.trigger,
        "at": iso(failure.at),
        "version": failure.version,
        "reason": failure.reason,
    }
    if "scheduled_at" in detail:
        view["scheduled_at"] = iso(float(detail["scheduled_at"]))
    if "signals" in detail:
        view["signals"] = detail["signals"]
    return view


@router.get("/{workflow_id}/trigger-failures", openapi_extra=act("workflow.read"))
def trigger_failures(
    workflow_id: str,
    ctx: Context,
    _: WorkflowReader,
    trigger: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
) -> dict[str, Any]:
    """The last starts each trigger of the workflow could not make (``trigger``: only
    ``cron`` or ``signals[N]``), newest first; at most ``limit`` per trigger."""
    with ctx.db.read() as conn:
        store_workflows.get_workflow(conn, workflow_id)
        failures = store_failures.list_trigger_failures(
            conn,
            workflow_id,
            trigger=trigger,
            per_trigger=min(max(limit, 1), store_failures.KEEP_PER_TRIGGER),
        )
    return {"trigger_failures": [trigger_failure_view(f) for f in failures]}


@router.get("/{workflow_id}/versions", openapi_extra=act("workflow.read"))
def versions(workflow_id: str, ctx: Context, _: WorkflowReader) -> dict[str, Any]:
    with ctx.db.read() as conn:
        wf = store_workflows.get_workflow(conn, workflow_id)
        rows = store_workflows.list_versions(conn, workflow_id)
    return {
        "versions": [
            {
                "version": v,
                "created_at": iso(at),
                "created_by": by,
                "active": v == wf.active_version,
            }
            for v, at, by in rows
        ]
    }


@router.get("/{workflow_id}/versions/{version}", openapi_extra=act("workflow.read"))
def version(workflow_id: str, version: str, ctx: Context, _: WorkflowReader) -> dict[str, Any]:
    with ctx.db.read() as conn:
        wf = store_workflows.get_workflow(conn, workflow_id)
        row = store_workflows.get_version(conn, workflow_id, version_number(wf, version))
    return {
        "workflow_id": workflow_id,
        "version": row.version,
        "yaml": row.canonical_yaml,
        "created_at": iso(row.created_at),
        "created_by": row.created_by,
        "active": row.version == wf.active_version,
    }


@router.post("/{workflow_id}/activate", openapi_extra=act("workflow.activate"))
def activate(
    workflow_id: str, ctx: Context, caller: Who, body: ActivateBody | None = None
) -> dict[str, Any]:
    """Make a version the active one (the latest when none is named): also the rollback."""
    done = control.activate(ctx, workflow_id, caller, body.version if body else None)
    return {
        "workflow_id": workflow_id,
        "active_version": done.active_version,
        "latest_version": done.latest_version,
    }


@router.post("/{workflow_id}/unblock", openapi_extra=act("workflow.unblock"))
def unblock(workflow_id: str, ctx: Context, caller: Who) -> dict[str, Any]:
    """strict_sequential: let the instances queued behind failed ones start."""
    through = control.unblock(ctx, workflow_id, caller)
    return {"workflow_id": workflow_id, "unblocked_through": through}


@router.post("/{workflow_id}/deactivate", openapi_extra=act("workflow.deactivate"))
def deactivate(workflow_id: str, ctx: Context, caller: Who) -> dict[str, Any]:
    done = control.deactivate(ctx, workflow_id, caller)
    return {
        "workflow_id": workflow_id,
        "active_version": None,
        "latest_version": done.latest_version,
    }
