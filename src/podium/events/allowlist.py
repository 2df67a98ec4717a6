"""Outbound URLs a workflow author or API caller names (alert webhooks): sent only where the
operator allowed (``PODIUM_WEBHOOK_ALLOW``), and never into the server's own network.

Event sinks (``PODIUM_EVENT_SINKS``) are the operator's own choice and are not checked here.
A URL is matched on its parsed parts (scheme, host, port, path), the way the HTTP client will
send it, so ``https://hooks.example.com.evil.test/`` or ``https://hooks.example.com@evil/``
never pass for ``https://hooks.example.com/``. The host is resolved and every address checked,
also at send time, so a name that later resolves to ``127.0.0.1`` (DNS rebinding) is refused
then. An internal address is reached only when the matching prefix names it as an IP literal,
or names ``localhost`` and it is a loopback address.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import httpx

from podium.errors import InvalidInput

ALLOW_SETTING = "PODIUM_WEBHOOK_ALLOW"
DEFAULT_PORTS = {"http": 80, "https": 443}
_PREFIX_HELP = "write https://HOST[:PORT]/PATH/ prefixes separated by commas"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # ASCII (IDNA), lower case, without a trailing dot or brackets
    port: int
    path: str  # as sent: dot segments removed, percent-escapes kept, no query

    def shown(self) -> str:
        """The URL without credentials or query, which may hold secrets."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if DEFAULT_PORTS[self.scheme] == self.port else f":{self.port}"
        return f"{self.scheme}://{host}{port}{self.path}"


def allowed_prefixes_from_env() -> tuple[str, ...]:
    """The prefixes in ``PODIUM_WEBHOOK_ALLOW``; unset or empty allows none.

    Checked here, so a bad prefix stops the process at start with what to fix.
    """
    text = os.environ.get(ALLOW_SETTING, "")
    prefixes = tuple(part.strip() for part in text.split(",") if part.strip())
    for prefix in prefixes:
        _prefix(prefix)
    return prefixes


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, as the HTTP client would see them."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def check_outbound_url(url: str, allow: Sequence[str], *, resolve: Resolver = resolve_host) -> None:
    """Raise ``InvalidInput`` unless ``url`` may be sent to; call it when the URL is given and
    again right before each send, so a changed setting or a changed DNS answer applies."""
    target = _target(url, what="the webhook URL")
    if not allow:
        raise InvalidInput(
            f"the webhook URL {target.shown()} is not allowed: this server sends webhooks only to "
            f"the URL prefixes in {ALLOW_SETTING}, and it is empty; ask the operator to add "
            "one such as https://hooks.example.com/",
            details={"url": target.shown(), "setting": ALLOW_SETTING},
        )
    prefix = next((p for p in map(_prefix, allow) if _matches(target, p)), None)
    if prefix is None:
        raise InvalidInput(
            f"the webhook URL {target.shown()} matches none of the {len(allow)} URL prefixes in "
            f"{ALLOW_SETTING}; use an allowed URL or ask the operator to add its prefix",
            details={"url": target.shown(), "setting": ALLOW_SETTING},
        )
    for address in _addresses(target, resolve):
        if _is_internal(address) and not _names_address(prefix, address):
            raise InvalidInput(
                f"the webhook URL {target.shown()} reaches the internal address {address}; "
                f"webhooks go to internal addresses only when a prefix in {ALLOW_SETTING} "
                "names that address itself (http://10.0.0.5:8080/)",
                details={"url": target.shown(), "setting": ALLOW_SETTING},
            )


def _target(url: str, *, what: str) -> _Target:
    if any(ch.isspace() or ord(ch) < 0x20 or ch == "\\" for ch in url):
        raise InvalidInput(f"{what} has a space, a control character or a backslash; remove it")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise InvalidInput(f"{what} is not a URL ({exc}); write https://HOST/PATH") from None
    scheme = parsed.scheme
    if scheme not in DEFAULT_PORTS:
        raise InvalidInput(f"{what} must start with https:// or http://, not {scheme or '?'}:")
    host = parsed.raw_host.decode("ascii").lower().rstrip(".")
    if not host:
        raise InvalidInput(f"{what} has no host; write https://HOST/PATH")
    if _plain_host(url) != host:
        raise InvalidInput(f"{what} can be read as two different hosts; write it plainly")
    path = parsed.raw_path.partition(b"?")[0].decode("ascii") or "/"
    if {".", ".."} & set(unquote(path).split("/")):
        raise InvalidInput(f"{what} has '.' or '..' in its path; write the path plainly")
    return _Target(scheme, host, parsed.port or DEFAULT_PORTS[scheme], path)


def _plain_host(url: str) -> str:
    """The host as the standard library reads it, to refuse URLs two parsers disagree on."""
    try:
        host = (urlsplit(url).hostname or "").rstrip(".")
        return host if host.isascii() else host.encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        return ""


def _prefix(prefix: str) -> _Target:
    what = f"{ALLOW_SETTING}: {prefix!r}"
    parts = urlsplit(prefix)
    if "@" in parts.netloc or parts.query or parts.fragment:
        raise InvalidInput(f"{what} has credentials, a query or a fragment; {_PREFIX_HELP}")
    try:
        return _target(prefix, what=what)
    except InvalidInput as exc:
        raise InvalidInput(f"{exc.message}; {_PREFIX_HELP}") from None


def _matches(target: _Target, prefix: _Target) -> bool:
    if (target.scheme, target.host, target.port) != (prefix.scheme, prefix.host, prefix.port):
        return False
    if prefix.path.endswith("/"):
        return target.path.startswith(prefix.path)
    return target.path == prefix.path or target.path.startswith(prefix.path + "/")


def _addresses(target: _Target, resolve: Resolver) -> list[IPAddress]:
    literal = _ip_literal(target.host)
    if literal is not None:
        return [literal]
    try:
        found = resolve(target.host, target.port)
    except OSError as exc:
        raise InvalidInput(
            f"the host {target.host} of the webhook URL does not resolve ({exc}); check the URL"
        ) from None
    addresses = [a for a in map(_ip_literal, found) if a is not None]
    if not addresses or len(addresses) != len(found):
        raise InvalidInput(f"the host {target.host} of the webhook URL has no usable address")
    return addresses


def _ip_literal(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(unquote(text))
    except ValueError:
        return None


def _is_internal(address: IPAddress) -> bool:
    embedded: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        embedded += [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
        if address.teredo is not None:
            embedded += list(address.teredo)
    return any(
        not a.is_global
        or a.is_loopback
        or a.is_private
        or a.is_link_local
        or a.is_reserved
        or a.is_multicast
        or a.is_unspecified
        for a in embedded
    )


def _names_address(prefix: _Target, address: IPAddress) -> bool:
    """An operator who wrote the address itself, or ``localhost`` for loopback, meant it."""
    if prefix.host == "localhost":
        return address.is_loopback
    return _ip_literal(prefix.host) == address
