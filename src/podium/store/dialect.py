"""What differs between SQLite and PostgreSQL, as capabilities callers ask for.

Only this module names a database: the rest of ``store/`` (and ``Database``'s users) ask
"can rows be locked?", "is there LISTEN/NOTIFY?", never "is this PostgreSQL?".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

Query = TypeVar("Query", bound=sa.Select[Any])


@dataclass(frozen=True)
class Dialect:
    name: str
    """SQLAlchemy's name of the dialect."""
    row_locks: bool
    """``SELECT ... FOR UPDATE`` holds rows until commit. Without it (SQLite) a write
    transaction holds the whole database (``BEGIN IMMEDIATE``), which is as safe."""
    skip_locked: bool
    """``FOR UPDATE SKIP LOCKED``: claim rows no other transaction holds, without waiting."""
    listen_notify: bool
    """``LISTEN``/``NOTIFY`` wake other processes when work or triggers change."""
    advisory_locks: bool
    """Transaction-scoped advisory locks serialise work on a key across processes."""
    single_engine: bool
    """One engine process owns the database: its leases are stale at start, and it may grant
    and deliver inline, since no other process competes for the same rows."""

    def lock(self, query: Query, *, skip_locked: bool = False) -> Query:
        """``query`` reading rows for change: locked until commit where rows can be."""
        if not self.row_locks:
            return query
        return query.with_for_update(skip_locked=skip_locked and self.skip_locked)

    def insert_missing(self, table: sa.Table, key: Sequence[str]) -> sa.Insert:
        """An INSERT that skips the rows whose ``key`` exists already."""
        if self.name == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(key))
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(key))

    def notify(self, conn: sa.Connection, channel: str) -> None:
        """Wake the processes listening on ``channel`` (at commit); nothing without NOTIFY."""
        if self.listen_notify:
            conn.execute(sa.text("SELECT pg_notify(:c, '')"), {"c": channel})


SQLITE = Dialect(
    name="sqlite",
    row_locks=False,
    skip_locked=False,
    listen_notify=False,
    advisory_locks=False,
    single_engine=True,
)
POSTGRESQL = Dialect(
    name="postgresql",
    row_locks=True,
    skip_locked=True,
    listen_notify=True,
    advisory_locks=True,
    single_engine=False,
)


def for_url(url: str) -> Dialect:
    """The dialect of a normalised database URL (``sqlite://...`` or ``postgresql+...``)."""
    return SQLITE if url.startswith("sqlite") else POSTGRESQL


def of(conn: sa.Connection) -> Dialect:
    """The dialect a connection speaks."""
    return POSTGRESQL if conn.dialect.name == "postgresql" else SQLITE
