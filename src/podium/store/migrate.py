"""Bringing a database to the schema this code expects, with Alembic."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from podium.store.database import Database

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.url)
    return config


def upgrade(db: Database) -> None:
    """Apply every pending migration in one transaction (idempotent)."""
    config = alembic_config(db)
    with db.engine.begin() as conn:
        if db.dialect.advisory_locks:
            # Replicas starting together must not race to create the same tables.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(727274)"))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
