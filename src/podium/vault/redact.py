"""Keeping secrets out of everything Podium shows: logs, params, outputs, files.

Masks keep the length of what they hide (``*`` for each character, or each byte), so offsets
into a log stay valid after redaction and a paged log reader can mask each page on its own.
"""

from __future__ import annotations

import builtins
import errno
import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import AnyStr

MIN_SECRET_CHARS = 4
"""Secrets shorter than this are not searched for in free text.

A one- or two-character secret (``"1"``, ``"no"``) occurs everywhere: masking it would blank a
whole log and, by the gaps, reveal the secret anyway. Such a value is still hidden wherever it
stands whole (a param value, a JSON string): see :meth:`Redactor.redact_value`.
"""

REDACTED = "[secret]"
"""What a view shows in place of a param or an output that is a secret as a whole."""

SHORT_MASK = "****"
"""What replaces a whole value equal to a short secret: a fixed width, so it hides the length."""

MAX_MASKED_ASSET_BYTES = 64 << 10
"""A text asset up to this size is masked wherever a job could show it; a larger file (a jar,
a dataset) is not searched for."""

FILE_CHUNK_BYTES = 1 << 20
"""How much of a file :meth:`Redactor.file` holds at once, besides two margins."""


class Redactor:
    """Masks a fixed set of secret strings, and their JSON-escaped forms, wherever they occur.

    Overlapping occurrences are masked as their union, so two secrets sharing characters
    leave none of either visible. ``bool(redactor)`` is false when there is nothing to hide.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        whole = frozenset(value for value in secrets if value)
        needles: set[str] = set()
        for value in whole:
            if len(value) < MIN_SECRET_CHARS:
                continue
            needles.add(value)
            # How a secret looks inside JSON text: ASCII-escaped and as-is apart from quotes.
            needles.add(json.dumps(value)[1:-1])
            needles.add(json.dumps(value, ensure_ascii=False)[1:-1])
        self._whole = whole
        self._short = frozenset(value for value in whole if len(value) < MIN_SECRET_CHARS)
        self._text_needles = tuple(sorted(needles, key=lambda n: (-len(n), n)))
        self._byte_needles = tuple(
            sorted({n.encode("utf-8") for n in needles}, key=lambda n: (-len(n), n))
        )
        self.margin = max((len(n) for n in self._byte_needles), default=1) - 1
        """Bytes of context a chunk needs on each side so a secret cut by its edge is masked."""

    @classmethod
    def of(cls, values: Iterable[str]) -> Redactor:
        """A redactor hiding ``values`` (empty strings are ignored: they hide nothing)."""
        return cls(values)

    def including(self, values: Iterable[str]) -> Redactor:
        """A redactor hiding these values too."""
        return Redactor(self._whole | frozenset(values))

    def __bool__(self) -> bool:
        return bool(self._whole)

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._whole)} secrets>)"

    def text(self, value: str) -> str:
        """``value`` with every secret of at least MIN_SECRET_CHARS masked, same length."""
        return _masked_text(value, _spans(value, self._text_needles))

    def bytes(self, data: builtins.bytes) -> builtins.bytes:
        """:meth:`text` on UTF-8 bytes: each byte of a secret becomes ``*``, same length."""
        return _masked_bytes(data, _spans(data, self._byte_needles))

    def redact_value(self, value: str) -> str:
        """A whole value for display: a short secret is ``****``, anything else :meth:`text`."""
        if value in self._short:
            return SHORT_MASK
        return self.text(value)

    def json(self, value: object) -> object:
        """A copy of a JSON value with every string (keys included) passed to :meth:`redact_value`.

        A number whose JSON text shows a secret (a numeric PIN param) becomes ``****``: a view
        loses its type, a secret stays hidden. Two keys masked to the same text merge.
        """
        if isinstance(value, str):
            return self.redact_value(value)
        if isinstance(value, dict):
            return {
                (self.redact_value(k) if isinstance(k, str) else k): self.json(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.json(item) for item in value]
        if isinstance(value, int | float) and not isinstance(value, bool) and self._whole:
            shown = json.dumps(value)
            if self.redact_value(shown) != shown:
                return SHORT_MASK
        return value

    def window_bytes(self, data: builtins.bytes, start: int, end: int) -> builtins.bytes:
        """``data[start:end]`` masked, ``data`` being that window read with margins around it.

        The caller reads up to :attr:`margin` extra bytes on each side of the window it wants
        (fewer only at the file's edges); a secret crossing the window's edge is then whole in
        ``data`` and is masked, though only the window is returned.
        """
        if not 0 <= start <= end <= len(data):
            raise ValueError(f"window [{start}, {end}) is not inside the {len(data)} bytes read")
        if not self._byte_needles:
            return data[start:end]
        return self.bytes(data)[start:end]

    def file(self, path: Path | str, *, dir_fd: int | None = None) -> bool:
        """Mask every secret in the file at ``path`` in place; True when anything changed.

        Streams in chunks of FILE_CHUNK_BYTES, each seen with the original bytes around it, so
        memory stays bounded. It never follows a symlink and leaves anything but a regular file
        with one link alone (returning False): a hard link planted by a job could name a file
        that is not the job's. ``dir_fd``: ``path`` is relative to that open directory. Call it
        on a file nobody is writing (a finished step's log).
        """
        if not self._byte_needles:
            return False
        flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
        try:
            fd = os.open(path, flags, dir_fd=dir_fd)
        except (IsADirectoryError, FileNotFoundError):
            return False
        except OSError as error:
            if error.errno == errno.ELOOP:
                return False
            raise
        try:
            found = os.fstat(fd)
            if not stat.S_ISREG(found.st_mode) or found.st_nlink != 1:
                return False
            changed = self._rewrite(fd)
            if changed:
                os.fsync(fd)
            return changed
        finally:
            os.close(fd)

    def _rewrite(self, fd: int) -> bool:
        margin = self.margin
        before = b""  # the original (unmasked) bytes just before `position`
        position = 0
        changed = False
        chunk = os.pread(fd, FILE_CHUNK_BYTES + margin, position)
        while chunk:
            body_length = min(FILE_CHUNK_BYTES, len(chunk))
            masked = self.window_bytes(before + chunk, len(before), len(before) + body_length)
            if masked != chunk[:body_length]:
                os.pwrite(fd, masked, position)
                changed = True
            # The look-ahead was read before this write, so it still holds original bytes.
            before = (before + chunk[:body_length])[-margin:] if margin else b""
            position += body_length
            ahead = chunk[body_length:]
            more = os.pread(fd, FILE_CHUNK_BYTES + margin - len(ahead), position + len(ahead))
            chunk = ahead + more
        return changed


def asset_secrets(content: builtins.bytes) -> set[str]:
    """What of an asset a job could print: a text file's content, and each of its lines (a
    credentials file, a key in PEM). Binary or large files give nothing to search for."""
    if len(content) > MAX_MASKED_ASSET_BYTES:
        return set()
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return set()
    found = {line.strip() for line in text.splitlines()}
    found.add(text.strip())
    return {value for value in found if len(value) >= MIN_SECRET_CHARS}


def _spans(data: AnyStr, needles: tuple[AnyStr, ...]) -> list[tuple[int, int]]:
    """Every occurrence of every needle, overlaps included, merged into disjoint spans."""
    found: list[tuple[int, int]] = []
    for needle in needles:
        index = data.find(needle)
        while index != -1:
            found.append((index, index + len(needle)))
            index = data.find(needle, index + 1)
    if not found:
        return []
    found.sort()
    merged = [found[0]]
    for start, end in found[1:]:
        last_start, last_end = merged[-1]
        if start <= last_end:
            merged[-1] = (last_start, max(last_end, end))
        else:
            merged.append((start, end))
    return merged


def _masked_text(value: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return value
    pieces: list[str] = []
    cursor = 0
    for start, end in spans:
        pieces.append(value[cursor:start])
        pieces.append("*" * (end - start))
        cursor = end
    pieces.append(value[cursor:])
    return "".join(pieces)


def _masked_bytes(data: bytes, spans: list[tuple[int, int]]) -> bytes:
    if not spans:
        return data
    out = bytearray(data)
    for start, end in spans:
        out[start:end] = b"*" * (end - start)
    return bytes(out)
