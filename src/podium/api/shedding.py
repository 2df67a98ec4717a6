"""Load shedding: past a number of requests in flight, the API answers 429 at once.

The API serves requests on a bounded pool of threads; beyond it, requests queue, and every
caller waits longer while the server looks healthy. Counting the requests in flight and
refusing the ones past ``PODIUM_MAX_IN_FLIGHT`` (default 64) with ``429 overloaded`` and a
``Retry-After`` keeps the latency of those served bounded, and tells clients to come back
(the CLI waits and retries). ``/api/v1/health`` is never shed: a load balancer must see the
server alive. An event stream (``…/events``) holds its connection open for as long as its
client follows: streams are counted apart, up to ``PODIUM_MAX_EVENT_STREAMS`` (default
1,000), so that followers never crowd out requests.
"""

from __future__ import annotations

import json
import threading

from starlette.types import ASGIApp, Receive, Scope, Send

from podium.config import number_setting

IN_FLIGHT_ENV = "PODIUM_MAX_IN_FLIGHT"
DEFAULT_MAX_IN_FLIGHT = 64
RETRY_AFTER_S = 1
STREAMS_ENV = "PODIUM_MAX_EVENT_STREAMS"
DEFAULT_MAX_STREAMS = 1000
NEVER_SHED = ("/api/v1/health",)


def max_in_flight_from_env() -> int:
    return number_setting(
        IN_FLIGHT_ENV, DEFAULT_MAX_IN_FLIGHT, minimum=1, maximum=100_000, unit="requests"
    )


def max_streams_from_env() -> int:
    return number_setting(
        STREAMS_ENV, DEFAULT_MAX_STREAMS, minimum=1, maximum=100_000, unit="event streams"
    )


def is_stream(path: str) -> bool:
    """``/api/v1/workflows/{wf}/events`` (and not a workflow named ``events``)."""
    parts = path.split("/")
    return len(parts) == 6 and parts[:4] == ["", "api", "v1", "workflows"] and parts[5] == "events"


class LoadShedding:
    def __init__(self, app: ASGIApp, limit: int | None = None, streams: int | None = None) -> None:
        self.app = app
        self.limit = max_in_flight_from_env() if limit is None else limit
        self.streams_limit = max_streams_from_env() if streams is None else streams
        self._lock = threading.Lock()
        self.in_flight = 0
        self.streams = 0
        self.shed = 0
        """Requests answered 429 since the start (for tests and metrics)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in NEVER_SHED:
            await self.app(scope, receive, send)
            return
        stream = is_stream(path)
        with self._lock:
            if stream:
                admitted = self.streams < self.streams_limit
                self.streams += admitted
            else:
                admitted = self.in_flight < self.limit
                self.in_flight += admitted
            self.shed += not admitted
        if not admitted:
            if stream:
                await _overloaded(send, self.streams_limit, "event streams open", STREAMS_ENV)
            else:
                await _overloaded(send, self.limit, "requests in flight", IN_FLIGHT_ENV)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            with self._lock:
                if stream:
                    self.streams -= 1
                else:
                    self.in_flight -= 1


async def _overloaded(send: Send, limit: int, what: str, setting: str) -> None:
    message = f"the server is busy ({limit} {what}, {setting}); try again in {RETRY_AFTER_S} s"
    body = json.dumps(
        {"error": {"code": "overloaded", "message": message, "details": {"limit": limit}}}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(RETRY_AFTER_S).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
