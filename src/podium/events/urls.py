"""Sink URLs (``PODIUM_EVENT_SINKS``): checked at start, so a typo stops the process, not
the delivery."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, urlsplit, urlunsplit

from podium.errors import InvalidInput

SinkKind = Literal["file", "webhook", "nats"]
NAME_LIMIT = 100  # outbox_cursors.sink
NATS_QUERY = ("stream", "subject")
_HELP = (
    "use file:///ABSOLUTE/PATH.jsonl, http(s)://HOST/PATH or "
    "nats://HOST:PORT[?stream=NAME&subject=PREFIX], separated by commas"
)


@dataclass(frozen=True)
class SinkSpec:
    """One configured sink; ``name`` keys its cursor, so it must not change between starts."""

    kind: SinkKind
    url: str
    name: str
    path: Path | None = None
    stream: str = "PODIUM"
    subject: str = "podium.events"


def split_sink_urls(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def parse_sinks(urls: tuple[str, ...]) -> list[SinkSpec]:
    specs = [parse_sink(url) for url in urls]
    names = [spec.name for spec in specs]
    for name in names:
        if names.count(name) > 1:
            raise InvalidInput(f"the event sink {name!r} is named twice; keep one")
    return specs


def parse_sink(url: str) -> SinkSpec:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        return _file_sink(url, parts.netloc, parts.path)
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise InvalidInput(f"event sink {url!r} has no host; {_HELP}")
        return SinkSpec("webhook", url, sink_name(url))
    if scheme == "nats":
        return _nats_sink(url)
    raise InvalidInput(f"event sink {url!r} has an unknown scheme {parts.scheme!r}; {_HELP}")


def _file_sink(url: str, netloc: str, path: str) -> SinkSpec:
    if netloc not in ("", "localhost") or not path.startswith("/"):
        raise InvalidInput(
            f"event sink {url!r} is not an absolute file URL; write file:///ABSOLUTE/PATH.jsonl "
            "(three slashes)"
        )
    return SinkSpec("file", url, sink_name(f"file://{path}"), path=Path(path))


def _nats_sink(url: str) -> SinkSpec:
    parts = urlsplit(url)
    if not parts.hostname:
        raise InvalidInput(f"event sink {url!r} has no host; write nats://HOST:4222")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - set(NATS_QUERY))
    if unknown:
        raise InvalidInput(
            f"event sink {url!r} has unknown options {unknown}; a nats URL takes only "
            "?stream=NAME&subject=PREFIX"
        )
    stream = query.get("stream", ["PODIUM"])[-1]
    subject = query.get("subject", ["podium.events"])[-1].rstrip(".")
    if not stream or any(c in stream for c in ". *>"):
        raise InvalidInput(f"event sink {url!r}: stream {stream!r} must be a plain name")
    if not subject or any(c in subject for c in " *>"):
        raise InvalidInput(f"event sink {url!r}: subject {subject!r} must be a plain prefix")
    server = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    return SinkSpec("nats", server, sink_name(url), stream=stream, subject=subject)


def sink_name(url: str) -> str:
    """The URL without its credentials, hashed down when it would not fit its column."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    name = urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, ""))
    if len(name) <= NAME_LIMIT:
        return name
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    return f"{name[: NAME_LIMIT - 17]}#{digest}"
