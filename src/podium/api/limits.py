"""A cap on request bodies, so one caller cannot make the server hold gigabytes in memory.

Pure ASGI, in front of FastAPI: a declared ``Content-Length`` over the limit is answered 413
before a byte is read; a body without one (chunked) is counted while the app reads it, and the
413 replaces whatever the app would have answered once the count passes the limit.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from podium.config import number_setting

MiB = 1024 * 1024
LIMIT_SETTING = "PODIUM_MAX_BODY_BYTES"
DEFAULT_MAX_BODY_BYTES = 16 * MiB

log = logging.getLogger("podium.api")


def max_body_bytes_from_env() -> int:
    return number_setting(
        LIMIT_SETTING, DEFAULT_MAX_BODY_BYTES, minimum=1, maximum=2**40, unit="bytes"
    )


def add_body_limit(app: FastAPI, *, overrides: Mapping[str, int] | None = None) -> None:
    """Cap every request body at ``PODIUM_MAX_BODY_BYTES``; ``overrides`` maps a path prefix
    (``/api/v1/assets``) to its own limit."""
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes_from_env(), overrides=overrides)


class _BodyTooLarge(BaseException):
    """Raised from ``receive`` once the body passes the limit. A ``BaseException``, so the
    app's ``except Exception`` (FastAPI turns those into a 400) cannot swallow it."""


class BodyLimit:
    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int | None = None,
        overrides: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_body_bytes_from_env() if max_bytes is None else max_bytes
        by_length = sorted((overrides or {}).items(), key=lambda item: -len(item[0]))
        self.overrides = [(prefix.rstrip("/"), limit) for prefix, limit in by_length]

    def limit_for(self, path: str) -> tuple[int, str]:
        """The limit for ``path`` and where it comes from (for the message)."""
        for prefix, limit in self.overrides:
            if path == prefix or path.startswith(prefix + "/"):
                return limit, f"the limit for {prefix}"
        return self.max_bytes, LIMIT_SETTING

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, source = self.limit_for(str(scope.get("path", "")))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, scope, f"is {declared} bytes", limit, source)
            return
        guard = _Guard(receive, send, limit)
        try:
            await self.app(scope, guard.receive, guard.send)
        except BaseException as exc:
            if guard.received_over is None or not _follows_refusal(exc):
                raise
        if guard.received_over is None:
            return
        if guard.app_started:  # too late for a 413: end the exchange, the server closes it
            return
        await _refuse(send, scope, f"is at least {guard.received_over} bytes", limit, source)


class _Guard:
    """Counts the body as the app receives it; once over, the app's answer is dropped."""

    def __init__(self, receive: Receive, send: Send, limit: int) -> None:
        self._receive = receive
        self._send = send
        self.limit = limit
        self.received = 0
        self.received_over: int | None = None
        self.app_started = False

    async def receive(self) -> Message:
        if self.received_over is not None:
            raise _BodyTooLarge()
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                self.received_over = self.received
                raise _BodyTooLarge()
        return message

    async def send(self, message: Message) -> None:
        if self.received_over is not None and not self.app_started:
            return
        if message["type"] == "http.response.start":
            self.app_started = True
        await self._send(message)


def _follows_refusal(exc: BaseException) -> bool:
    """Ours, or what the app made of it; never a cancellation or an interrupt."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_follows_refusal(inner) for inner in exc.exceptions)
    return isinstance(exc, _BodyTooLarge | Exception)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, scope: Scope, size: str, limit: int, source: str) -> None:
    message = f"the request body {size}; this server takes at most {limit} ({source})"
    log.info(
        "request body too large",
        extra={"event": "api.body_too_large", "path": scope.get("path"), "limit": limit},
    )
    body = json.dumps(
        {"error": {"code": "payload_too_large", "message": message, "details": {"limit": limit}}}
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),  # the rest of the body is not worth reading
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
