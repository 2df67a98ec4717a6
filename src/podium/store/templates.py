"""Job templates registered on the server, each registration a new immutable version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from podium.errors import Conflict
from podium.store.schema import templates


@dataclass(frozen=True)
class TemplateRow:
    name: str
    version: int
    description: str | None
    parameters: dict[str, Any]
    script: str
    created_by: str | None
    created_at: float


_COLUMNS = (
    templates.c.name,
    templates.c.version,
    templates.c.description,
    templates.c.parameters,
    templates.c.script,
    templates.c.created_by,
    templates.c.created_at,
)


def register_template(
    conn: sa.Connection,
    *,
    name: str,
    description: str | None,
    parameters: dict[str, Any],
    script: str,
    created_by: str | None,
    now: float,
) -> int:
    """Store the next version of template ``name``; returns its number (1 for a new one)."""
    latest = conn.execute(
        sa.select(sa.func.max(templates.c.version)).where(templates.c.name == name)
    ).scalar()
    version = int(latest or 0) + 1
    try:
        conn.execute(
            templates.insert().values(
                name=name,
                version=version,
                description=description,
                parameters=parameters,
                script=script,
                created_by=created_by,
                created_at=now,
            )
        )
    except sa.exc.IntegrityError:
        raise Conflict(
            f"template {name!r} was registered by someone else at the same moment; "
            "register it again"
        ) from None
    return version


def latest_template(conn: sa.Connection, name: str) -> TemplateRow | None:
    """The newest version of ``name``, or None if it was never registered here."""
    row = conn.execute(
        sa.select(*_COLUMNS)
        .where(templates.c.name == name)
        .order_by(templates.c.version.desc())
        .limit(1)
    ).first()
    return TemplateRow(**row._mapping) if row is not None else None


def latest_templates(conn: sa.Connection) -> list[TemplateRow]:
    """The newest version of every registered template, by name."""
    newest = (
        sa.select(templates.c.name, sa.func.max(templates.c.version).label("version"))
        .group_by(templates.c.name)
        .subquery()
    )
    rows = conn.execute(
        sa.select(*_COLUMNS)
        .join(
            newest,
            sa.and_(templates.c.name == newest.c.name, templates.c.version == newest.c.version),
        )
        .order_by(templates.c.name)
    )
    return [TemplateRow(**row._mapping) for row in rows]
