"""Instances: start, list, status, stop, logs."""

from __future__ import annotations

import json
import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from podium.api import step_paths
from podium.api.context import Context, Who, WorkflowReader, act
from podium.api.query import After, AttemptNumber, Before, InstanceId, IterationIndex, Offset
from podium.api.views import instance_summary, iso, pending_step_view, step_view
from podium.control import instances as control
from podium.control import starts
from podium.control.assets import step_redactor
from podium.engine.plan import Plan
from podium.engine.states import TERMINAL_INSTANCE, TERMINAL_STEP
from podium.errors import InvalidInput, LogNotFound, StepNotFound
from podium.jobs import read_log
from podium.jobs.artifacts import list_artifacts
from podium.store import Connection, permits, signals
from podium.store import attempts as store_attempts
from podium.store import instances as store_instances
from podium.store import steps as store_steps
from podium.store import timeline as store_timeline
from podium.store import workflows as store_workflows

router = APIRouter(prefix="/api/v1/workflows/{workflow_id}/instances", tags=["instances"])
dry_run_router = APIRouter(prefix="/api/v1/workflows/{workflow_id}/dry-run", tags=["instances"])
_NO_PROCESS = frozenset({"noop", "sleep", "foreach", "subworkflow"})
"""Step types whose attempts run no job, so have no artifacts to list."""


class RunBody(BaseModel):
    version: int | str | None = None
    params: dict[str, Any] = Field(default_factory=dict)


@router.post("", status_code=201, openapi_extra=act("instance.start"))
def start(
    workflow_id: str, ctx: Context, caller: Who, body: RunBody | None = None
) -> dict[str, Any]:
    """Write the instance and its start row; any worker takes it from there."""
    body = body or RunBody()
    started = starts.start(ctx, starts.StartRequest(workflow_id, body.version, body.params), caller)
    return {
        "workflow_id": workflow_id,
        "instance_id": started.instance_id,
        "version": started.version,
        "status": started.status,
    }


@dry_run_router.post("", openapi_extra=act("instance.dry_run"))
def dry_run(
    workflow_id: str, ctx: Context, caller: Who, body: RunBody | None = None
) -> dict[str, Any]:
    """What a run would receive: the run's params and those of every step whose inputs are
    known before anything runs. Nothing is stored and nothing runs."""
    body = body or RunBody()
    done = starts.dry_run(ctx, starts.StartRequest(workflow_id, body.version, body.params), caller)
    return {
        "workflow_id": workflow_id,
        "version": done.version,
        "params": done.params,
        "steps": done.steps,
    }


@router.get("", openapi_extra=act("workflow.read"))
def list_instances(
    workflow_id: str,
    ctx: Context,
    _: WorkflowReader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    before: Before = None,
) -> dict[str, Any]:
    with ctx.db.read() as conn:
        store_workflows.get_workflow(conn, workflow_id)
        rows = store_instances.list_instances(
            conn, workflow_id, limit=min(limit, 1000), before=before
        )
    return {"instances": [instance_summary(r) for r in rows]}


@router.get("/{instance_id}", openapi_extra=act("workflow.read"))
def status(
    workflow_id: str,
    instance_id: InstanceId,
    ctx: Context,
    _: WorkflowReader,
    step: str | None = None,
    iteration: IterationIndex = None,
) -> dict[str, Any]:
    """The instance and its steps; with ``step`` and ``iteration``, one iteration of that
    foreach step (an iteration of a nested foreach: ``step=outer[2].inner``)."""
    cache = _READS.get(ctx.db) or _READS.setdefault(ctx.db, _ReadCache())
    with ctx.db.read() as conn:
        row = store_instances.find_instance(conn, workflow_id, instance_id)
        top = row
        if step is not None and iteration is not None:
            for part, index in _iteration_path(step, iteration):
                row = store_instances.find_iteration(conn, row.pk, part, index)
        elif (ended := cache.ended_document(row)) is not None:
            return ended
        plan = ctx.plans(conn, workflow_id, row.version).at(row.plan_path)
        step_rows = store_steps.instance_steps(conn, row.pk)
        permit_waits = (
            permits.waiting_for(conn, row.pk)
            if any(s.status == "WAITING_FOR_PERMITS" for s in step_rows)
            else {}
        )
        signal_waits = (
            signals.waits_of(conn, row.pk)
            if any(s.status == "WAITING_FOR_SIGNALS" for s in step_rows)
            else {}
        )
        known = {
            s.step_id: found
            for s in step_rows
            if (found := cache.ended_artifacts(row.pk, s)) is not None
        }
        attempt_dirs = _latest_attempt_dirs(conn, row.pk, step_rows, plan, known)
    if step_rows:
        steps = [step_view(s, plan.steps[s.step_id].type) for s in step_rows]
        for step_row, view in zip(step_rows, steps, strict=True):
            tags = plan.steps[view["id"]].tags
            if tags or row.tags:
                view["tags"] = sorted({*tags, *(row.tags or ())})
            if view["id"] in permit_waits:
                view["waiting_for"] = permit_waits[view["id"]]
            artifacts = known.get(view["id"])
            if artifacts is None and view["id"] in attempt_dirs:
                artifacts = list_artifacts(attempt_dirs[view["id"]])
                cache.remember_artifacts(row.pk, step_row, artifacts)
            if artifacts:
                view["artifacts"] = artifacts
            if view["id"] in signal_waits:
                view["waiting_for_signals"] = [
                    {"name": w["name"], "match": w["match"], "since": iso(w["since"])}
                    for w in signal_waits[view["id"]]
                ]
    else:
        steps = [pending_step_view({"id": s.id, "type": s.type}) for s in plan.steps.values()]
    document = {
        **instance_summary(top),
        "params": row.params,
        "trigger": row.trigger,
        "started_by": top.started_by,
        "run_as": top.run_as,
        "error": row.error,
        "steps": steps,
    }
    if row is not top:
        document.update(
            {
                "step": step,
                "iteration": iteration,
                "status": row.status,
                "started_at": iso(row.started_at),
                "ended_at": iso(row.ended_at),
            }
        )
    else:
        cache.remember_ended(row, document)
    return document


