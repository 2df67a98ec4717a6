"""Where Podium keeps its files and how it reaches its database."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path


def podium_home() -> Path:
    return Path(os.environ.get("PODIUM_HOME") or Path.home() / ".podium").expanduser()


def default_db_url(home: Path | None = None) -> str:
    return f"sqlite:///{(home or podium_home()) / 'podium.db'}"


@dataclass(frozen=True)
class Settings:
    """Knobs of one engine process; every duration is in seconds."""

    db_url: str
    data_dir: Path
    lease_s: float = 15.0
    claim_batch: int = 200
    kill_grace_s: float = 5.0
    host: str = field(default_factory=socket.gethostname)

    @classmethod
    def from_env(cls, db_url: str | None = None) -> Settings:
        home = podium_home()
        data_dir = Path(os.environ.get("PODIUM_DATA_DIR") or home / "data")
        lease = float(os.environ.get("PODIUM_LEASE_SECONDS", "15"))
        return cls(db_url=db_url or default_db_url(home), data_dir=data_dir, lease_s=lease)
