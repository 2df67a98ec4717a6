"""Reading a job's log while it grows, and its last lines once it is over."""

from __future__ import annotations

from pathlib import Path

from podium.jobs.layout import LOG_FILE
from podium.vault import Redactor

TAIL_MAX_BYTES = 4096


def read_log(
    attempt_dir: Path,
    offset: int = 0,
    max_bytes: int = 1_000_000,
    redactor: Redactor | None = None,
    growing: bool = False,
) -> tuple[str, int]:
    """Text of the log from byte ``offset`` and the offset to pass next time.

    A chunk never ends inside a UTF-8 character when that can be avoided, so a reader that
    follows a growing log by offsets never sees a character broken in two. ``redactor``
    masks secrets in the chunk, reading enough around it that one cut by its edges is
    masked too (the log of a running job is masked on disk only once it ends); while the log
    is ``growing``, its last bytes wait until what follows them is written, so a secret being
    written is never shown by halves.
    """
    margin = redactor.margin if redactor else 0
    start = max(0, offset - margin)
    try:
        with open(attempt_dir / LOG_FILE, "rb") as f:
            f.seek(start)
            data = f.read(offset - start + max_bytes + margin)
    except FileNotFoundError:
        return "", offset
    before = offset - start
    chunk = data[before : before + max_bytes]
    if redactor and growing:
        chunk = chunk[: max(0, len(data) - before - margin)]
    cut = _complete_utf8_length(chunk)
    # Keep a lone broken character only when max_bytes is too small to ever hold it whole.
    if cut > 0 or len(chunk) < max_bytes:
        chunk = chunk[:cut]
    if redactor:
        chunk = redactor.window_bytes(data, before, before + len(chunk))
    return chunk.decode("utf-8", errors="replace"), offset + len(chunk)


def log_tail(attempt_dir: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of the log, at most ~4 KB: what an error message can carry."""
    try:
        with open(attempt_dir / LOG_FILE, "rb") as f:
            size = f.seek(0, 2)
            start = max(0, size - TAIL_MAX_BYTES)
            f.seek(start)
            data = f.read()
    except FileNotFoundError:
        return ""
    if start > 0:
        # The first line is probably cut; drop it unless it is all we have.
        newline = data.find(b"\n")
        if 0 <= newline < len(data) - 1:
            data = data[newline + 1 :]
    text = data.decode("utf-8", errors="replace").rstrip("\n")
    return "\n".join(text.split("\n")[-lines:]) if lines > 0 else ""


def _complete_utf8_length(chunk: bytes) -> int:
    """Length of ``chunk`` without a trailing, incomplete UTF-8 sequence."""
    for back in range(1, min(4, len(chunk)) + 1):
        byte = chunk[-back]
        if byte < 0x80:
            return len(chunk)
        if byte >= 0xC0:
            needed = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(chunk) if back >= needed else len(chunk) - back
    return len(chunk)
