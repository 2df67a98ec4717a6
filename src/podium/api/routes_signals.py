"""Signals: announce one, list them; and skipping a step that waits."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import BaseModel, Field, JsonValue

from podium.api.context import Context
from podium.api.views import iso
from podium.definition.fields import signal_name_problem
from podium.engine.states import TERMINAL_INSTANCE
from podium.errors import Conflict, InvalidInput, StepNotFound
from podium.store import instances as store_instances
from podium.store import queue, runs, signals
from podium.store.trigger_failures import TriggerFailure
from podium.triggers.start import start_for_trigger

router = APIRouter(prefix="/api/v1/signals", tags=["signals"])
skip_router = APIRouter(prefix="/api/v1/workflows/{workflow_id}/instances", tags=["instances"])

SKIPPABLE = ("WAITING_FOR_SIGNALS", "WAITING_FOR_PERMITS", "PAUSED")


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


@router.post("", status_code=201)
def announce(body: SignalBody, ctx: Context) -> dict[str, Any]:
    """Announce a signal: start the workflows whose signal trigger it completes, and let
    the steps waiting for it go on. ``failed`` lists the workflows it could not start
    (their params did not resolve) and why; the signal is stored all the same."""
    problem = signal_name_problem(body.name)
    if problem is not None:
        raise InvalidInput(problem)
    now = ctx.clock()

    def start(
        conn: sa.Connection, workflow_id: str, trigger: dict[str, Any]
    ) -> int | TriggerFailure | None:
        return start_for_trigger(conn, workflow_id, trigger, now=now, budgets=ctx.budgets)

    done = ctx.db.run_transaction(
        lambda conn: signals.announce(
            conn,
            body.name,
            body.params,
            now=now,
            start_instance=start,
            request_id=body.request_id,
        )
    )
    if done.started or done.released:
        ctx.on_work()
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


@router.get("")
def list_signals(ctx: Context, name: str | None = None, limit: int = 50) -> dict[str, Any]:
    """The latest signals (of one name), newest first."""
    with ctx.db.read() as conn:
        rows = signals.list_signals(conn, name, min(max(limit, 1), 1000))
    return {"signals": [signal_view(r) for r in rows]}


@skip_router.post("/{instance_id}/steps/{step_id}/skip")
def skip(workflow_id: str, instance_id: int, step_id: str, ctx: Context) -> dict[str, Any]:
    """Skip a step that waits (for signals, a permit or a resume at a breakpoint):
    it ends SKIPPED, and downstream treats it as skipped."""
    with ctx.db.transaction() as conn:
        row = store_instances.find_instance(conn, workflow_id, instance_id)
        state = runs.get_step(conn, row.pk, step_id)
        if state is None:
            plan = ctx.plan(conn, workflow_id, row.version)
            if step_id not in plan.steps:
                raise StepNotFound(f"workflow {workflow_id!r} has no step {step_id!r}")
        if row.status in TERMINAL_INSTANCE:
            raise Conflict(f"{workflow_id} {instance_id} is {row.status}: nothing to skip")
        status = state.status if state is not None else "CREATED"
        queued = status == "CREATED" and runs.queued_for_slot(conn, row.pk, step_id)
        if status not in SKIPPABLE and not queued:
            raise Conflict(
                f"step {step_id!r} is {status}: only a step that waits (for signals, a "
                "permit, a slot or a resume) can be skipped"
            )
        queue.add_work(
            conn,
            [{"kind": "skip", "instance_pk": row.pk, "step_id": step_id, "due_at": ctx.clock()}],
        )
    ctx.on_work()
    return {"workflow_id": workflow_id, "instance_id": instance_id, "step_id": step_id}
