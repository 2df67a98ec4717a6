"""Fixtures shared by every layer: ``db_url`` runs a test on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import Podium, fresh_pg_url, running_podium


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'podium.db'}"
    else:
        with fresh_pg_url() as url:
            yield url


@pytest.fixture
def podium(db_url: str, tmp_path: Path) -> Iterator[Podium]:
    """An engine plus API in this process on ``db_url``, on a real port."""
    with running_podium(db_url, tmp_path / "data") as running:
        yield running
