"""Breakpoints: pause a step before it runs (in every future instance, or in one); clear
one; resume a step paused at one."""

from __future__ import annotations

from dataclasses import dataclass

from podium.control.access import audit, authorize
from podium.control.identity import Caller
from podium.control.instances import StepRef
from podium.control.services import Services
from podium.engine.work import WorkKind, work_row
from podium.errors import Conflict, StepNotFound
from podium.store import breakpoints as store_breakpoints
from podium.store import instances as store_instances
from podium.store import queue
from podium.store import workflows as store_workflows


@dataclass(frozen=True)
class BreakpointRequest:
    """A breakpoint on ``step_id``: in one instance, or (None) in every future one."""

    workflow_id: str
    step_id: str
    instance_id: int | None = None


def set_breakpoint(svc: Services, request: BreakpointRequest, caller: Caller) -> bool:
    """Pause ``step_id`` before it runs; False when that breakpoint was already set."""
    workflow_id, step_id = request.workflow_id, request.step_id
    with svc.db.transaction() as conn:
        authorize(conn, caller, "breakpoint.set", workflow_id)
        wf = store_workflows.get_workflow(conn, workflow_id)
        version = wf.active_version or wf.latest_version
        if request.instance_id is not None:
            version = store_instances.find_instance(conn, workflow_id, request.instance_id).version
        definition = store_workflows.get_version(conn, workflow_id, version).definition
        known = [s["id"] for s in definition["steps"]]
        if step_id not in known:
            raise StepNotFound(
                f"workflow {workflow_id!r} (version {version}) has no step {step_id!r}; "
                f"its steps: {', '.join(known)}"
            )
        added = store_breakpoints.set_breakpoint(
            conn, workflow_id, step_id, request.instance_id, now=svc.clock()
        )
        audit(
            conn,
            caller,
            "breakpoint.set",
            workflow_id=workflow_id,
            target=_target(request),
            detail={"added": added},
            now=svc.clock(),
        )
        return added


def _target(request: BreakpointRequest) -> str:
    where = f"instance {request.instance_id}" if request.instance_id else "every instance"
    return f"step {request.step_id} in {where}"


def clear_breakpoint(svc: Services, request: BreakpointRequest, caller: Caller) -> bool:
    """Remove a breakpoint (False: there was none); steps already paused stay paused until
    resumed."""
    with svc.db.transaction() as conn:
        authorize(conn, caller, "breakpoint.clear", request.workflow_id)
        store_workflows.get_workflow(conn, request.workflow_id)
        removed = store_breakpoints.clear_breakpoint(
            conn, request.workflow_id, request.step_id, request.instance_id
        )
        audit(
            conn,
            caller,
            "breakpoint.clear",
            workflow_id=request.workflow_id,
            target=_target(request),
            detail={"removed": removed},
            now=svc.clock(),
        )
        return removed


def resume(svc: Services, request: StepRef, caller: Caller) -> None:
    """Let a step paused at a breakpoint run."""
    workflow_id, instance_id, step_id = request.workflow_id, request.instance_id, request.step_id
    with svc.db.transaction() as conn:
        authorize(conn, caller, "step.resume", workflow_id)
        row = store_instances.find_instance(conn, workflow_id, instance_id)
        status = store_breakpoints.step_status(conn, row.pk, step_id)
        if status is None:
            raise StepNotFound(f"instance {instance_id} of {workflow_id!r} has no step {step_id!r}")
        if status != "PAUSED":
            raise Conflict(f"step {step_id!r} is {status}, not PAUSED: there is nothing to resume")
        now = svc.clock()
        queue.add_work(conn, [work_row(WorkKind.RESUME, row.pk, step_id=step_id, due_at=now)])
        audit(
            conn,
            caller,
            "step.resume",
            workflow_id=workflow_id,
            target=f"instance {instance_id} step {step_id}",
            now=now,
        )
    svc.on_work()
