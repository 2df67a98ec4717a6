"""The files an attempt keeps: what its job wrote to ``PODIUM_ARTIFACTS``."""

from __future__ import annotations

from pathlib import Path

from podium.jobs.layout import ARTIFACTS_DIR

MAX_LISTED = 100
"""Names listed per attempt; a job that writes thousands of files is summarised, not dumped."""


def list_artifacts(attempt_dir: Path) -> list[str]:
    """Names of the attempt's artifacts, sorted, files in subdirectories as ``dir/name``."""
    root = attempt_dir / ARTIFACTS_DIR
    names: list[str] = []
    try:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                names.append(path.relative_to(root).as_posix())
                if len(names) >= MAX_LISTED:
                    break
    except OSError:
        return names
    return names


def artifact_path(attempt_dir: Path, name: str) -> Path | None:
    """The artifact ``name`` of the attempt, if it exists and lies inside its artifacts."""
    root = (attempt_dir / ARTIFACTS_DIR).resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path
