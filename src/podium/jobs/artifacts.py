"""The files an attempt keeps: what its job wrote to ``PODIUM_ARTIFACTS``.

The job owns that directory, so it may hold symlinks out of it (to ``/etc/shadow``) or FIFOs:
only regular files reached without following a symlink are listed or served.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from podium.jobs.layout import ARTIFACTS_DIR

MAX_LISTED = 100
"""Names listed per attempt; a job that writes thousands of files is summarised, not dumped."""
MAX_VISITED = 10_000
"""Directory entries looked at while listing: a job cannot make the listing walk millions."""


def list_artifacts(attempt_dir: Path) -> list[str]:
    """Names of the attempt's artifacts, sorted, files in subdirectories as ``dir/name``."""
    root = attempt_dir / ARTIFACTS_DIR
    found: list[str] = []
    visited = 0
    pending = [""]
    while pending and visited < MAX_VISITED:
        prefix = pending.pop()
        try:
            with os.scandir(root / prefix if prefix else root) as entries:
                for entry in entries:
                    visited += 1
                    if visited > MAX_VISITED:
                        break
                    name = f"{prefix}/{entry.name}" if prefix else entry.name
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(name)
                    elif entry.is_file(follow_symlinks=False):
                        found.append(name)
        except OSError:
            continue
    return sorted(found, key=lambda name: PurePosixPath(name).parts)[:MAX_LISTED]


def artifact_path(attempt_dir: Path, name: str) -> Path | None:
    """The artifact ``name`` of the attempt, if it is a regular file inside its artifacts
    reached through no symlink."""
    parts = PurePosixPath(name).parts
    if not parts or any(part in ("", ".", "..", "/") for part in parts):
        return None
    path = attempt_dir / ARTIFACTS_DIR
    for index, part in enumerate(parts):
        path = path / part
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            return None
        last = index == len(parts) - 1
        if not (stat.S_ISREG(mode) if last else stat.S_ISDIR(mode)):
            return None
    return path
