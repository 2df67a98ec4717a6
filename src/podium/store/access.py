"""Per-workflow roles: from a definition's ``access:`` and from ``podium access``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from podium.store.schema import workflow_access, workflows

DEFINITION = "definition"
GRANT = "grant"


def grants_for(conn: sa.Connection, workflow_id: str, names: Sequence[str]) -> list[str]:
    """The roles ``names`` (a principal and its groups) hold on the workflow."""
    rows = conn.execute(
        sa.select(workflow_access.c.role).where(
            workflow_access.c.workflow_id == workflow_id, workflow_access.c.name.in_(names)
        )
    ).all()
    return [r.role for r in rows]


def owner_and_grants(
    conn: sa.Connection, workflow_id: str, names: Sequence[str]
) -> tuple[bool, str | None, list[str]]:
    """(the workflow exists, its owner, the roles ``names`` hold on it), in one query."""
    query = (
        sa.select(workflows.c.owner, workflow_access.c.role)
        .select_from(
            workflows.outerjoin(
                workflow_access,
                sa.and_(
                    workflow_access.c.workflow_id == workflows.c.workflow_id,
                    workflow_access.c.name.in_(names),
                ),
            )
        )
        .where(workflows.c.workflow_id == workflow_id)
    )
    rows = conn.execute(query).all()
    if not rows:
        return False, None, []
    return True, rows[0].owner, [r.role for r in rows if r.role is not None]


def visible_workflows(conn: sa.Connection, names: Sequence[str]) -> set[str]:
    """The workflows ``names`` own or hold a role on."""
    owned = conn.execute(
        sa.select(workflows.c.workflow_id).where(workflows.c.owner.in_(names))
    ).scalars()
    granted = conn.execute(
        sa.select(workflow_access.c.workflow_id).where(workflow_access.c.name.in_(names))
    ).scalars()
    return {*owned, *granted}


def list_access(conn: sa.Connection, workflow_id: str) -> list[Any]:
    query = (
        sa.select(workflow_access)
        .where(workflow_access.c.workflow_id == workflow_id)
        .order_by(workflow_access.c.name, workflow_access.c.source)
    )
    return list(conn.execute(query).all())


def replace_definition_access(
    conn: sa.Connection, workflow_id: str, access: Mapping[str, str], *, by: str | None, now: float
) -> None:
    """The grants of the pushed definition's ``access:`` replace the previous version's."""
    conn.execute(
        workflow_access.delete().where(
            workflow_access.c.workflow_id == workflow_id, workflow_access.c.source == DEFINITION
        )
    )
    if access:
        conn.execute(
            workflow_access.insert(),
            [
                {
                    "workflow_id": workflow_id,
                    "name": name,
                    "source": DEFINITION,
                    "role": role,
                    "granted_by": by,
                    "granted_at": now,
                }
                for name, role in access.items()
            ],
        )


def grant(
    conn: sa.Connection, workflow_id: str, name: str, role: str, *, by: str | None, now: float
) -> None:
    conn.execute(
        workflow_access.delete().where(
            workflow_access.c.workflow_id == workflow_id,
            workflow_access.c.name == name,
            workflow_access.c.source == GRANT,
        )
    )
    conn.execute(
        workflow_access.insert().values(
            workflow_id=workflow_id,
            name=name,
            source=GRANT,
            role=role,
            granted_by=by,
            granted_at=now,
        )
    )


def revoke(conn: sa.Connection, workflow_id: str, name: str) -> bool:
    done = conn.execute(
        workflow_access.delete().where(
            workflow_access.c.workflow_id == workflow_id,
            workflow_access.c.name == name,
            workflow_access.c.source == GRANT,
        )
    )
    return bool(done.rowcount)
