"""Workflows and versions: push, list, info, activate, deactivate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from fastapi import APIRouter, Request
from pydantic import BaseModel

from podium.api.context import Context
from podium.api.views import instance_summary, iso, workflow_summary
from podium.catalog import push_workflow
from podium.definition import load_workflow
from podium.errors import Conflict, InvalidInput, VersionNotFound
from podium.store import instances as store_instances
from podium.store import queue, runs
from podium.store import trigger_failures as store_failures
from podium.store import triggers as store_triggers
from podium.store import workflows as store_workflows
from podium.templates.registry import server_catalog
from podium.triggers import changes
from podium.triggers.cron import next_fire_times

router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"])


class PushBody(BaseModel):
    yaml: str
    active: bool = True


class ActivateBody(BaseModel):
    version: int | None = None


@router.post("", status_code=201)
def push(body: PushBody, request: Request, ctx: Context) -> dict[str, Any]:
    """Validate a definition and store it as the workflow's next version."""
    wf = load_workflow(body.yaml, source="request", templates=server_catalog(ctx.db))
    now = ctx.clock()
    pushed = push_workflow(
        ctx.db, wf, active=body.active, now=now, created_by=request.headers.get("x-podium-user")
    )
    return {
        "workflow_id": pushed.workflow_id,
        "version": pushed.version,
        "active": pushed.active,
        "created_at": iso(now),
    }


@router.get("")
def list_workflows(ctx: Context) -> dict[str, Any]:
    with ctx.db.read() as conn:
        rows = store_workflows.list_workflows(conn)
    return {"workflows": [workflow_summary(w) for w in rows]}


@router.get("/{workflow_id}")
def info(workflow_id: str, ctx: Context) -> dict[str, Any]:
    with ctx.db.read() as conn:
        wf = store_workflows.get_workflow(conn, workflow_id)
        version = store_workflows.get_version(
            conn, workflow_id, wf.active_version or wf.latest_version
        )
        recent = store_instances.list_instances(conn, workflow_id, limit=10)
        queued = store_instances.queued(conn, workflow_id, limit=20)
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


@router.get("/{workflow_id}/trigger-failures")
def trigger_failures(
    workflow_id: str, ctx: Context, trigger: str | None = None, limit: int = 20
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


@router.get("/{workflow_id}/versions")
def versions(workflow_id: str, ctx: Context) -> dict[str, Any]:
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


@router.get("/{workflow_id}/versions/{version}")
def version(workflow_id: str, version: str, ctx: Context) -> dict[str, Any]:
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


@router.post("/{workflow_id}/activate")
def activate(workflow_id: str, ctx: Context, body: ActivateBody | None = None) -> dict[str, Any]:
    """Make a version the active one (the latest when none is named): also the rollback."""
    with ctx.db.transaction() as conn:
        wf = store_workflows.get_workflow(conn, workflow_id)
        target = body.version if body and body.version is not None else wf.latest_version
        wf = store_workflows.set_active_version(conn, workflow_id, target, now=ctx.clock())
    changes.announce()
    return {
        "workflow_id": workflow_id,
        "active_version": wf.active_version,
        "latest_version": wf.latest_version,
    }


@router.post("/{workflow_id}/unblock")
def unblock(workflow_id: str, ctx: Context) -> dict[str, Any]:
    """strict_sequential: let the instances queued behind failed ones start."""
    with ctx.db.transaction() as conn:
        through = store_workflows.unblock(conn, workflow_id)
        for pk, _ in runs.queued_instances(conn, workflow_id, 1):
            queue.add_work(conn, [{"kind": "admit", "instance_pk": pk, "due_at": ctx.clock()}])
    ctx.on_work()
    return {"workflow_id": workflow_id, "unblocked_through": through}


@router.post("/{workflow_id}/deactivate")
def deactivate(workflow_id: str, ctx: Context) -> dict[str, Any]:
    with ctx.db.transaction() as conn:
        wf = store_workflows.set_active_version(conn, workflow_id, None, now=ctx.clock())
    changes.announce()
    return {"workflow_id": workflow_id, "active_version": None, "latest_version": wf.latest_version}


class HasVersions(Protocol):
    @property
    def workflow_id(self) -> str: ...
    @property
    def active_version(self) -> int | None: ...
    @property
    def latest_version(self) -> int: ...


def version_number(wf: HasVersions, version: int | str | None) -> int:
    """A version as a user names it (a number, ``active``, ``latest``) as a number."""
    if version is None or version == "active":
        if wf.active_version is None:
            raise Conflict(
                f"workflow {wf.workflow_id!r} is inactive; activate it or name a version "
                "(--version N or latest)"
            )
        return wf.active_version
    if version == "latest":
        return wf.latest_version
    try:
        number = int(version)
    except ValueError:
        raise InvalidInput(
            f"version must be a number, 'active' or 'latest', not {version!r}"
        ) from None
    if not 1 <= number <= wf.latest_version:
        raise VersionNotFound(
            f"workflow {wf.workflow_id!r} has versions 1 to {wf.latest_version}, not {number}"
        )
    return number
