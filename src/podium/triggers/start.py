"""Starting an instance of a workflow's active version for a trigger (not a person)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from podium.engine import params
from podium.errors import PodiumError
from podium.expr import Budgets, ExprError
from podium.store import instances as store_instances
from podium.store import runs
from podium.store.schema import workflow_versions, workflows

log = logging.getLogger("podium.triggers")


def start_active(
    conn: sa.Connection, workflow_id: str, trigger: dict[str, Any], *, now: float, budgets: Budgets
) -> int | None:
    """Create an instance of the active version, its params resolved as for a manual run
    with no overrides; None when the workflow is inactive or its params cannot be
    resolved (logged and recorded in the event stream: a trigger has nobody to answer)."""
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
    if resolved is None:
        return None
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
) -> dict[str, Any] | None:
    """The run params as a manual run with no overrides gets them; None (logged, and
    recorded in the event stream: a trigger has nobody to answer) if they fail."""
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
        message = f"{trigger.get('type', 'trigger')} trigger could not start {workflow_id!r}: {exc}"
        log.warning(message, extra={"event": "trigger.error", "workflow_id": workflow_id})
        runs.append_events(
            conn,
            [],
            [
                {
                    "at": now,
                    "topic": "trigger.error",
                    "key": workflow_id,
                    "payload": {"workflow_id": workflow_id, "message": message},
                }
            ],
        )
        return None


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
    longer the active one, or params that cannot be resolved)."""
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
        if resolved is None:
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
