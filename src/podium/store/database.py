"""Opening the database: SQLite tuned for one writer, PostgreSQL through psycopg 3."""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event

from podium.errors import EngineLocked, InvalidInput
from podium.store import dialect

T = TypeVar("T")


def normalize_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith(("sqlite://", "postgresql+psycopg://")):
        return url
    raise InvalidInput(
        f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://USER@HOST/DB"
    )


class Database:
    """A SQLAlchemy engine plus what differs between the two dialects."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.dialect = dialect.for_url(self.url)
        if self.dialect is dialect.SQLITE:
            self.engine = _sqlite_engine(self.url, begin="BEGIN IMMEDIATE")
            self.reader = _sqlite_engine(self.url, begin="BEGIN")
        else:
            self.engine = self.reader = _pg_engine(self.url)
        self._lock_fd: int | None = None
        self._write_lock: contextlib.AbstractContextManager[object] = (
            threading.RLock() if self.dialect.single_engine else contextlib.nullcontext()
        )

    @property
    def sqlite_path(self) -> Path | None:
        if not self.dialect.single_engine:
            return None
        path = self.engine.url.database
        return Path(path) if path and path != ":memory:" else None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite, so writers queue, never deadlock).

        On SQLite, this process's writers also queue on a lock first: SQLite's own busy
        handler waits by sleeping (up to 100 ms a time), which would put the engine and the
        API to sleep behind each other.
        """
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    def run_transaction(self, work: Callable[[sa.Connection], T], *, attempts: int = 5) -> T:
        """Run ``work`` in one write transaction, again if PostgreSQL chose it as the victim
        of a deadlock (everything it did was rolled back, so running it again is safe)."""
        for attempt in range(attempts):
            try:
                with self.transaction() as conn:
                    return work(conn)
            except sa.exc.DBAPIError as exc:
                if attempt + 1 >= attempts or not is_retryable(exc):
                    raise
                time.sleep(random.uniform(0.005, 0.02) * 2**attempt)
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with self.reader.connect() as conn:
            yield conn
            conn.rollback()

    def lock_single_engine(self) -> None:
        """SQLite has one engine: a second one on the same file is refused, not raced."""
        path = self.sqlite_path
        if path is None:
            return
        fd = os.open(f"{path}.engine-lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise EngineLocked(
                f"another Podium engine already runs on {path}; stop it, or use PostgreSQL "
                "to run several workers"
            ) from None
        self._lock_fd = fd

    def dispose(self) -> None:
        self.engine.dispose()
        self.reader.dispose()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _create_private(path: Path) -> None:
    """A new database file is its owner's alone (0600, in a 0700 directory when that is new):
    it holds every param, output and log line. SQLite gives its -wal and -shm files the same
    mode. An existing file keeps the mode its operator chose."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))


def _sqlite_engine(url: str, *, begin: str) -> sa.Engine:
    path = sa.make_url(url).database
    if path and path != ":memory:":
        _create_private(Path(path))
    engine = sa.create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": None},
        pool_size=8,
        max_overflow=8,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=OFF")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql(begin)

    return engine


def _pg_engine(url: str) -> sa.Engine:
    return sa.create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
"""deadlock_detected and serialization_failure: the transaction can simply run again."""


def is_retryable(exc: sa.exc.DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES
