"""Starting an instance: the one path for a manual run, its dry run, and every trigger
(the cron scheduler, a signal, a step's emits). Params are resolved the same way for all
of them; a person is answered with the error, a trigger's failure is recorded."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from podium.control.access import audit, authorize
from podium.control.identity import Caller
from podium.control.services import Services
from podium.control.workflows import version_number
from podium.engine import params
from podium.errors import PodiumError
from podium.expr import Budgets, ExprError
from podium.store import Connection, DatabaseError
from podium.store import instances as store_instances
from podium.store import workflows as store_workflows
from podium.store.trigger_failures import TOPIC, TriggerFailure, record_trigger_failure
from podium.vault.params import mask_params, seal_params

log = logging.getLogger("podium.triggers")

MANUAL: Mapping[str, Any] = {"type": "manual"}


@dataclass(frozen=True)
class StartRequest:
    """A run asked for by a person: a version as named (a number, ``active``, ``latest``;
    None is the active one) and param overrides."""

    workflow_id: str
    version: int | str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Started:
    workflow_id: str
    instance_id: int
    version: int
    status: str = "CREATED"


@dataclass(frozen=True)
class DryRun:
    workflow_id: str
    version: int
    params: dict[str, Any]
    steps: list[dict[str, Any]]


def resolve_params(
    defined: Mapping[str, Any],
    overrides: Mapping[str, Any],
    *,
    workflow_id: str,
    instance_id: int,
    version: int,
    trigger: Mapping[str, Any],
    now: float,
    budgets: Budgets,
) -> dict[str, Any]:
    """A new instance's params, for every kind of start (raises when they do not resolve)."""
    run = params.run_namespace(
        workflow_id=workflow_id, instance_id=instance_id, version=version, trigger=trigger, at=now
    )
    return params.resolve_run_params(
        defined, overrides, run=run, signal=params.signal_namespace(trigger), budgets=budgets
    )


def start(svc: Services, request: StartRequest, caller: Caller) -> Started:
    """Write the instance and its start row; any worker takes it from there."""
    trigger = dict(MANUAL)

    def create(conn: Connection) -> Started:
        authorize(conn, caller, "instance.start", request.workflow_id)
        numbered = store_instances.number_instance(conn, request.workflow_id)
        number = version_number(numbered, request.version)
        now = svc.clock()
        plan = svc.plans(conn, request.workflow_id, number)
        resolved = resolve_params(
            plan.params,
            request.params,
            workflow_id=request.workflow_id,
            instance_id=numbered.instance_id,
            version=number,
            trigger=trigger,
            now=now,
            budgets=svc.budgets,
        )
        shown, sealed = seal_params(svc.keys, request.workflow_id, resolved, plan.secret_params)
        store_instances.create_instance(
            conn,
            workflow_id=numbered.workflow_id,
            instance_id=numbered.instance_id,
            version=number,
            params=shown,
            trigger=dict(trigger),
            now=now,
            started_by=caller.name,
            sealed_params=sealed,
        )
        audit(
            conn,
            caller,
            "instance.start",
            workflow_id=request.workflow_id,
            target=f"instance {numbered.instance_id}",
            detail={"version": number},
            now=now,
        )
        return Started(request.workflow_id, numbered.instance_id, number)

    started = svc.db.run_transaction(create)
    svc.on_work()
    return started


def dry_run(svc: Services, request: StartRequest, caller: Caller) -> DryRun:
    """What a run would receive: the run's params and those of every step whose inputs are
    known before anything runs. Nothing is stored and nothing runs."""
    trigger = dict(MANUAL)
    with svc.db.read() as conn:
        authorize(conn, caller, "instance.dry_run", request.workflow_id)
        wf = store_workflows.get_workflow(conn, request.workflow_id)
        number = version_number(wf, request.version)
        instance_id = wf.last_instance_id + 1
        now = svc.clock()
        plan = svc.plans(conn, request.workflow_id, number)
        resolved = resolve_params(
            plan.params,
            request.params,
            workflow_id=request.workflow_id,
            instance_id=instance_id,
            version=number,
            trigger=trigger,
            now=now,
            budgets=svc.budgets,
        )
    run = params.run_namespace(
        workflow_id=request.workflow_id,
        instance_id=instance_id,
        version=number,
        trigger=trigger,
        at=now,
    )
    steps = params.dry_run_steps(
        plan, resolved, run=run, signal=params.signal_namespace(trigger), budgets=svc.budgets
    )
    shown, secrets = mask_params(resolved, plan.secret_params)
    if secrets is not None:  # shown as the run would show them: the steps' too
        redactor = secrets.redactor
        steps = [cast(dict[str, Any], redactor.json(step)) for step in steps]
    return DryRun(request.workflow_id, number, shown, steps)


def start_for_trigger(
    conn: Connection,
    workflow_id: str,
    trigger: dict[str, Any],
    *,
    now: float,
    budgets: Budgets,
) -> int | TriggerFailure | None:
    """Create an instance of the active version, its params resolved as for a manual run
    with no overrides, inside the caller's transaction: its number; None when the workflow
    is inactive; the failure when its params cannot be resolved (recorded, and in the
    event stream, in this transaction: a trigger has nobody to answer)."""
    active = store_workflows.active_version(conn, workflow_id)
    if active is None:
        return None
    definition = store_workflows.load_definition(conn, workflow_id, active)
    numbered = store_instances.number_instance(conn, workflow_id)
    resolved = _trigger_params(
        conn, workflow_id, numbered.instance_id, active, definition, trigger, now, budgets
    )
    if isinstance(resolved, TriggerFailure):
        return resolved
    store_instances.create_instance(
        conn,
        workflow_id=workflow_id,
        instance_id=numbered.instance_id,
        version=active,
        params=resolved,
        trigger=dict(trigger),
        now=now,
        started_by=started_by(trigger),
    )
    return numbered.instance_id


