"""Fixtures shared by every layer: ``db_url`` runs a test on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import Podium, fresh_pg_url, running_podium

# The CLI's credentials and the runtime files of servers the tests start (which hold their
# admin tokens) go to a directory of this test run, never to the user's ~/.config/podium.
os.environ["PODIUM_CONFIG_DIR"] = tempfile.mkdtemp(prefix="podium-test-config-")
os.environ.pop("PODIUM_TOKEN", None)
# Run as root (CI), an engine refuses the jobs of owners mapped to no OS user. Tests about
# something else run theirs as root, as before; those about identity unset this.
os.environ.setdefault("PODIUM_RUN_UNMAPPED_AS", "root")


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
