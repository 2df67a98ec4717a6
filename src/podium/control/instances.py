"""Changing a running or ended instance: stop, restart, skip a waiting step.

Starting one is :mod:`podium.control.starts`; resuming a step paused at a breakpoint is
:mod:`podium.control.breakpoints`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from podium.control.access import audit, authorize
from podium.control.identity import Caller
from podium.control.services import Services
from podium.engine import params
from podium.engine.restart import plan_restart
from podium.engine.states import TERMINAL_INSTANCE
from podium.engine.work import WorkKind, work_row
from podium.errors import Conflict, StepNotFound
from podium.store import instances as store_instances
from podium.store import loops as store_loops
from podium.store import queue
from podium.store import steps as store_steps
from podium.vault.params import open_params, seal_params


@dataclass(frozen=True)
class InstanceRef:
    workflow_id: str
    instance_id: int


@dataclass(frozen=True)
class StepRef:
    workflow_id: str
    instance_id: int
    step_id: str


@dataclass(frozen=True)
class Stopped:
    workflow_id: str
    instance_id: int
    status: str
    """The instance's status when the stop was recorded."""


def stop(svc: Services, request: InstanceRef, caller: Caller) -> Stopped:
    """Record a stop; the engine kills running jobs and ends the instance STOPPED. An
    instance that already ended is a conflict: nothing was stopped."""
    workflow_id, instance_id = request.workflow_id, request.instance_id
    with svc.db.transaction() as conn:
        authorize(conn, caller, "instance.stop", workflow_id)
        row = store_instances.find_instance(conn, workflow_id, instance_id)
        if row.status in TERMINAL_INSTANCE:
            raise Conflict(
                f"instance {instance_id} of {workflow_id!r} already ended {row.status}; "
                "nothing to stop",
                details={"status": row.status},
            )
        store_instances.request_stop(conn, row.pk, now=svc.clock())
        audit(
            conn,
            caller,
            "instance.stop",
            workflow_id=workflow_id,
            target=f"instance {instance_id}",
            now=svc.clock(),
        )
    svc.on_work()
    return Stopped(workflow_id, instance_id, row.status)


@dataclass(frozen=True)
class RestartRequest:
    """Rerun what did not succeed, or ``from_step`` and all downstream of it; ``params``
    override the run's params."""

    workflow_id: str
    instance_id: int
    from_step: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Restarted:
    workflow_id: str
    instance_id: int
    run: int
    rerun: list[str]
    iterations_rerun: dict[str, int]
    status: str = "IN_PROGRESS"


_RAN_AND_FAILED = frozenset({"FAILED", "STOPPED", "TIMED_OUT", "COMPLETED_WITH_ERROR"})


def restart(svc: Services, request: RestartRequest, caller: Caller) -> Restarted:
    """A new run of an ended instance that keeps the outputs of what succeeded. The
    instance's history (its attempts, their logs, its timeline) is kept."""
    workflow_id, instance_id = request.workflow_id, request.instance_id
    with svc.db.transaction() as conn:
        authorize(conn, caller, "instance.restart", workflow_id)
        row = store_instances.find_instance(conn, workflow_id, instance_id)
        if row.status not in TERMINAL_INSTANCE:
            raise Conflict(
                f"instance {instance_id} of {workflow_id!r} is {row.status}: only an ended "
                "instance can be restarted (stop it first)"
            )
        plan = svc.plans(conn, workflow_id, row.version)
        params.check_overrides(plan.params, request.params)
        decided = plan_restart(plan, store_steps.step_statuses(conn, row.pk), request.from_step)
        statuses = store_steps.step_statuses(conn, row.pk)
        loops = [s for s in decided.reset if plan.steps[s].foreach is not None]
        # A foreach that ran and did not succeed reruns only the iterations that did not
        # succeed, unless --from asked for it (and all downstream) to run again whole.
        partial = [
            s for s in loops if request.from_step is None and statuses.get(s) in _RAN_AND_FAILED
        ]
        real, hide = dict(row.params), frozenset[str]()
        if row.sealed_params:
            real, secrets = open_params(svc.keys(), workflow_id, row.params, row.sealed_params)
            hide = secrets.hide  # still hidden: the earlier run's logs and outputs hold them
        shown, sealed = seal_params(
            svc.keys, workflow_id, {**real, **request.params}, plan.secret_params, hide=hide
        )
        run = store_instances.begin_new_run(
            conn,
            row.pk,
            params=shown,
            sealed_params=sealed,
            steps_done=len(plan.steps) - len(decided.reset),
            reset={s: (decided.pending_deps[s], decided.live_deps[s]) for s in decided.reset},
            terminal=[s.value for s in TERMINAL_INSTANCE],
            loops=[s for s in loops if s not in partial],
        )
        if run is None:
            raise Conflict(f"instance {instance_id} of {workflow_id!r} is already running again")
        redo = {s: store_loops.redo_iterations(conn, row.pk, s, run) for s in partial}
        queue.add_work(conn, [work_row(WorkKind.RESTART, row.pk, due_at=svc.clock())])
        audit(
            conn,
            caller,
            "instance.restart",
            workflow_id=workflow_id,
            target=f"instance {instance_id}",
            detail={"run": run, "from": request.from_step, "params": sorted(request.params)},
            now=svc.clock(),
        )
    svc.on_work()
    rerun = sorted(decided.reset, key=lambda s: plan.steps[s].position)
    return Restarted(workflow_id, instance_id, run, rerun, redo)


SKIPPABLE = ("WAITING_FOR_SIGNALS", "WAITING_FOR_PERMITS", "PAUSED")


def skip(svc: Services, request: StepRef, caller: Caller) -> None:
    """Skip a step that waits (for signals, a permit, a slot or a resume at a
    breakpoint): it ends SKIPPED, and downstream treats it as skipped."""
    workflow_id, instance_id, step_id = request.workflow_id, request.instance_id, request.step_id
    with svc.db.transaction() as conn:
        authorize(conn, caller, "step.skip", workflow_id)
        row = store_instances.find_instance(conn, workflow_id, instance_id)
        state = store_steps.get_step(conn, row.pk, step_id)
        if state is None:
            plan = svc.plans(conn, workflow_id, row.version)
            if step_id not in plan.steps:
                raise StepNotFound(f"workflow {workflow_id!r} has no step {step_id!r}")
        if row.status in TERMINAL_INSTANCE:
            raise Conflict(f"{workflow_id} {instance_id} is {row.status}: nothing to skip")
        status = state.status if state is not None else "CREATED"
        queued = status == "CREATED" and store_steps.queued_for_slot(conn, row.pk, step_id)
        if status not in SKIPPABLE and not queued:
            raise Conflict(
                f"step {step_id!r} is {status}: only a step that waits (for signals, a "
                "permit, a slot or a resume) can be skipped"
            )
        queue.add_work(
            conn,
            [work_row(WorkKind.SKIP, row.pk, step_id=step_id, due_at=svc.clock())],
        )
        audit(
            conn,
            caller,
            "step.skip",
            workflow_id=workflow_id,
            target=f"instance {instance_id} step {step_id}",
            now=svc.clock(),
        )
    svc.on_work()