def start_active(
    conn: Connection, workflow_id: str, trigger: dict[str, Any], *, now: float, budgets: Budgets
) -> int | None:
    """``start_for_trigger``, with a failed start as None (it is recorded all the same)."""
    started = start_for_trigger(conn, workflow_id, trigger, now=now, budgets=budgets)
    return started if isinstance(started, int) else None


def started_by(trigger: Mapping[str, Any]) -> str:
    """Who a trigger's start is recorded as made by: ``trigger:cron``, ``trigger:signal``,
    ``trigger:emit`` (its jobs run as the workflow's owner all the same)."""
    return f"trigger:{trigger.get('type') or 'trigger'}"


def trigger_name(trigger: Mapping[str, Any]) -> str:
    """Which trigger of a workflow fired: ``cron``, or ``signals[N]`` for its group N (the
    place in the definition, as validation names it)."""
    kind = str(trigger.get("type") or "trigger")
    if kind == "signal":
        return f"signals[{int(trigger.get('group') or 0)}]"
    return kind


def _trigger_params(
    conn: Connection,
    workflow_id: str,
    instance_id: int,
    version: int,
    definition: dict[str, Any],
    trigger: dict[str, Any],
    now: float,
    budgets: Budgets,
) -> dict[str, Any] | TriggerFailure:
    """The run params as a manual run with no overrides gets them, or the failure (stored
    and published: a trigger has nobody to answer)."""
    try:
        return resolve_params(
            definition.get("params") or {},
            {},
            workflow_id=workflow_id,
            instance_id=instance_id,
            version=version,
            trigger=trigger,
            now=now,
            budgets=budgets,
        )
    except (ExprError, PodiumError) as exc:
        reason = str(exc)
    except DatabaseError:
        raise  # the transaction itself failed (a deadlock victim runs again): not the params
    except Exception:
        # A bug in one workflow's params must not cost the signal, or the other starts of
        # this transaction: it is recorded like any other failure, its text only in the log.
        log.exception("trigger params crashed", extra={"event": "trigger.crash"})
        reason = "internal error while resolving the params; see the server log (trigger.crash)"
    failure = TriggerFailure(
        workflow_id=workflow_id,
        trigger=trigger_name(trigger),
        version=version,
        at=now,
        reason=reason,
        detail={k: v for k, v in trigger.items() if k not in ("type", "group", "signal")},
    )
    log.warning(
        f"{failure.trigger} trigger could not start {workflow_id!r}: {reason}",
        extra={"event": TOPIC, "workflow_id": workflow_id, "trigger": failure.trigger},
    )
    record_trigger_failure(conn, failure)
    return failure


@dataclass(frozen=True)
class TriggerStart:
    """An instance a trigger wants: of ``workflow_id``'s ``version`` (its active one)."""

    workflow_id: str
    version: int
    trigger: dict[str, Any]


def start_many(
    conn: Connection,
    starts: Sequence[TriggerStart],
    *,
    now: float,
    budgets: Budgets,
) -> list[int | None]:
    """``start_active`` for a batch, in a few statements for all of it (the numbers taken
    in one UPDATE, the instances, work rows and events inserted together). A workflow
    wanted twice in the batch (catch-up) takes the one-by-one path for its later starts.
    Each result is the new instance's number, or None (inactive, or a version that is no
    longer the active one, or params that cannot be resolved: recorded as a failure)."""
    first: dict[str, int] = {}
    for index, wanted in enumerate(starts):
        first.setdefault(wanted.workflow_id, index)
    numbered = store_instances.number_instances(conn, list(first))
    definitions = store_workflows.definitions(conn, {(s.workflow_id, s.version) for s in starts})
    results: list[int | None] = [None] * len(starts)
    new: list[tuple[int, store_instances.NewInstance]] = []
    for index, wanted in enumerate(starts):
        if first[wanted.workflow_id] != index:
            results[index] = start_active(
                conn, wanted.workflow_id, wanted.trigger, now=now, budgets=budgets
            )
            continue
        number = numbered.get(wanted.workflow_id)
        if number is None or number.active_version != wanted.version:
            continue
        resolved = _trigger_params(
            conn,
            wanted.workflow_id,
            number.instance_id,
            wanted.version,
            definitions[(wanted.workflow_id, wanted.version)],
            wanted.trigger,
            now,
            budgets,
        )
        if isinstance(resolved, TriggerFailure):
            continue
        new.append(
            (
                index,
                store_instances.NewInstance(
                    wanted.workflow_id,
                    number.instance_id,
                    wanted.version,
                    resolved,
                    wanted.trigger,
                    started_by(wanted.trigger),
                ),
            )
        )
    store_instances.create_instances(conn, [n for _, n in new], now=now)
    for index, instance in new:
        results[index] = instance.instance_id
    return results
