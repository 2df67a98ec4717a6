"""Rows to the JSON documents of docs/api.md."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from podium.store import Row
from podium.store.workflows import WorkflowRow


def iso(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).isoformat() if epoch is not None else None


def workflow_summary(wf: WorkflowRow) -> dict[str, Any]:
    return {
        "workflow_id": wf.workflow_id,
        "description": wf.description,
        "owner": wf.owner,
        "status": "active" if wf.active_version is not None else "inactive",
        "active_version": wf.active_version,
        "latest_version": wf.latest_version,
        "created_at": iso(wf.created_at),
        "updated_at": iso(wf.updated_at),
    }


def instance_summary(row: Row) -> dict[str, Any]:
    return {
        "workflow_id": row.workflow_id,
        "instance_id": row.instance_id,
        "version": row.version,
        "run": row.run,
        "status": row.status,
        "created_at": iso(row.created_at),
        "started_at": iso(row.started_at),
        "ended_at": iso(row.ended_at),
        **({"waiting": row.waiting} if row.status == "CREATED" and row.waiting else {}),
    }


def step_view(row: Row, step_type: str) -> dict[str, Any]:
    return {
        "id": row.step_id,
        "type": step_type,
        "status": row.status,
        "attempts": row.attempt,
        "user_errors": row.user_errors,
        "platform_errors": row.platform_errors,
        "started_at": iso(row.started_at),
        "ended_at": iso(row.ended_at),
        "retry_at": iso(row.retry_at),
        "params": row.params,
        "outputs": row.outputs,
        "error": row.error,
        **iterations_view(row),
    }


def iterations_view(row: Any) -> dict[str, Any]:
    """A foreach step's counts by status, as they stand (no iteration is read)."""
    if row.iter_total is None:
        return {}
    return {
        "iterations": {
            "total": row.iter_total,
            "launched": row.iter_launched,
            "running": row.iter_active,
            "succeeded": row.iter_succeeded,
            "failed": row.iter_failed,
            "stopped": row.iter_other,
            "waiting": row.iter_total - row.iter_launched,
        }
    }


def pending_step_view(step: dict[str, Any]) -> dict[str, Any]:
    """A step of an instance that has not started yet (no row until the instance starts)."""
    return {
        "id": step["id"],
        "type": step.get("type") or "noop",
        "status": "CREATED",
        "attempts": 0,
        "user_errors": 0,
        "platform_errors": 0,
        "started_at": None,
        "ended_at": None,
        "retry_at": None,
        "params": None,
        "outputs": None,
        "error": None,
    }
