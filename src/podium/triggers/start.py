"""Starting an instance of a workflow's active version for a trigger (not a person)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from podium.engine import params
from podium.errors import PodiumError
from podium.expr import Budgets, ExprError
from podium.store import instances as store_instances
from podium.store import runs
from podium.store.schema import workflow_versions, workflows
from podium.store.trigger_failures import TOPIC, TriggerFailure, record_trigger_failure

log = logging.getLogger("podium.triggers")


def start_active(
    conn: sa.Connection, workflow_id: str, trigger: dict[str, Any], *, now: float, budgets: Budgets
) -> int | None:
    """``start_for_trigger``, with a failed start as None (it is recorded all the same)."""
    started = start_for_trigger(conn, workflow_id, trigger, now=now, budgets=budgets)
    return started if isinstance(started, int) else None


def start_for_trigger(
    conn: sa.Connection, workflow_id: str, trigger: dict[str, Any], *, now: float, budgets: Budgets
) -> int | TriggerFailure | None:
    """Create an instance of the active version, its params resolved as for a manual run
    with no overrides: its number; None when the workflow is inactive; the failure when
    its params cannot be resolved (recorded, and in the event stream, in this
    transaction: a trigger has nobody to answer)."""
    active = conn.execute(
        sa.select(workflows.c.active_version).where(workflows.c.workflow_id == workflow_id)
    ).scalar_one_or_none()
    if active is None:
        return None
    definition = runs.load_definition(conn, workflow_id, active)
    numbered = store_instances.number_instance(conn, workflow_id)
    resolved = _params(
        workflow_id,
        numbered.instance_id,
        active,
        definition,
        trigger,
        conn=conn,
        now=now,
        budgets=budgets,
    )
    if isinstance(resolved, TriggerFailure):
        return resolved
    store_instances.create_instance(
        conn,
        workflow_id=workflow_id,
        instance_id=numbered.instance_id,
        version=active,
        params=resolved,
        trigger=trigger,
        now=now,
    )
    return numbered.instance_id


def trigger_name(trigger: Mapping[str, Any]) -> str:
    """Which trigger of a workflow fired: ``cron``, or ``signals[N]`` for its group N (the
    place in the definition, as validation names it)."""
    kind = str(trigger.get("type") or "trigger")
    if kind == "signal":
        return f"signals[{int(trigger.get('group') or 0)}]"
    return kind


def _params(
    workflow_id: str,
    instance_id: int,
    version: int,
    definition: dict[str, Any],
    trigger: dict[str, Any],
    *,
    conn: sa.Connection,
    now: float,
    budgets: Budgets,
) -> dict[str, Any] | TriggerFailure:
    """The run params as a manual run with no overrides gets them, or the failure (stored
    and published: a trigger has nobody to answer)."""
    run = params.run_namespace(
        workflow_id=workflow_id, instance_id=instance_id, version=version, trigger=trigger, at=now
    )
    try:
        return params.resolve_run_params(
            definition.get("params") or {},
            {},
            run=run,
            signal=params.signal_namespace(trigger),
            budgets=budgets,
        )
    except (ExprError, PodiumError) as exc:
        reason = str(exc)
    except sa.exc.SQLAlchemyError:
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
class Start:
    """An instance a trigger wants: of ``workflow_id``'s ``version`` (its active one)."""

    workflow_id: str
    version: int
    trigger: dict[str, Any]


def start_many(
    conn: sa.Connection, starts: Sequence[Start], *, now: float, budgets: Budgets
) -> list[int | None]:
    """``start_active`` for a batch, in a few statements for all of it (the numbers taken
    in one UPDATE, the instances, work rows and events inserted together). A workflow
    wanted twice in the batch (catch-up) takes the one-by-one path for its later starts.
    Each result is the new instance's number, or None (inactive, or a version that is no
    longer the active one, or params that cannot be resolved: recorded as a failure)."""
    first: dict[str, int] = {}
    for index, start in enumerate(starts):
        first.setdefault(start.workflow_id, index)
    numbered = store_instances.number_instances(conn, list(first))
    definitions = _definitions(conn, {(s.workflow_id, s.version) for s in starts})
    results: list[int | None] = [None] * len(starts)
    new: list[tuple[int, store_instances.NewInstance]] = []
    for index, start in enumerate(starts):
        if first[start.workflow_id] != index:
            results[index] = start_active(
                conn, start.workflow_id, start.trigger, now=now, budgets=budgets
            )
            continue
        number = numbered.get(start.workflow_id)
        if number is None or number.active_version != start.version:
            continue
        resolved = _params(
            start.workflow_id,
            number.instance_id,
            start.version,
            definitions[(start.workflow_id, start.version)],
            start.trigger,
            conn=conn,
            now=now,
            budgets=budgets,
        )
        if isinstance(resolved, TriggerFailure):
            continue
        new.append(
            (
                index,
                store_instances.NewInstance(
                    start.workflow_id, number.instance_id, start.version, resolved, start.trigger
                ),
            )
        )
    store_instances.create_instances(conn, [n for _, n in new], now=now)
    for index, instance in new:
        results[index] = instance.instance_id
    return results


def _definitions(
    conn: sa.Connection, keys: set[tuple[str, int]]
) -> dict[tuple[str, int], dict[str, Any]]:
    if not keys:
        return {}
    rows = conn.execute(
        sa.select(
            workflow_versions.c.workflow_id,
            workflow_versions.c.version,
            workflow_versions.c.definition,
        ).where(sa.tuple_(workflow_versions.c.workflow_id, workflow_versions.c.version).in_(keys))
    ).all()
    return {(r.workflow_id, r.version): dict(r.definition) for r in rows}