class _ReadCache:
    """What a status read need not work out again, for one database.

    - The status of an instance that ended: nothing in it changes while it stays ended (a
      restart changes its status first, in the transaction that resets its steps), so it is
      served again for as long as the instance's row says the same status, start, end and
      version: one indexed read instead of five, and no files listed.
    - The artifacts of a step that ended, by instance, step and attempt: an ended attempt's
      artifacts are final (its files were masked before its end was recorded).

    Each is bounded by what it holds (the documents' encoded size, the artifacts' names), the
    oldest forgotten first; a document larger than DOCUMENT_MAX is not kept at all.
    """

    DOCUMENTS_BYTES = 64 << 20
    DOCUMENT_MAX = 1 << 20
    ARTIFACT_NAMES = 200_000

    def __init__(self) -> None:
        self._documents = _Bounded(self.DOCUMENTS_BYTES)
        self._artifacts = _Bounded(self.ARTIFACT_NAMES)

    @staticmethod
    def _as_ended(row: Any) -> tuple[Any, ...]:
        return (row.status, row.started_at, row.ended_at, row.version)

    def ended_document(self, row: Any) -> dict[str, Any] | None:
        if row.status not in TERMINAL_INSTANCE:
            return None
        found = self._documents.get(row.pk)
        return found[1] if found is not None and found[0] == self._as_ended(row) else None

    def remember_ended(self, row: Any, document: dict[str, Any]) -> None:
        if row.status not in TERMINAL_INSTANCE:
            return
        size = len(json.dumps(document, default=str))  # once, when the instance is first read
        if size <= self.DOCUMENT_MAX:
            self._documents.put(row.pk, (self._as_ended(row), document), size)

    def ended_artifacts(self, instance_pk: int, step: Any) -> list[str] | None:
        if step.status not in TERMINAL_STEP:
            return None
        found: list[str] | None = self._artifacts.get((instance_pk, step.step_id, step.attempt))
        return found

    def remember_artifacts(self, instance_pk: int, step: Any, artifacts: list[str]) -> None:
        if step.status in TERMINAL_STEP:  # a running job may still write some
            key = (instance_pk, step.step_id, step.attempt)
            self._artifacts.put(key, artifacts, 1 + len(artifacts))


