"""Where events go: a JSON-lines file and a webhook (NATS JetStream lives in ``jetstream``).

A sink delivers a whole batch or raises ``SinkUnavailable``; the publisher then keeps the
cursor where it was and tries the same events again later, so a sink never skips one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Protocol

import httpx

from podium.errors import PodiumError
from podium.events.envelope import encode, envelope
from podium.events.urls import SinkSpec
from podium.store.outbox import OutboxRow

WEBHOOK_TIMEOUT_S = 10.0


class SinkUnavailable(PodiumError):
    code = "sink_unavailable"


class Sink(Protocol):
    name: str

    def deliver(self, rows: Sequence[OutboxRow]) -> None: ...

    def close(self) -> None: ...


class FileSink:
    """Appends one line per event; the batch is on disk (fsync) before the cursor moves."""

    def __init__(self, spec: SinkSpec) -> None:
        assert spec.path is not None
        self.name = spec.name
        self.path = spec.path

    def deliver(self, rows: Sequence[OutboxRow]) -> None:
        data = b"".join(encode(row) + b"\n" for row in rows)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("ab") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise SinkUnavailable(f"cannot append to {self.path}: {exc}") from exc

    def close(self) -> None:
        pass


class WebhookSink:
    """POSTs each batch as ``{"events": [...]}``; any 2xx status acknowledges the batch."""

    def __init__(self, spec: SinkSpec, *, timeout_s: float = WEBHOOK_TIMEOUT_S) -> None:
        self.name = spec.name
        self.url = spec.url
        self.client = httpx.Client(timeout=timeout_s)

    def deliver(self, rows: Sequence[OutboxRow]) -> None:
        body = json.dumps({"events": [envelope(row) for row in rows]}, separators=(",", ":"))
        try:
            response = self.client.post(
                self.url, content=body, headers={"content-type": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise SinkUnavailable(f"webhook {self.name} unreachable: {exc}") from exc
        if not response.is_success:
            raise SinkUnavailable(f"webhook {self.name} answered {response.status_code}")

    def close(self) -> None:
        self.client.close()


def open_sink(spec: SinkSpec) -> Sink:
    if spec.kind == "file":
        return FileSink(spec)
    if spec.kind == "webhook":
        return WebhookSink(spec)
    from podium.events.jetstream import JetStreamSink

    return JetStreamSink(spec)
