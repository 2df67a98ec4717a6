"""Principals (users and service accounts), their API tokens, and the OS users their jobs
run as."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from podium.store.schema import os_users, principals, tokens


@dataclass(frozen=True)
class PrincipalRow:
    name: str
    kind: str
    role: str | None
    groups: tuple[str, ...]
    disabled: bool
    created_by: str | None
    created_at: float


@dataclass(frozen=True)
class TokenRow:
    token_id: str
    principal: str
    name: str
    secret_sha256: str
    role: str | None
    workflows: tuple[str, ...] | None
    expires_at: float | None
    created_at: float
    revoked_at: float | None
    last_used_at: float | None


def _principal(row: Any) -> PrincipalRow:
    m = row._mapping
    return PrincipalRow(
        name=m["name"],
        kind=m["kind"],
        role=m["role"],
        groups=tuple(m["groups"] or ()),
        disabled=bool(m["disabled"]),
        created_by=m["created_by"],
        created_at=m["created_at"],
    )


def _token(row: Any) -> TokenRow:
    m = dict(row._mapping)
    workflows = m.pop("workflows")
    return TokenRow(**m, workflows=tuple(workflows) if workflows is not None else None)


def get_principal(conn: sa.Connection, name: str) -> PrincipalRow | None:
    row = conn.execute(sa.select(principals).where(principals.c.name == name)).first()
    return _principal(row) if row is not None else None


def list_principals(conn: sa.Connection) -> list[PrincipalRow]:
    rows = conn.execute(sa.select(principals).order_by(principals.c.name)).all()
    return [_principal(r) for r in rows]


def count_principals(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(principals)).scalar_one())


def add_principal(
    conn: sa.Connection,
    *,
    name: str,
    kind: str,
    role: str | None,
    groups: Sequence[str],
    created_by: str | None,
    now: float,
) -> bool:
    """Add a principal; False when the name is taken."""
    if get_principal(conn, name) is not None:
        return False
    conn.execute(
        principals.insert().values(
            name=name,
            kind=kind,
            role=role,
            groups=list(groups),
            disabled=False,
            created_by=created_by,
            created_at=now,
        )
    )
    return True


def update_principal(conn: sa.Connection, name: str, **values: Any) -> bool:
    if "groups" in values:
        values["groups"] = list(values["groups"])
    done = conn.execute(principals.update().where(principals.c.name == name).values(**values))
    return bool(done.rowcount)


def add_token(conn: sa.Connection, row: dict[str, Any]) -> None:
    conn.execute(tokens.insert().values(**row))


def find_token(conn: sa.Connection, token_id: str) -> tuple[TokenRow, PrincipalRow] | None:
    """A token and its principal, by the token's public id (one query)."""
    query = (
        sa.select(tokens, *[c.label(f"p_{c.name}") for c in principals.c])
        .join(principals, principals.c.name == tokens.c.principal)
        .where(tokens.c.token_id == token_id)
    )
    row = conn.execute(query).first()
    if row is None:
        return None
    m = row._mapping
    token = TokenRow(
        token_id=m["token_id"],
        principal=m["principal"],
        name=m["name"],
        secret_sha256=m["secret_sha256"],
        role=m["role"],
        workflows=tuple(m["workflows"]) if m["workflows"] is not None else None,
        expires_at=m["expires_at"],
        created_at=m["created_at"],
        revoked_at=m["revoked_at"],
        last_used_at=m["last_used_at"],
    )
    principal = PrincipalRow(
        name=m["p_name"],
        kind=m["p_kind"],
        role=m["p_role"],
        groups=tuple(m["p_groups"] or ()),
        disabled=bool(m["p_disabled"]),
        created_by=m["p_created_by"],
        created_at=m["p_created_at"],
    )
    return token, principal


def list_tokens(conn: sa.Connection, principal: str | None = None) -> list[TokenRow]:
    query = sa.select(tokens).order_by(tokens.c.principal, tokens.c.created_at)
    if principal is not None:
        query = query.where(tokens.c.principal == principal)
    return [_token(r) for r in conn.execute(query).all()]


def token_named(conn: sa.Connection, principal: str, name: str) -> TokenRow | None:
    row = conn.execute(
        sa.select(tokens).where(tokens.c.principal == principal, tokens.c.name == name)
    ).first()
    return _token(row) if row is not None else None


def revoke_token(conn: sa.Connection, token_id: str, *, now: float) -> bool:
    done = conn.execute(
        tokens.update()
        .where(tokens.c.token_id == token_id, tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(done.rowcount)


def touch_token(conn: sa.Connection, token_id: str, *, now: float) -> None:
    conn.execute(tokens.update().where(tokens.c.token_id == token_id).values(last_used_at=now))


def os_user_of(conn: sa.Connection, names: Sequence[str]) -> str | None:
    """The OS user mapped to the first of ``names`` that has a mapping."""
    if not names:
        return None
    rows = dict(
        conn.execute(
            sa.select(os_users.c.name, os_users.c.os_user).where(os_users.c.name.in_(names))
        ).all()
    )
    return next((rows[n] for n in names if n in rows), None)


def list_os_users(conn: sa.Connection) -> list[Any]:
    return list(conn.execute(sa.select(os_users).order_by(os_users.c.name)).all())


def set_os_user(
    conn: sa.Connection, name: str, os_user: str | None, *, set_by: str | None, now: float
) -> None:
    conn.execute(os_users.delete().where(os_users.c.name == name))
    if os_user is not None:
        conn.execute(
            os_users.insert().values(name=name, os_user=os_user, set_by=set_by, set_at=now)
        )
