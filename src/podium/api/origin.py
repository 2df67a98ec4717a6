"""Requests from web pages that are not Podium's own, refused before the app sees them.

A browser lets any page send a form POST, or a ``fetch`` without a body, to any address, the
server's loopback port included, and a DNS name an attacker controls can be made to resolve to
127.0.0.1 (DNS rebinding). So, in front of FastAPI:

- the ``Host`` header must name this server: on a loopback address, ``localhost``, ``127.0.0.1``
  or ``[::1]`` (any port), else anything unless ``PODIUM_ALLOWED_HOSTS`` lists the names;
- a request that changes something (``POST``, ``PUT``, ``PATCH``, ``DELETE``) with an
  ``Origin`` other than the server's own is refused, and so is one whose body is a form or
  plain text (what a page can send without asking the server first): Podium takes JSON, and
  octet streams for assets.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

ALLOWED_HOSTS_ENV = "PODIUM_ALLOWED_HOSTS"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})


def allowed_hosts_for(
    bind_host: str, environ: dict[str, str] | None = None
) -> frozenset[str] | None:
    """The names a request's Host may carry (None: any): ``PODIUM_ALLOWED_HOSTS`` when set,
    else the loopback names for a server bound to loopback."""
    env = os.environ if environ is None else environ
    listed = {name.strip().lower() for name in env.get(ALLOWED_HOSTS_ENV, "").split(",")}
    listed.discard("")
    if listed:
        return frozenset(listed | LOOPBACK_NAMES)
    if bind_host.strip("[]") in LOOPBACK_NAMES:
        return LOOPBACK_NAMES
    return None


class SameOrigin:
    def __init__(self, app: ASGIApp, hosts: Iterable[str] | None = None) -> None:
        self.app = app
        self.hosts = None if hosts is None else frozenset(h.lower() for h in hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        refusal = self._refusal(scope["method"], host, headers)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, code, message = refusal
        body = json.dumps({"error": {"code": code, "message": message, "details": {}}}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _refusal(
        self, method: str, host: str, headers: dict[str, str]
    ) -> tuple[int, str, str] | None:
        name = _host_name(host)
        if self.hosts is not None and name not in self.hosts:
            return (
                421,
                "misdirected_request",
                f"this server does not answer for the host {host[:100]!r}: reach it as "
                f"{', '.join(sorted(self.hosts))} (or list the name in {ALLOWED_HOSTS_ENV})",
            )
        if method not in CHANGING:
            return None
        origin = headers.get("origin")
        if origin is not None and _host_of_origin(origin) != host.lower():
            return (
                403,
                "cross_origin",
                f"a change sent from another origin ({origin[:100]!r}) is refused: Podium's API "
                "is called by its CLI, its UI and your services, not by other web pages",
            )
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type in FORM_TYPES:
            return (
                415,
                "unsupported_media_type",
                f"a {content_type} body is refused: send JSON (Content-Type: application/json)",
            )
        return None


def _host_name(host: str) -> str:
    """``example.com:8080`` -> ``example.com``; ``[::1]:80`` -> ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _host_of_origin(origin: str) -> str | None:
    if origin == "null":
        return None
    parts = urlsplit(origin)
    return parts.netloc.lower() or None
