"""NATS JetStream sink: one message per event, acknowledged by the stream before the cursor
moves, with ``Nats-Msg-Id`` = outbox id so JetStream drops a redelivered event itself."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from podium.events.envelope import encode
from podium.events.sinks import SinkUnavailable
from podium.events.urls import SinkSpec
from podium.store.outbox import OutboxRow

CONNECT_TIMEOUT_S = 2
ACK_TIMEOUT_S = 5.0


class JetStreamSink:
    """Used from one thread; it runs its own event loop only while it delivers."""

    def __init__(self, spec: SinkSpec) -> None:
        self.name = spec.name
        self.server = spec.url
        self.stream = spec.stream
        self.subject = spec.subject
        self._loop = asyncio.new_event_loop()
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None

    def deliver(self, rows: Sequence[OutboxRow]) -> None:
        try:
            self._loop.run_until_complete(self._publish(rows))
        except SinkUnavailable:
            self._loop.run_until_complete(self._drop())
            raise
        except Exception as exc:
            # Any failure (refused, closed, ack timed out) leaves the cursor where it was;
            # the next attempt opens a fresh connection.
            self._loop.run_until_complete(self._drop())
            raise SinkUnavailable(f"NATS sink {self.name} failed: {exc!r}") from exc

    def close(self) -> None:
        self._loop.run_until_complete(self._drop())
        self._loop.close()

    async def _publish(self, rows: Sequence[OutboxRow]) -> None:
        js = await self._jetstream()
        # One at a time, each acknowledged: a failure in the middle never lets a later
        # event land in the stream before an earlier one.
        for row in rows:
            await js.publish(
                f"{self.subject}.{row.topic}",
                encode(row),
                timeout=ACK_TIMEOUT_S,
                stream=self.stream,
                headers={"Nats-Msg-Id": str(row.id)},
            )

    async def _jetstream(self) -> JetStreamContext:
        if self._js is not None and self._nc is not None and self._nc.is_connected:
            return self._js
        await self._drop()
        self._nc = await nats.connect(
            self.server,
            allow_reconnect=False,
            connect_timeout=CONNECT_TIMEOUT_S,
            name="podium-events",
        )
        js = self._nc.jetstream()
        try:
            await js.stream_info(self.stream)
        except NotFoundError:
            await js.add_stream(name=self.stream, subjects=[f"{self.subject}.>"])
        self._js = js
        return js

    async def _drop(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), timeout=CONNECT_TIMEOUT_S)
