"""The database: schema, migrations and every query; nothing outside ``store/`` speaks SQL.

Callers hold a :data:`Connection` (a transaction opened by :class:`~podium.store.database.Database`)
and :data:`Row` values, and name them through these aliases rather than importing SQLAlchemy.
"""

from __future__ import annotations

import sqlalchemy as sa

Connection = sa.Connection
Row = sa.Row
DatabaseError = sa.exc.SQLAlchemyError
"""Any failure of the database layer (a deadlock victim, a lost connection, a bad query)."""
DriverError = sa.exc.DBAPIError
"""A failure the database driver reported (the server down, a connection lost)."""
Unreachable = sa.exc.OperationalError
"""The database does not answer (down, restarting, refusing connections)."""

__all__ = ["Connection", "DatabaseError", "DriverError", "Row", "Unreachable"]
