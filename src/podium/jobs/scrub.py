"""After a job ends: the inputs that may hold secrets go, and what it wrote is masked.

``io/params.json`` is removed for every job (the step's params are in the database, shown).
For an instance with secrets, the files Podium shows or reads back are masked in place with
its :class:`~podium.vault.Redactor`: the log, the rendered script, the job's outputs, error
and milestones, and executed notebooks among its artifacts. A job owns ``io/`` and
``artifacts/``, so those are opened without following a symlink, directory or file, and a
file with more than one link is left alone (see :meth:`Redactor.file`). Other artifacts are
the job's own files and are not rewritten.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from podium.jobs.layout import (
    ARTIFACTS_DIR,
    ERROR_FILE,
    IO_DIR,
    LOG_FILE,
    MILESTONES_FILE,
    OUTPUTS_FILE,
    PARAMS_FILE,
    SCRIPT_FILE,
)
from podium.vault import Redactor

logger = logging.getLogger(__name__)

MASKED_IN_ATTEMPT = (LOG_FILE, SCRIPT_FILE)
MASKED_IN_IO = tuple(Path(name).name for name in (OUTPUTS_FILE, ERROR_FILE, MILESTONES_FILE))
NOTEBOOK_SUFFIX = ".ipynb"
MAX_ARTIFACTS_SEEN = 10_000
"""Entries of ``artifacts/`` looked at for notebooks: a job cannot keep the worker busy."""

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def scrub_attempt(attempt_dir: Path, redactor: Redactor | None) -> None:
    """Remove the job's params file and, when there are secrets, mask them in its files.
    Safe to run again (a worker that took the attempt over does)."""
    with _directory(attempt_dir / IO_DIR) as io_fd:
        if io_fd is not None:
            with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
                os.unlink(Path(PARAMS_FILE).name, dir_fd=io_fd)
            if redactor:
                for name in MASKED_IN_IO:
                    _mask(redactor, name, io_fd, attempt_dir)
    if not redactor:
        return
    with _directory(attempt_dir) as attempt_fd:
        if attempt_fd is not None:
            for name in MASKED_IN_ATTEMPT:
                _mask(redactor, name, attempt_fd, attempt_dir)
    with _directory(attempt_dir / ARTIFACTS_DIR) as artifacts_fd:
        if artifacts_fd is not None:
            for name in _notebooks(artifacts_fd):
                _mask(redactor, name, artifacts_fd, attempt_dir)


def _notebooks(directory: int) -> list[str]:
    found = []
    with os.scandir(directory) as entries:
        for seen, entry in enumerate(entries):
            if seen >= MAX_ARTIFACTS_SEEN:
                break
            if entry.name.endswith(NOTEBOOK_SUFFIX) and entry.is_file(follow_symlinks=False):
                found.append(entry.name)
    return found


def _mask(redactor: Redactor, name: str, directory: int, attempt_dir: Path) -> None:
    try:
        redactor.file(name, dir_fd=directory)
    except OSError as exc:
        logger.error(
            "a job's file could not be masked",
            extra={
                "event": "secrets_not_masked",
                "attempt_dir": str(attempt_dir),
                "file": name,
                "error": exc.strerror or str(exc),
            },
        )


@contextlib.contextmanager
def _directory(path: Path) -> Iterator[int | None]:
    """The directory at ``path`` opened (None if it is missing or is not a real directory)."""
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError:
        yield None
        return
    try:
        yield fd
    finally:
        os.close(fd)
