"""The event stream over HTTP: server-sent events of a workflow's (or one instance's) changes.

One thread per API process tails the outbox (woken by this process's own commits, and
looking every ``POLL_S`` for those of other processes) and hands each new row to the
streams that want it; a client that follows an instance waits on its stream instead of
asking for the status again and again. Each event is the outbox row in the envelope every
sink receives, with the outbox id as the SSE ``id``: a client that reconnects with
``Last-Event-ID`` (or ``?after=``) first gets what it missed, read from the outbox.

PostgreSQL gives outbox ids at insert and commits them in any order, so an id can become
visible after a higher one: the tail remembers the ids it handed on above its low-water
mark and waits for a missing id as long as the publisher does (``GAP_GRACE_S``) before it
gives up on it (a rollback).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool

from podium.events.envelope import envelope
from podium.events.publisher import GAP_GRACE_S
from podium.store import outbox
from podium.store.database import Database
from podium.store.outbox import OutboxRow

log = logging.getLogger("podium.api.events")

POLL_S = 0.1
BATCH = 500
QUEUE_SIZE = 1000
"""Events a stream may fall behind by before it is ended (its client reconnects and
catches up from the outbox): with every stream full, a process holds at most
PODIUM_MAX_EVENT_STREAMS x QUEUE_SIZE rows."""
KEEP_ALIVE_S = 15.0
CATCH_UP_LIMIT = 100_000
"""Events a reconnecting client is sent from the outbox at most before it is live again."""
HIDDEN_TOPICS = frozenset({"audit.change"})
"""Topics a workflow's readers are not shown (the audit trail needs its own role)."""


@dataclass(frozen=True)
class Wanted:
    """What one stream follows: a workflow's events, or one instance's."""

    workflow_id: str
    instance_id: int | None = None

    @property
    def key(self) -> str:
        if self.instance_id is None:
            return self.workflow_id
        return f"{self.workflow_id}/{self.instance_id}"

    def matches(self, row: OutboxRow) -> bool:
        if row.topic in HIDDEN_TOPICS:
            return False
        if self.instance_id is not None:
            return row.key == self.key
        return row.key == self.workflow_id or row.key.startswith(self.workflow_id + "/")


_END = object()
_BEHIND = object()


@dataclass(eq=False)
class _Stream:
    wanted: Wanted
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[object] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    behind: bool = False

    def offer(self, item: object) -> None:
        """From the tail's thread: queue ``item`` on the stream's loop."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: the stream is gone
            self.loop.call_soon_threadsafe(self._put, item)

    def _put(self, item: object) -> None:
        if self.behind:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.behind = True
            self.queue.get_nowait()  # room for the marker that ends the stream
            self.queue.put_nowait(_BEHIND)


class EventHub:
    """The tail of the outbox that feeds this process's streams; started by the first."""

    def __init__(self, db: Database, *, poll_s: float = POLL_S) -> None:
        self.db = db
        self.poll_s = poll_s
        self._lock = threading.Lock()
        self._streams: set[_Stream] = set()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._stop_watching: Callable[[], None] | None = None
        self.low = 0
        """Every id at or below it has been handed on (or given up on)."""
        self._handed: set[int] = set()
        self._holes: dict[int, float] = {}

    # -- the streams' side (the event loop) -----------------------------------------

    def subscribe(self, wanted: Wanted) -> _Stream:
        stream = _Stream(wanted, asyncio.get_running_loop())
        with self._lock:
            if self._closed.is_set():
                stream.queue.put_nowait(_END)
                return stream
            self._streams.add(stream)
            if self._thread is None:
                self._start()
        return stream

    def unsubscribe(self, stream: _Stream) -> None:
        with self._lock:
            self._streams.discard(stream)

    def close(self) -> None:
        """End every stream (the server is stopping) and the tail with them."""
        with self._lock:
            self._closed.set()
            streams = list(self._streams)
            self._streams.clear()
        for stream in streams:
            stream.offer(_END)
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._stop_watching is not None:
            self._stop_watching()
            self._stop_watching = None

    # -- the tail (its own thread) --------------------------------------------------

    def _start(self) -> None:
        with self.db.read() as conn:
            self.low = outbox.latest_id(conn)  # a new stream is live from now on
        self._stop_watching = outbox.watch_commits(self.db, self._wake.set)
        self._thread = threading.Thread(target=self._run, name="podium-event-stream", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        failures = 0
        while not self._closed.is_set():
            self._wake.clear()
            try:
                full = self._tail_once()
                failures = 0
            except Exception:
                failures += 1
                delay = min(30.0, 0.25 * 2 ** min(failures, 8))
                log.exception(
                    "event stream: the outbox could not be read; retrying",
                    extra={"event": "api.events.retry", "retry_in_s": delay},
                )
                self._closed.wait(delay)
                continue
            if not full:
                self._wake.wait(self.poll_s)

    def _tail_once(self) -> bool:
        """Hand on what is new; True if there may be more right away."""
        with self.db.read() as conn:
            seen_up_to = max(self.low, max(self._handed, default=0))
            if not self._holes and outbox.latest_id(conn) <= seen_up_to:
                return False
            rows = outbox.rows_after(conn, self.low, limit=BATCH + len(self._handed))
        new = [row for row in rows if row.id not in self._handed]
        with self._lock:
            streams = list(self._streams)
        for row in new:
            for stream in streams:
                if stream.wanted.matches(row):
                    stream.offer(row)
        self._handed.update(row.id for row in new)
        self._move_low()
        return len(new) >= BATCH

    def _move_low(self) -> None:
        now = time.monotonic()
        while self._handed:
            following = self.low + 1
            if following in self._handed:
                self._handed.discard(following)
                self.low = following
                continue
            seen = self._holes.setdefault(following, now)
            if now - seen < GAP_GRACE_S:
                break
            del self._holes[following]  # rolled back: no row will ever have this id
            self.low = following
        self._holes = {hole: at for hole, at in self._holes.items() if hole > self.low}


async def follow(
    hub: EventHub, db: Database, wanted: Wanted, *, after: int | None
) -> AsyncIterator[bytes]:
    """The SSE frames of one stream: what it missed since ``after`` (from the outbox), then
    what comes, with a comment now and then so that proxies keep the connection."""
    stream = hub.subscribe(wanted)
    sent: set[int] = set()
    try:
        yield b"retry: 1000\n\n"
        if after is not None:
            last = after
            while len(sent) < CATCH_UP_LIMIT:
                rows = await run_in_threadpool(_missed, db, wanted, last)
                for row in rows:
                    sent.add(row.id)
                    yield frame(row)
                if len(rows) < BATCH:
                    break
                last = rows[-1].id
        while True:
            try:
                item = await asyncio.wait_for(stream.queue.get(), KEEP_ALIVE_S)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if item is _END:
                return
            if item is _BEHIND:
                yield b"event: behind\ndata: {}\n\n"  # reconnect with Last-Event-ID
                return
            assert isinstance(item, OutboxRow)
            if item.id in sent:
                continue
            yield frame(item)
    finally:
        hub.unsubscribe(stream)


def _missed(db: Database, wanted: Wanted, after: int) -> list[OutboxRow]:
    with db.read() as conn:
        return outbox.rows_of_key_after(
            conn, after, wanted.key, prefix=wanted.instance_id is None, limit=BATCH
        )


def frame(row: OutboxRow) -> bytes:
    data = json.dumps(envelope(row), separators=(",", ":"))
    return f"id: {row.id}\nevent: {row.topic}\ndata: {data}\n\n".encode()
