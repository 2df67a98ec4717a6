"""Starting Podium's processes: the embedded server, the API alone, a worker alone."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import uvicorn
from fastapi import FastAPI

from podium import credentials, threads
from podium.api.app import create_app
from podium.api.context import AuthSettings
from podium.api.origin import allowed_hosts_for
from podium.config import Settings, number_setting, podium_home
from podium.control import principals
from podium.control.workflows import load_files, os_user
from podium.definition.fields import principal_name_problem
from podium.errors import InvalidInput, PodiumError, Unauthenticated
from podium.events.publisher import start_publisher
from podium.logs import configure_logging
from podium.store import Unreachable
from podium.store.database import Database
from podium.store.migrate import upgrade
from podium.triggers.scheduler import Scheduler
from podium.worker.loop import Worker

log = logging.getLogger("podium")


DB_WAIT_ENV = "PODIUM_DB_WAIT_SECONDS"
DB_WAIT_S = 120
"""How long a starting process waits for a database that does not answer yet (restarting)."""


def open_database(db_url: str | None, *, engine: bool = False) -> tuple[Database, Settings]:
    """The database at its current schema; ``engine`` also claims SQLite's single engine.

    A database that does not answer (PostgreSQL restarting, not up yet) is waited for with
    back-off for up to ``PODIUM_DB_WAIT_SECONDS`` (120), saying what it waits for."""
    settings = Settings.from_env(db_url)
    db = Database(settings.db_url)
    if engine:
        db.lock_single_engine()
    _upgrade_when_up(db, settings.db_url)
    return db, settings


def _upgrade_when_up(db: Database, db_url: str) -> None:
    wait_s = _wait_seconds()
    deadline = time.monotonic() + wait_s
    delay = 0.5
    while True:
        try:
            upgrade(db)
            return
        except Unreachable as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            if time.monotonic() >= deadline:
                raise DatabaseUnreachable(
                    f"the database at {_redact(db_url)} did not answer for {wait_s:g} s "
                    f"({reason}); start it, or wait longer with {DB_WAIT_ENV}"
                ) from None
            log.warning(
                f"waiting for the database at {_redact(db_url)} ({reason}); "
                f"trying again in {delay:.1f} s",
                extra={"event": "db.wait", "retry_in_s": delay},
            )
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 10.0)


class DatabaseUnreachable(PodiumError):
    code = "database_unreachable"
    http_status = 503


def _wait_seconds() -> float:
    return float(number_setting(DB_WAIT_ENV, DB_WAIT_S, minimum=0, maximum=86400, unit="seconds"))


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
    auth = _auth_for(host)
    db, settings = open_database(db_url, engine=True)
    if load:
        load_files(db, list(load), now=process_clock()())
    admin = local_admin(db, auth)
    threads.stop_on_thread_death(lambda: os.kill(os.getpid(), signal.SIGTERM))
    worker = Worker(db, settings, clock=process_clock())
    worker.start()
    services = _background_services(db, settings, worker)
    app = create_app(
        db,
        on_work=worker.notify,
        clock=worker.clock,
        plans=worker.plans,
        auth=auth,
        hosts=allowed_hosts_for(host),
    )
    ready = _announced(_logged(on_ready, settings.db_url), admin)
    try:
        _serve(app, host, port, on_ready=ready)
    finally:
        ready.forget()
        for service in reversed(services):
            service.stop()
        worker.stop()
        db.dispose()
    _exit_if_a_thread_died()


def run_api(*, db_url: str, host: str, port: int, on_ready: OnReady = lambda _url: None) -> None:
    """The API alone; workers (``podium worker``) run the instances it starts."""
    configure_logging()
    if not db_url.startswith("postgres"):
        raise InvalidInput(
            "podium api runs apart from the engine only on PostgreSQL; on SQLite use "
            "`podium server`, which runs both in one process"
        )
    auth = _auth_for(host)
    db, settings = open_database(db_url)
    admin = local_admin(db, auth)
    threads.stop_on_thread_death(lambda: os.kill(os.getpid(), signal.SIGTERM))
    app = create_app(db, clock=process_clock(), auth=auth, hosts=allowed_hosts_for(host))
    ready = _announced(_logged(on_ready, settings.db_url), admin)
    try:
        _serve(app, host, port, on_ready=ready)
    finally:
        ready.forget()
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
    threads.stop_on_thread_death(done.set)
    worker.start()
    services = _background_services(db, settings, worker)
    try:
        done.wait()
    finally:
        for service in reversed(services):
            service.stop()
        worker.stop()
        db.dispose()
    _exit_if_a_thread_died()


def _exit_if_a_thread_died() -> None:
    """After a clean stop caused by a thread that died: exit with a status that says so."""
    if threads.dead():
        raise SystemExit(threads.EXIT_STATUS)


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

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Event streams never end by themselves: end them first, or the graceful shutdown
        # waits its whole timeout for them.
        hub = getattr(getattr(self.config.app, "state", None), "event_hub", None)
        if hub is not None:
            hub.close()
        await super().shutdown(sockets=sockets)

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


LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
ADMIN_TOKEN_FILE = "admin.token"
"""Under PODIUM_HOME: the token of the first admin, written once when the server bootstraps."""


def _auth_for(host: str) -> AuthSettings:
    """The API's authentication; ``PODIUM_AUTH=none`` only on a loopback address."""
    auth = AuthSettings.from_env()
    if auth.mode == "none" and host not in LOOPBACK_HOSTS:
        raise InvalidInput(
            f"PODIUM_AUTH=none lets anyone who reaches the port act as an admin; it is refused "
            f"on --host {host}. Listen on 127.0.0.1, or leave PODIUM_AUTH unset (tokens)"
        )
    return auth


@dataclass(frozen=True)
class LocalAdmin:
    """The admin token this process tells its own user's CLI about, and where it is kept."""

    name: str
    token: str
    path: Path
    created: bool


def local_admin(db: Database, auth: AuthSettings) -> LocalAdmin | None:
    """The first admin, made when the database has no principal yet, and its token.

    The admin is the OS user who started the server (jobs run as that user). Its token is
    written once to PODIUM_HOME/admin.token (0600); a later start reads it back from there, so
    the CLI of the same user keeps working with no login. None when authentication is off, or
    the file is gone or no longer valid (log in with a token instead).
    """
    if auth.mode == "none":
        return None
    path = podium_home() / ADMIN_TOKEN_FILE
    name = _principal_name(os_user())
    token = principals.bootstrap_admin(db, name, os_user=os_user(), now=process_clock()())
    if token is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        credentials.write_private(path, token + "\n")
        log.info(
            f"created the admin {name}; its token is in {path}",
            extra={"event": "identity.bootstrap", "admin": name, "token_file": str(path)},
        )
        return LocalAdmin(name, token, path, created=True)
    stored = credentials.read_private_text(path)
    if stored is None:
        return None
    try:
        principals.authenticate_token(db, stored.strip(), now=process_clock()())
    except Unauthenticated:
        return None
    return LocalAdmin(name, stored.strip(), path, created=False)


def _principal_name(user: str | None) -> str:
    """A principal name for an OS login (``admin`` when it has none or an odd one)."""
    if user and principal_name_problem(user) is None:
        return user
    return "admin"


class _Announcer:
    """On ready: tells this user's CLI the server's URL and admin token (a 0600 file under
    the config directory, as Jupyter does), and prints where the token is."""

    def __init__(self, on_ready: OnReady, admin: LocalAdmin | None) -> None:
        self._on_ready = on_ready
        self._admin = admin
        self._url: str | None = None

    def __call__(self, url: str) -> None:
        admin = self._admin
        if admin is not None:
            self._url = url
            try:
                credentials.write_server_file(url, admin.token, admin.path)
            except OSError as exc:
                log.warning(
                    f"could not tell the CLI where this server is: {exc}",
                    extra={"event": "identity.runtime_file", "error": str(exc)},
                )
        self._on_ready(url)
        if admin is not None and admin.created:
            print(
                f"Created the admin {admin.name}; its token is in {admin.path} (podium commands "
                "run by this user find it; anyone else: podium login)",
                flush=True,
            )

    def forget(self) -> None:
        if self._url is not None:
            credentials.remove_server_file(self._url)


def _announced(on_ready: OnReady, admin: LocalAdmin | None) -> _Announcer:
    return _Announcer(on_ready, admin)


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
