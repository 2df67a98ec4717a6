"""Workflows and their immutable versions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from podium.engine.topics import Topic
from podium.errors import VersionNotFound, WorkflowNotFound
from podium.store import dialect, signals
from podium.store.schema import workflow_versions, workflows
from podium.store.timeline import append_events
from podium.store.triggers import sync_cron_trigger


@dataclass(frozen=True)
class WorkflowRow:
    workflow_id: str
    owner: str | None
    description: str | None
    active_version: int | None
    latest_version: int
    created_at: float
    updated_at: float
    last_instance_id: int


@dataclass(frozen=True)
class VersionRow:
    workflow_id: str
    version: int
    canonical_yaml: str
    definition: dict[str, Any]
    created_by: str | None
    created_at: float


_WORKFLOW_COLUMNS = (
    workflows.c.workflow_id,
    workflows.c.owner,
    workflows.c.description,
    workflows.c.active_version,
    workflows.c.latest_version,
    workflows.c.created_at,
    workflows.c.updated_at,
    workflows.c.last_instance_id,
)


def get_workflow(conn: sa.Connection, workflow_id: str, *, for_update: bool = False) -> WorkflowRow:
    query = sa.select(*_WORKFLOW_COLUMNS).where(workflows.c.workflow_id == workflow_id)
    if for_update:
        query = dialect.of(conn).lock(query)
    row = conn.execute(query).first()
    if row is None:
        raise WorkflowNotFound(f"no workflow {workflow_id!r} on this server; push it first")
    return WorkflowRow(**row._mapping)


def list_workflows(conn: sa.Connection) -> list[WorkflowRow]:
    rows = conn.execute(sa.select(*_WORKFLOW_COLUMNS).order_by(workflows.c.workflow_id)).all()
    return [WorkflowRow(**r._mapping) for r in rows]


def push_version(
    conn: sa.Connection,
    *,
    workflow_id: str,
    canonical_yaml: str,
    definition: dict[str, Any],
    owner: str | None,
    description: str | None,
    created_by: str | None,
    activate: bool,
    now: float,
) -> int:
    """Store version N+1; the unique (workflow, version) key makes racing pushes safe."""
    if dialect.of(conn).advisory_locks:
        # Serialise pushes of one id so version numbers never collide.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:w))"), {"w": workflow_id})
    current = conn.execute(
        sa.select(workflows.c.latest_version, workflows.c.active_version).where(
            workflows.c.workflow_id == workflow_id
        )
    ).first()
    version = (current.latest_version if current else 0) + 1
    conn.execute(
        workflow_versions.insert().values(
            workflow_id=workflow_id,
            version=version,
            canonical_yaml=canonical_yaml,
            definition=definition,
            created_by=created_by,
            created_at=now,
        )
    )
    values: dict[str, Any] = {
        "latest_version": version,
        "owner": owner,
        "description": description,
        "updated_at": now,
    }
    if activate:
        values["active_version"] = version
    if current is None:
        conn.execute(
            workflows.insert().values(
                workflow_id=workflow_id,
                created_at=now,
                active_version=version if activate else None,
                **{k: v for k, v in values.items() if k != "active_version"},
            )
        )
    else:
        conn.execute(
            workflows.update().where(workflows.c.workflow_id == workflow_id).values(**values)
        )
    if activate:
        sync_cron_trigger(conn, workflow_id, version, definition, now=now)
        sync_signal_trigger(conn, workflow_id, version, definition)
    _announce(
        conn,
        Topic.WORKFLOW_PUSHED.value,
        workflow_id,
        {"version": version, "active": activate},
        now,
    )
    if activate:
        _announce_active(
            conn, workflow_id, version, current.active_version if current else None, now
        )
    return version


def set_active_version(
    conn: sa.Connection, workflow_id: str, version: int | None, *, now: float
) -> WorkflowRow:
    wf = get_workflow(conn, workflow_id, for_update=True)
    if version is not None and not 1 <= version <= wf.latest_version:
        raise VersionNotFound(
            f"workflow {workflow_id!r} has versions 1 to {wf.latest_version}, not {version}"
        )
    conn.execute(
        workflows.update()
        .where(workflows.c.workflow_id == workflow_id)
        .values(active_version=version, updated_at=now)
    )
    definition = None if version is None else get_version(conn, workflow_id, version).definition
    sync_cron_trigger(conn, workflow_id, version, definition, now=now)
    sync_signal_trigger(conn, workflow_id, version, definition)
    if version != wf.active_version:
        _announce_active(conn, workflow_id, version, wf.active_version, now)
    return get_workflow(conn, workflow_id)


def get_version(conn: sa.Connection, workflow_id: str, version: int) -> VersionRow:
    row = conn.execute(
        sa.select(
            workflow_versions.c.workflow_id,
            workflow_versions.c.version,
            workflow_versions.c.canonical_yaml,
            workflow_versions.c.definition,
            workflow_versions.c.created_by,
            workflow_versions.c.created_at,
        ).where(
            workflow_versions.c.workflow_id == workflow_id,
            workflow_versions.c.version == version,
        )
    ).first()
    if row is None:
        raise VersionNotFound(f"workflow {workflow_id!r} has no version {version}")
    return VersionRow(**row._mapping)


def list_versions(conn: sa.Connection, workflow_id: str) -> list[tuple[int, float, str | None]]:
    rows = conn.execute(
        sa.select(
            workflow_versions.c.version,
            workflow_versions.c.created_at,
            workflow_versions.c.created_by,
        )
        .where(workflow_versions.c.workflow_id == workflow_id)
        .order_by(workflow_versions.c.version.desc())
    ).all()
    return [(r.version, r.created_at, r.created_by) for r in rows]


def unblock(conn: sa.Connection, workflow_id: str) -> int:
    """Failed instances so far no longer hold a strict_sequential workflow back."""
    through = get_workflow(conn, workflow_id, for_update=True).last_instance_id
    conn.execute(
        workflows.update()
        .where(workflows.c.workflow_id == workflow_id)
        .values(unblocked_through=through)
    )
    return through


def sync_signal_trigger(
    conn: sa.Connection, workflow_id: str, version: int | None, definition: dict[str, Any] | None
) -> None:
    """The signal trigger of the active version (none when inactive) is the one that waits."""
    groups = ((definition or {}).get("trigger") or {}).get("signals") or []
    signals.sync_slots(conn, workflow_id, version, groups)


def _announce_active(
    conn: sa.Connection, workflow_id: str, version: int | None, previous: int | None, now: float
) -> None:
    if version is None:
        _announce(
            conn, Topic.WORKFLOW_DEACTIVATED.value, workflow_id, {"previous_version": previous}, now
        )
    else:
        payload = {"version": version, "previous_version": previous}
        _announce(conn, Topic.WORKFLOW_ACTIVATED.value, workflow_id, payload, now)


def _announce(
    conn: sa.Connection, topic: str, workflow_id: str, detail: dict[str, Any], now: float
) -> None:
    """An outbox event in the transaction of the change it describes (docs/events.md)."""
    payload = {"workflow_id": workflow_id, **detail}
    append_events(conn, [], [{"at": now, "topic": topic, "key": workflow_id, "payload": payload}])


def active_version(conn: sa.Connection, workflow_id: str) -> int | None:
    """The workflow's active version; None when it is inactive or does not exist."""
    found: int | None = conn.execute(
        sa.select(workflows.c.active_version).where(workflows.c.workflow_id == workflow_id)
    ).scalar_one_or_none()
    return found


def definitions(
    conn: sa.Connection, keys: set[tuple[str, int]]
) -> dict[tuple[str, int], dict[str, Any]]:
    """The stored definitions of several (workflow, version) pairs, in one query."""
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


def load_definition(conn: sa.Connection, workflow_id: str, version: int) -> dict[str, Any]:
    row = conn.execute(
        sa.select(workflow_versions.c.definition).where(
            workflow_versions.c.workflow_id == workflow_id,
            workflow_versions.c.version == version,
        )
    ).scalar_one()
    return dict(row)
