"""Where Podium keeps its files and how it reaches its database."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from podium.errors import InvalidInput
from podium.events.urls import parse_sinks, split_sink_urls


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
    # Where the outbox is delivered (``PODIUM_EVENT_SINKS``); see docs/events.md.
    event_sinks: tuple[str, ...] = ()
    event_poll_s: float = 0.25
    # On a root worker: the OS login jobs of an owner mapped to none run as
    # (``PODIUM_RUN_UNMAPPED_AS``); None refuses them. See docs/security.md.
    run_unmapped_as: str | None = field(
        default_factory=lambda: os.environ.get("PODIUM_RUN_UNMAPPED_AS") or None
    )

    @classmethod
    def from_env(cls, db_url: str | None = None) -> Settings:
        home = podium_home()
        data_dir = Path(os.environ.get("PODIUM_DATA_DIR") or home / "data")
        lease = float(os.environ.get("PODIUM_LEASE_SECONDS", "15"))
        return cls(
            db_url=db_url or default_db_url(home),
            data_dir=data_dir,
            lease_s=lease,
            event_sinks=event_sinks_from_env(data_dir),
            event_poll_s=float(os.environ.get("PODIUM_EVENT_POLL_SECONDS", "0.25")),
        )


def event_sinks_from_env(data_dir: Path) -> tuple[str, ...]:
    """Unset: a JSON-lines file in the data directory; empty or ``none``: no sinks.

    Checked here, so a bad URL stops the process at start with what to fix.
    """
    text = os.environ.get("PODIUM_EVENT_SINKS")
    if text is None:
        return (f"file://{data_dir.resolve() / 'events.jsonl'}",)
    if text.strip().lower() == "none":
        return ()
    urls = split_sink_urls(text)
    try:
        parse_sinks(urls)
    except InvalidInput as exc:
        raise InvalidInput(f"PODIUM_EVENT_SINKS: {exc.message}") from None
    return urls


def number_setting(
    name: str,
    default: int,
    *,
    minimum: int,
    maximum: int,
    unit: str,
    environ: Mapping[str, str] | None = None,
) -> int:
    """The whole number the operator set in ``name`` (``default`` when unset), or InvalidInput
    saying what to write."""
    text = (os.environ if environ is None else environ).get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if not minimum <= value <= maximum:
        raise InvalidInput(
            f"{name} must be a whole number of {unit} from {minimum} to {maximum}, such as "
            f"{default}; got {text!r}"
        )
    return value
