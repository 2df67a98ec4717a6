"""What a running job imports to read its params, return its outputs and mark milestones.

It runs inside the user's job, often in a bare interpreter, so it needs nothing but the
standard library, and it talks to Podium only through the files whose paths the job's
environment holds (``PODIUM_PARAMS``, ``PODIUM_OUTPUTS`` and ``PODIUM_MILESTONES``), the same
contract a bash script uses.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["NotInJob", "milestone", "param", "params", "set_output"]

_MISSING: Any = object()
MAX_MILESTONE_CHARS = 1000


class NotInJob(RuntimeError):
    """Raised when this module is used outside a job that Podium started."""


def set_output(name: str, value: Any) -> None:
    """Return ``value`` as the step output ``name`` (readable downstream as ``step.name``).

    The outputs file is rewritten whole through a temporary file and a rename, under a lock,
    so a reader never sees half a file and two writers never lose each other's outputs.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"an output name must be a non-empty string, not {name!r}")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"output {name!r} cannot be returned: its value must be JSON-serialisable "
            f"(str, int, float, bool, None, list, dict with str keys): {exc}"
        ) from None
    path = _path_from_env("PODIUM_OUTPUTS")
    with _locked(path + ".lock"):
        outputs = _read_outputs(path)
        outputs[name] = value
        _write_atomically(path, json.dumps(outputs, allow_nan=False, ensure_ascii=False))


def milestone(text: str) -> None:
    """Mark a point of progress (``"loaded 10 rows"``) on the step's timeline.

    One JSON line is appended per call, in a single write, so milestones from several
    processes of one job do not mix; text longer than 1000 characters is cut.
    """
    if not isinstance(text, str):
        raise TypeError(f"a milestone is a string, not {type(text).__name__}")
    path = _path_from_env("PODIUM_MILESTONES")
    line = json.dumps({"at": time.time(), "text": text[:MAX_MILESTONE_CHARS]})
    data = (line + "\n").encode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def params() -> dict[str, Any]:
    """All the step's resolved params, with their JSON types."""
    path = _path_from_env("PODIUM_PARAMS")
    with open(path, encoding="utf-8") as f:
        value: dict[str, Any] = json.load(f)
    return value


def param(name: str, default: Any = _MISSING) -> Any:
    """One param; ``default`` when the step has no such param (else a KeyError naming it)."""
    values = params()
    if name in values:
        return values[name]
    if default is _MISSING:
        known = ", ".join(sorted(values)) or "none"
        raise KeyError(f"the step has no param {name!r} (its params: {known})")
    return default


def _path_from_env(variable: str) -> str:
    path = os.environ.get(variable)
    if not path:
        raise NotInJob(
            f"{variable} is not set: podium.job works only inside a job that Podium started"
        )
    return path


def _read_outputs(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    if not text.strip():
        return {}
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"{path} does not hold a JSON object; cannot add an output to it")
    return value


def _write_atomically(path: str, text: str) -> None:
    directory = os.path.dirname(path) or "."
    fd, temporary = tempfile.mkstemp(prefix=".outputs.", dir=directory)
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide the outputs from other users
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def _locked(lock_path: str) -> Iterator[None]:
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
