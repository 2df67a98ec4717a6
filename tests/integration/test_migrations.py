"""Upgrading an empty database gives exactly the schema declared in ``store/schema.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from podium.store.database import Database
from podium.store.migrate import upgrade
from podium.store.schema import metadata
from tests.support import fresh_pg_url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        with fresh_pg_url(empty=True) as url:
            yield url


def test_migrations_produce_the_declared_schema(empty_db_url: str) -> None:
    db = Database(empty_db_url)
    try:
        upgrade(db)
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
            tables = set(conn.dialect.get_table_names(conn))
        assert differences == []
        assert tables == set(metadata.tables) | {"alembic_version"}
    finally:
        db.dispose()


def test_upgrade_twice_is_harmless(empty_db_url: str) -> None:
    db = Database(empty_db_url)
    try:
        upgrade(db)
        upgrade(db)
    finally:
        db.dispose()
