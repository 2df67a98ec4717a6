"""Starting Podium's processes: the embedded server, the API alone, a worker alone."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import uvicorn
from fastapi import FastAPI

from podium.api.app import create_app
from podium.config import Settings
from podium.control.workflows import load_files
from podium.errors import InvalidInput
from podium.events.publisher import start_publisher
from podium.logs import configure_logging
from podium.store.database import Database
from podium.store.migrate import upgrade
from podium.triggers.scheduler import Scheduler
from podium.worker.loop import Worker

log = logging.getLogger("podium")


def open_database(db_url: str | None, *, engine: bool = False) -> tuple[Database, Settings]:
    """The database at its current schema; ``engine`` also claims SQLite's single engine."""
    settings = Settings.from_env(db_url)
    db = Database(settings.db_url)
    if engine:
        db.lock_single_engine()
    upgrade(db)
    return db, settings


# Told the URL a server answers at once it listens (the CLI prints its ready line).
OnReady = Callable[[str], None]


def run_server(
    *,
    db_url: str | None,
    host: str,
    port: int,
    load: Sequence[Path] = (),
    on_ready: OnReady = lambda _url: None,
) -> None:
    """API, engine and triggers in one process: the embedded default."""
    configure_logging()
    db, settings = open_database(db_url, engine=True)
    if load:
        load_files(db, list(load), now=process_clock()())
    worker = Worker(db, settings, clock=process_clock())
    worker.start()
    services = _background_services(db, settings, worker)
    app = create_app(db, on_work=worker.notify, clock=worker.clock, plans=worker.plans)
    try:
        _serve(app, host, port, on_ready=_logged(on_ready, settings.db_url))
    finally:
        for service in reversed(services):
            service.stop()
        worker.stop()
        db.dispose()


def run_api(*, db_url: str, host: str, port: int, on_ready: OnReady = lambda _url: None) -> None:
    """The API alone; workers (``podium worker``) run the instances it starts."""
    configure_logging()
    if not db_url.startswith("postgres"):
        raise InvalidInput(
            "podium api runs apart from the engine only on PostgreSQL; on SQLite use "
            "`podium server`, which runs both in one process"
        )
    db, settings = open_database(db_url)
    app = create_app(db, clock=process_clock())
    try:
        _serve(app, host, port, on_ready=_logged(on_ready, settings.db_url))
    finally:
        db.dispose()


def run_worker(*, db_url: str, worker_id: str | None = None) -> None:
    """One engine replica; any number of them share a PostgreSQL database."""
    configure_logging()
    if not db_url.startswith("postgres"):
        raise InvalidInput(
            "several workers need PostgreSQL; on SQLite use `podium server`, whose engine is "
            "the only writer of its file"
        )
    db, settings = open_database(db_url)
    worker = Worker(db, settings, clock=process_clock())
    if worker_id:
        worker.worker_id = worker_id
    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    worker.start()
    services = _background_services(db, settings, worker)
    try:
        done.wait()
    finally:
        for service in reversed(services):
            service.stop()
        worker.stop()
        db.dispose()


def process_clock() -> Callable[[], float]:
    """The clock of this process: the system's, moved by ``PODIUM_CLOCK_OFFSET_SECONDS``.

    A testing aid only (tests put a real process just before a cron tick); the offset is
    read here, once, and every clock of the process (API, engine, scheduler) uses it.
    """
    offset = float(os.environ.get("PODIUM_CLOCK_OFFSET_SECONDS") or 0)
    if not offset:
        return time.time
    return lambda: time.time() + offset


class Service(Protocol):
    def stop(self) -> None: ...


def _background_services(db: Database, settings: Settings, worker: Worker) -> list[Service]:
    """What runs beside the engine in a server or worker process, started in this order
    and stopped in the reverse one."""
    services: list[Service] = []
    scheduler = Scheduler(db, clock=worker.clock, on_work=worker.notify)
    scheduler.start()
    services.append(scheduler)
    services.append(start_publisher(db, settings.event_sinks, poll_s=settings.event_poll_s))
    return services


class _Server(uvicorn.Server):
    """uvicorn's server, telling ``on_ready`` its URL once its socket listens."""

    def __init__(self, config: uvicorn.Config, on_ready: OnReady) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.should_exit or not self.servers:
            return
        bound = self.servers[0].sockets[0].getsockname()
        self._on_ready(listening_url(self.config.host, int(bound[1])))


def listening_url(host: str, port: int) -> str:
    """The URL a client on this machine uses for a server bound to ``host``."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _logged(on_ready: OnReady, db_url: str) -> OnReady:
    def ready(url: str) -> None:
        log.info(
            "server listening", extra={"event": "server.start", "url": url, "db": _redact(db_url)}
        )
        on_ready(url)

    return ready


def _serve(app: FastAPI, host: str, port: int, *, on_ready: OnReady) -> None:
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, timeout_graceful_shutdown=5
    )
    _Server(config, on_ready).run()


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
    return url


__all__ = ["open_database", "run_api", "run_server", "run_worker"]
