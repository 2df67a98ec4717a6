"""Starting an instance of a workflow's active version for a trigger (not a person)."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from podium.engine import params
from podium.errors import PodiumError
from podium.expr import Budgets, ExprError
from podium.store import instances as store_instances
from podium.store import runs
from podium.store.schema import workflows

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
    run = params.run_namespace(
        workflow_id=workflow_id,
        instance_id=numbered.instance_id,
        version=active,
        trigger=trigger,
        at=now,
    )
    try:
        resolved = params.resolve_run_params(
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
