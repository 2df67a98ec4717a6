"""A step's assets: files (jars, keys, configs, possibly decrypted secrets) on disk only while
its job runs.

They are written into the attempt's ``assets/`` directory at launch (0700, files 0600, owned by
the job's user), the shim removes them as soon as the job's command ends, and collecting the
outcome removes them again in case the shim was killed before it could.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from podium.jobs.base import LaunchFailed
from podium.jobs.layout import ASSETS_DIR

logger = logging.getLogger(__name__)

_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def check_asset_paths(assets: Mapping[str, bytes]) -> None:
    """Raise LaunchFailed unless every asset path is relative and stays inside ``assets/``."""
    for name, content in assets.items():
        problem = _path_problem(name)
        if problem is None and not isinstance(content, bytes | bytearray | memoryview):
            problem = f"its content is a {type(content).__name__}, not bytes"
        if problem is not None:
            raise LaunchFailed(
                f"asset {name!r} cannot be written: {problem}; give a relative path such as "
                "'jars/etl.jar'",
                details={"asset": name},
            )


def _path_problem(name: object) -> str | None:
    if not isinstance(name, str) or not name:
        return "its path is empty"
    if "\0" in name or "\\" in name:
        return "its path holds a NUL character or a backslash"
    if name.startswith("/"):
        return "its path is absolute"
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "its path has an empty, '.' or '..' part"
    return None


def write_assets(
    attempt_dir: Path, assets: Mapping[str, bytes], owner: tuple[int, int] | None
) -> None:
    """Write ``assets`` under ``attempt_dir/assets``, handing them to ``owner`` (uid, gid).

    Everything is created by this process first and given away last, deepest first, so no
    other process of the job's user can plant a symlink where a file is being written.
    """
    root = attempt_dir / ASSETS_DIR
    os.mkdir(root, 0o700)
    directories: set[PurePosixPath] = set()
    for name, content in assets.items():
        relative = PurePosixPath(name)
        for parent in reversed(relative.parents[:-1]):
            if parent not in directories:
                os.mkdir(root / parent, 0o700)
                directories.add(parent)
        fd = os.open(root / relative, _CREATE_FLAGS, 0o600)
        try:
            if owner is not None:
                os.fchown(fd, *owner)
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
    if owner is not None:
        for directory in sorted(directories, key=lambda d: len(d.parts), reverse=True):
            os.chown(root / directory, *owner, follow_symlinks=False)
        os.chown(root, *owner, follow_symlinks=False)


def remove_assets(attempt_dir: Path) -> None:
    """Remove the attempt's assets, if any are left (the shim was killed before it could)."""
    root = attempt_dir / ASSETS_DIR
    if os.path.lexists(root):
        try:
            shutil.rmtree(root)  # never follows a symlink (rmtree.avoids_symlink_attacks)
        except FileNotFoundError:
            pass
        except OSError as exc:
            logger.error(
                "the assets of an attempt could not be removed",
                extra={
                    "event": "assets_not_removed",
                    "attempt_dir": str(attempt_dir),
                    "error": str(exc),
                },
            )
