"""Assets: named files stored sealed (see :mod:`podium.vault`), read only by the worker that
hands them to a job. The plaintext is never here: ``sealed`` is a vault blob."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from podium.errors import Conflict
from podium.store.schema import assets


@dataclass(frozen=True)
class AssetRow:
    """An asset as listed: everything but its sealed content."""

    name: str
    owner: str
    size: int
    """Bytes of plaintext."""
    key_id: str
    """The master key its data key is wrapped under."""
    created_by: str | None
    created_at: float
    updated_at: float

    def as_json(self) -> dict[str, Any]:
        """The listing's fields (never the content); times as stored (epoch seconds)."""
        return {
            "name": self.name,
            "owner": self.owner,
            "size": self.size,
            "key_id": self.key_id,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class SealedAsset:
    """An asset with its sealed blob: only the worker and a rewrap read these."""

    row: AssetRow
    sealed: bytes = field(repr=False)


_LISTED = (
    assets.c.name,
    assets.c.owner,
    assets.c.size,
    assets.c.key_id,
    assets.c.created_by,
    assets.c.created_at,
    assets.c.updated_at,
)


def _row(found: Any) -> AssetRow:
    m = found._mapping
    return AssetRow(
        name=m["name"],
        owner=m["owner"],
        size=int(m["size"]),
        key_id=m["key_id"],
        created_by=m["created_by"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _sealed(found: Any) -> SealedAsset:
    return SealedAsset(_row(found), bytes(found._mapping["sealed"]))


def get_asset(conn: sa.Connection, name: str) -> AssetRow | None:
    found = conn.execute(sa.select(*_LISTED).where(assets.c.name == name)).first()
    return _row(found) if found is not None else None


def list_assets(conn: sa.Connection) -> list[AssetRow]:
    return [_row(r) for r in conn.execute(sa.select(*_LISTED).order_by(assets.c.name))]


def sealed_assets(conn: sa.Connection, names: Sequence[str]) -> dict[str, SealedAsset]:
    """The assets named (those that exist), with their sealed blobs, in one query."""
    if not names:
        return {}
    query = sa.select(*_LISTED, assets.c.sealed).where(assets.c.name.in_(sorted(set(names))))
    return {found.name: _sealed(found) for found in conn.execute(query)}


def put_asset(
    conn: sa.Connection,
    *,
    name: str,
    owner: str,
    size: int,
    sealed: bytes,
    key_id: str,
    by: str | None,
    now: float,
) -> bool:
    """Store an asset, replacing one of that name (keeping when and by whom it was created);
    True when it is new. The caller has checked, in this transaction, that it may replace it."""
    values = {"owner": owner, "size": size, "sealed": sealed, "key_id": key_id, "updated_at": now}
    done = conn.execute(assets.update().where(assets.c.name == name).values(**values))
    if done.rowcount:
        return False
    try:
        conn.execute(assets.insert().values(name=name, created_by=by, created_at=now, **values))
    except sa.exc.IntegrityError:
        raise Conflict(
            f"asset {name!r} was stored by someone else at the same moment; store it again"
        ) from None
    return True


def delete_asset(conn: sa.Connection, name: str) -> bool:
    return bool(conn.execute(assets.delete().where(assets.c.name == name)).rowcount)


def assets_to_rewrap(
    conn: sa.Connection, primary_key_id: str, *, after: str, limit: int
) -> list[SealedAsset]:
    """Up to ``limit`` assets named after ``after`` (by name, a page at a time) whose data key
    is wrapped under another key than the primary."""
    query = (
        sa.select(*_LISTED, assets.c.sealed)
        .where(assets.c.key_id != primary_key_id, assets.c.name > after)
        .order_by(assets.c.name)
        .limit(limit)
    )
    return [_sealed(found) for found in conn.execute(query)]


def count_assets(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(assets)).scalar_one())


def replace_sealed(conn: sa.Connection, asset: SealedAsset, *, sealed: bytes, key_id: str) -> bool:
    """Swap an asset's blob for the same content re-wrapped under ``key_id``, unless it changed
    since it was read (put again, deleted, or re-wrapped by someone else): False then."""
    done = conn.execute(
        assets.update()
        .where(
            assets.c.name == asset.row.name,
            assets.c.key_id == asset.row.key_id,
            assets.c.updated_at == asset.row.updated_at,
        )
        .values(sealed=sealed, key_id=key_id)
    )
    return bool(done.rowcount)
