"""Reading the files a job wrote, which the worker (often root) must not trust.

The job owns the directories those files are in, so it may have put a symlink (to
``/etc/shadow``), a FIFO (that would block the reader forever) or gigabytes where a small JSON
file was expected. Every read here refuses to follow a final symlink, never blocks, takes
only regular files and stops at a size limit.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


def read_job_file(path: Path, max_bytes: int) -> bytes | None:
    """At most ``max_bytes`` of the regular file ``path``; None if it is missing, a symlink,
    or anything but a regular file."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EACCES):
            return None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks: list[bytes] = []
        left = max_bytes
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def job_file_size(path: Path) -> int | None:
    """The size of the regular file ``path`` (not following a symlink), or None."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def is_job_file(path: Path) -> bool:
    """``path`` is a regular file itself, not a symlink to one."""
    return job_file_size(path) is not None