class _Bounded:
    """A map that forgets its oldest entries once their weights add up past ``budget``."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._entries: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        found = self._entries.get(key)
        return None if found is None else found[0]

    def put(self, key: Any, value: Any, weight: int) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            self._weight += weight - (old[1] if old is not None else 0)
            self._entries[key] = (value, weight)
            while self._weight > self.budget and self._entries:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._weight -= dropped


_READS: weakref.WeakKeyDictionary[Any, _ReadCache] = weakref.WeakKeyDictionary()
"""One cache per database (a process may serve several: the tests')."""


def _latest_attempt_dirs(
    conn: Connection,
    instance_pk: int,
    step_rows: list[Any],
    plan: Plan,
    known: Mapping[str, list[str]],
) -> dict[str, Path]:
    """The latest attempt directory of each step that ran a job and whose artifacts are not
    ``known`` yet (one query for the whole instance; none when all are known)."""
    wanted = {
        s.step_id
        for s in step_rows
        if s.attempt and plan.steps[s.step_id].type not in _NO_PROCESS and s.step_id not in known
    }
    if not wanted:
        return {}
    latest = store_attempts.latest_attempt_dirs(conn, instance_pk)
    return {step_id: Path(d) for step_id, d in latest.items() if step_id in wanted}


def _iteration_path(step: str, iteration: int) -> list[tuple[str, int]]:
    """``outer[2].inner`` and 5 -> [("outer", 2), ("inner", 5)]."""
    parts = step.split(".")
    path: list[tuple[str, int]] = []
    for part in parts[:-1]:
        name, _, index = part.partition("[")
        if not index.endswith("]") or not index[:-1].isdigit():
            raise InvalidInput(f"step path {step!r}: write outer[N].inner for a nested foreach")
        path.append((name, int(index[:-1])))
    path.append((parts[-1], iteration))
    return path


@router.post("/{instance_id}/stop", openapi_extra=act("instance.stop"))
def stop(workflow_id: str, instance_id: InstanceId, ctx: Context, caller: Who) -> dict[str, Any]:
    """Record a stop; the engine kills running jobs and ends the instance STOPPED. An
    instance that already ended is a conflict: nothing was stopped."""
    stopped = control.stop(ctx, control.InstanceRef(workflow_id, instance_id), caller)
    return {
        "workflow_id": workflow_id,
        "instance_id": instance_id,
        "status": stopped.status,
        "stop_requested": True,
    }


@router.get("/{instance_id}/steps/{step_path}/logs", openapi_extra=act("workflow.read"))
def logs(
    workflow_id: str,
    instance_id: InstanceId,
    step_path: str,
    ctx: Context,
    _: WorkflowReader,
    offset: Offset = 0,
    attempt: AttemptNumber = None,
    iteration: Annotated[list[int] | None, Query(max_length=10)] = None,
) -> dict[str, Any]:
    """A piece of a step's log from ``offset``; ``complete`` once the attempt ended and all
    of its log was returned. ``step_path`` reaches into foreach iterations and subworkflows
    (``load.aggregate`` with ``iteration=2``, or ``load[2].aggregate``; see step_paths)."""
    with ctx.db.read() as conn:
        top = store_instances.find_instance(conn, workflow_id, instance_id)
        address = step_paths.locate_step(conn, ctx.plans, top, step_path, iteration or ())
        reason = step_paths.no_log_reason(address, conn, ctx.plans)
        if reason is not None:
            raise LogNotFound(reason)
        found = state = None
        if address.row is not None and address.step is not None:
            found = store_attempts.find_attempt(conn, address.row.pk, address.step.id, attempt)
            state = store_steps.find_step(conn, address.row.pk, address.step.id)
    page: dict[str, Any] = {
        "workflow_id": workflow_id,
        "instance_id": instance_id,
        "step": address.path,
        "step_status": state.status if state is not None else None,
    }
    if found is None:
        waiting = address.waiting or _never_ran(address, state, attempt)
        empty = {"text": "", "offset": offset, "next_offset": offset, "attempt": None}
        return {**page, **empty, "complete": False, "waiting": waiting}
    redactor = None
    if address.row is not None and address.step is not None:
        redactor = step_redactor(ctx, address.row, address.step.assets, running=not found.ended)
    text, next_offset = read_log(
        Path(found.attempt_dir), offset, redactor=redactor, growing=not found.ended
    )
    return {
        **page,
        "text": text,
        "offset": offset,
        "next_offset": next_offset,
        "attempt": found.attempt,
        "complete": found.ended and text == "",
    }


def _never_ran(address: step_paths.StepAddress, state: Any, attempt: int | None) -> str:
    """Why a step has no attempt (to read the log of) yet; an error if it never will."""
    path, row = address.path, address.row
    if attempt is not None and state is not None and state.attempt:
        raise LogNotFound(f"step {path!r} has no attempt {attempt}: it made {state.attempt}")
    if state is not None and state.status in TERMINAL_STEP:
        raise LogNotFound(f"step {path!r} ended {state.status} without running: it has no log")
    if row is not None and row.status in TERMINAL_INSTANCE:
        raise LogNotFound(
            f"step {path!r} never ran (its instance ended {row.status}): it has no log"
        )
    status = f" ({state.status})" if state is not None else ""
    return f"step {path!r} has not started yet{status}"


@router.get("/{instance_id}/timeline", openapi_extra=act("workflow.read"))
def timeline(
    workflow_id: str,
    instance_id: InstanceId,
    ctx: Context,
    _: WorkflowReader,
    step: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    after: After = 0,
) -> dict[str, Any]:
    """What happened to the instance and its steps, oldest first; ``after`` (an event id)
    pages on and lets a client follow the timeline as it grows."""
    with ctx.db.read() as conn:
        row = store_instances.find_instance(conn, workflow_id, instance_id)
        rows = store_timeline.instance_timeline(
            conn, row.pk, step_id=step, limit=max(1, min(limit, 1000)), after_id=after
        )
        if step is not None and not rows:
            definition = store_workflows.get_version(conn, workflow_id, row.version).definition
            if not any(s["id"] == step for s in definition["steps"]):
                raise StepNotFound(
                    f"instance {instance_id} of {workflow_id!r} has no step {step!r}"
                )
    return {
        "workflow_id": workflow_id,
        "instance_id": instance_id,
        "events": [
            {
                "id": r.id,
                "at": iso(r.at),
                "step_id": r.step_id,
                "event": r.event,
                "detail": r.detail,
            }
            for r in rows
        ],
    }
