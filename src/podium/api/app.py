"""The HTTP gateway: the only door for the CLI and the UI.

It writes through the store in short transactions and never runs the engine itself; a
started instance is a row and a queue entry, which any worker picks up, so the engine
keeps going while the API is down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from podium import __version__
from podium.api.views import (
    instance_summary,
    iso,
    pending_step_view,
    step_view,
    workflow_summary,
)
from podium.catalog import push_workflow
from podium.definition import load_workflow
from podium.engine.rules import run_params
from podium.engine.states import TERMINAL_INSTANCE
from podium.errors import Conflict, InvalidInput, PodiumError, StepNotFound, VersionNotFound
from podium.jobs import read_log
from podium.store import instances as store_instances
from podium.store import workflows as store_workflows
from podium.store.database import Database
from podium.triggers.cron import next_fire_times

log = logging.getLogger("podium.api")


class PushBody(BaseModel):
    yaml: str
    active: bool = True


class ActivateBody(BaseModel):
    version: int | None = None


class RunBody(BaseModel):
    version: int | str | None = None
    params: dict[str, Any] = Field(default_factory=dict)


def create_app(
    db: Database,
    *,
    on_work: Callable[[], None] = lambda: None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    app = FastAPI(title="Podium", version=__version__, description="Podium's REST API.")

    @app.exception_handler(PodiumError)
    async def podium_error(_: Request, exc: PodiumError) -> JSONResponse:
        return _error(exc.http_status, exc.code, exc.message, exc.details)

    @app.exception_handler(Exception)
    async def internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("request failed", extra={"event": "api.error"})
        return _error(500, "internal_error", f"the server failed: {exc}", {})

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"location": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in exc.errors()
        ]
        return _error(400, "invalid_input", "the request is not valid", {"problems": problems})

    @app.get("/api/v1/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    @app.post("/api/v1/workflows", status_code=201)
    def push(body: PushBody, request: Request) -> dict[str, Any]:
        wf = load_workflow(body.yaml, source="request")
        now = clock()
        pushed = push_workflow(
            db, wf, active=body.active, now=now, created_by=request.headers.get("x-podium-user")
        )
        return {
            "workflow_id": pushed.workflow_id,
            "version": pushed.version,
            "active": pushed.active,
            "created_at": iso(now),
        }

    @app.get("/api/v1/workflows")
    def list_workflows() -> dict[str, Any]:
        with db.read() as conn:
            rows = store_workflows.list_workflows(conn)
        return {"workflows": [workflow_summary(w) for w in rows]}

    @app.get("/api/v1/workflows/{workflow_id}")
    def info(workflow_id: str) -> dict[str, Any]:
        with db.read() as conn:
            wf = store_workflows.get_workflow(conn, workflow_id)
            version = store_workflows.get_version(
                conn, workflow_id, wf.active_version or wf.latest_version
            )
            recent = store_instances.list_instances(conn, workflow_id, limit=10)
        trigger = version.definition.get("trigger")
        fires: list[str] = []
        if trigger and trigger.get("cron") and wf.active_version is not None:
            times = next_fire_times(trigger["cron"], trigger.get("timezone") or "UTC", count=5)
            fires = [t.isoformat() for t in times]
        return {
            **workflow_summary(wf),
            "trigger": trigger,
            "trigger_runs": False,
            "next_fire_times": fires,
            "instances": [instance_summary(r) for r in recent],
            "ui_url": None,  # the web UI arrives in a later release
        }

    @app.get("/api/v1/workflows/{workflow_id}/versions")
    def versions(workflow_id: str) -> dict[str, Any]:
        with db.read() as conn:
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

    @app.get("/api/v1/workflows/{workflow_id}/versions/{version}")
    def version(workflow_id: str, version: str) -> dict[str, Any]:
        with db.read() as conn:
            wf = store_workflows.get_workflow(conn, workflow_id)
            number = _version_number(wf, version)
            row = store_workflows.get_version(conn, workflow_id, number)
        return {
            "workflow_id": workflow_id,
            "version": row.version,
            "yaml": row.canonical_yaml,
            "created_at": iso(row.created_at),
            "created_by": row.created_by,
            "active": row.version == wf.active_version,
        }

    @app.post("/api/v1/workflows/{workflow_id}/activate")
    def activate(workflow_id: str, body: ActivateBody | None = None) -> dict[str, Any]:
        with db.transaction() as conn:
            wf = store_workflows.get_workflow(conn, workflow_id)
            target = body.version if body and body.version is not None else wf.latest_version
            wf = store_workflows.set_active_version(conn, workflow_id, target, now=clock())
        return {
            "workflow_id": workflow_id,
            "active_version": wf.active_version,
            "latest_version": wf.latest_version,
        }

    @app.post("/api/v1/workflows/{workflow_id}/deactivate")
    def deactivate(workflow_id: str) -> dict[str, Any]:
        with db.transaction() as conn:
            wf = store_workflows.set_active_version(conn, workflow_id, None, now=clock())
        return {
            "workflow_id": workflow_id,
            "active_version": None,
            "latest_version": wf.latest_version,
        }

    @app.post("/api/v1/workflows/{workflow_id}/instances", status_code=201)
    def start(workflow_id: str, body: RunBody | None = None) -> dict[str, Any]:
        body = body or RunBody()
        now = clock()
        with db.transaction() as conn:
            wf = store_workflows.get_workflow(conn, workflow_id)
            number = _version_number(wf, body.version)
            definition = store_workflows.get_version(conn, workflow_id, number).definition
            params = run_params(definition.get("params") or {}, body.params)
            instance_id = store_instances.create_instance(
                conn,
                workflow_id=workflow_id,
                version=number,
                params=params,
                trigger={"type": "manual"},
                now=now,
            )
        on_work()
        return {
            "workflow_id": workflow_id,
            "instance_id": instance_id,
            "version": number,
            "status": "CREATED",
        }

    @app.get("/api/v1/workflows/{workflow_id}/instances")
    def list_instances(
        workflow_id: str, limit: int = 50, before: int | None = None
    ) -> dict[str, Any]:
        with db.read() as conn:
            store_workflows.get_workflow(conn, workflow_id)
            rows = store_instances.list_instances(
                conn, workflow_id, limit=min(limit, 1000), before=before
            )
        return {"instances": [instance_summary(r) for r in rows]}

    @app.get("/api/v1/workflows/{workflow_id}/instances/{instance_id}")
    def status(workflow_id: str, instance_id: int) -> dict[str, Any]:
        with db.read() as conn:
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

    @app.post("/api/v1/workflows/{workflow_id}/instances/{instance_id}/stop")
    def stop(workflow_id: str, instance_id: int) -> dict[str, Any]:
        with db.transaction() as conn:
            row = store_instances.find_instance(conn, workflow_id, instance_id)
            if row.status not in TERMINAL_INSTANCE:
                store_instances.request_stop(conn, row.pk, now=clock())
        on_work()
        return {
            "workflow_id": workflow_id,
            "instance_id": instance_id,
            "status": row.status,
            "stop_requested": row.status not in TERMINAL_INSTANCE,
        }

    @app.get("/api/v1/workflows/{workflow_id}/instances/{instance_id}/steps/{step_id}/logs")
    def logs(
        workflow_id: str,
        instance_id: int,
        step_id: str,
        offset: int = 0,
        attempt: int | None = None,
    ) -> dict[str, Any]:
        with db.read() as conn:
            row = store_instances.find_instance(conn, workflow_id, instance_id)
            found = store_instances.find_attempt(conn, row.pk, step_id, attempt)
            known = _has_step(conn, row, step_id)
        if found is None:
            if not known:
                raise StepNotFound(
                    f"instance {instance_id} of {workflow_id!r} has no step {step_id!r}"
                )
            return {
                "text": "",
                "offset": offset,
                "next_offset": offset,
                "attempt": None,
                "complete": row.status in TERMINAL_INSTANCE,
            }
        text, next_offset = read_log(Path(found.attempt_dir), offset)
        complete = found.ended and text == ""
        return {
            "text": text,
            "offset": offset,
            "next_offset": next_offset,
            "attempt": found.attempt,
            "complete": complete,
        }

    return app


def _has_step(conn: sa.Connection, row: sa.Row[Any], step_id: str) -> bool:
    definition = store_workflows.get_version(conn, row.workflow_id, row.version).definition
    return any(s["id"] == step_id for s in definition["steps"])


def _version_number(wf: store_workflows.WorkflowRow, version: int | str | None) -> int:
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


def _error(status: int, code: str, message: str, details: dict[str, Any]) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"error": {"code": code, "message": message, "details": details}},
    )
