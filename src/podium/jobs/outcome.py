"""Turning the files a finished job left behind into a :class:`JobExit`."""

from __future__ import annotations

import json
import math
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeGuard

from podium.jobs.assets import remove_assets
from podium.jobs.base import JobExit
from podium.jobs.layout import ERROR_FILE, EXIT_FILE, MILESTONES_FILE, OUTPUTS_FILE
from podium.jobs.logs import log_tail
from podium.jobs.scrub import scrub_attempt
from podium.jobs.untrusted import read_job_file
from podium.vault import Redactor

MAX_MILESTONES = 100
"""Milestones kept per attempt; a job that records more keeps its first ones."""
MAX_MILESTONE_CHARS = 1000
MAX_MILESTONES_BYTES = 1 << 20
"""How much of the milestones file is read: a job cannot make the worker read gigabytes."""
MAX_JOB_ERROR_BYTES = 4096
MAX_OUTPUTS_BYTES = 16 << 20
"""A larger outputs file fails the step rather than the worker's memory."""

VANISHED_ERROR = (
    "the job's process ended without recording an exit status "
    "(it was killed with SIGKILL together with its shim, or the machine restarted)"
)


def collect(attempt_dir: Path, outputs: Sequence[str], redactor: Redactor | None = None) -> JobExit:
    """The result of an attempt, from its recorded exit status, outputs file and log.

    A job that exits 0 but leaves out a declared output, or writes something that is not a
    JSON object to ``PODIUM_OUTPUTS``, failed: the step promised those values to its readers.
    The job's files are read as untrusted (see :mod:`podium.jobs.untrusted`), and assets the
    shim could not remove (it was killed) are removed here, once the job can no longer use them,
    with its params file; ``redactor`` masks the instance's secrets in its files before they are
    read (see :mod:`podium.jobs.scrub`).
    """
    remove_assets(attempt_dir)
    scrub_attempt(attempt_dir, redactor)
    tail = log_tail(attempt_dir)
    milestones = read_milestones(attempt_dir)
    status = read_exit_status(attempt_dir)
    if status is None:
        return JobExit(
            exit_code=None,
            signal=None,
            outputs={},
            error=VANISHED_ERROR,
            log_tail=tail,
            milestones=milestones,
        )
    exit_code, signum = decode_status(status)
    values, outputs_error = read_outputs(attempt_dir)
    error: str | None
    if signum is not None:
        error = f"killed by signal {signum}{_signal_name(signum)}"
    elif exit_code != 0:
        error = read_job_error(attempt_dir) or f"exit code {exit_code}"
    elif outputs_error is not None:
        error = outputs_error
    else:
        error = _missing_outputs_error([name for name in outputs if name not in values])
    return JobExit(
        exit_code=exit_code,
        signal=signum,
        outputs=values,
        error=error,
        log_tail=tail,
        ended_at=_mtime(attempt_dir / EXIT_FILE),
        milestones=milestones,
    )


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return None


def read_job_error(attempt_dir: Path) -> str | None:
    """The job's own account of its failure (``error`` file), at most ~4 KB, if it left one."""
    raw = read_job_file(attempt_dir / ERROR_FILE, MAX_JOB_ERROR_BYTES)
    if raw is None:
        return None
    return raw.decode("utf-8", errors="replace").strip() or None


def read_exit_status(attempt_dir: Path) -> int | None:
    try:
        text = (attempt_dir / EXIT_FILE).read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def decode_status(status: int) -> tuple[int | None, int | None]:
    """(exit_code, signal) from a shell status; the shell reports a signal N as 128+N.

    A program that itself exits with 128+N cannot be told apart; it is reported as the signal.
    """
    if 128 < status <= 128 + signal.SIGRTMAX:
        return None, status - 128
    return status, None


def read_outputs(attempt_dir: Path) -> tuple[dict[str, Any], str | None]:
    """The outputs object and, when the file is unusable, why (a missing file is no outputs)."""
    raw = read_job_file(attempt_dir / OUTPUTS_FILE, MAX_OUTPUTS_BYTES + 1)
    if raw is None:
        return {}, None
    if len(raw) > MAX_OUTPUTS_BYTES:
        return {}, f"PODIUM_OUTPUTS file is larger than {MAX_OUTPUTS_BYTES >> 20} MiB"
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return {}, f"PODIUM_OUTPUTS file is not a JSON object: {exc}"
    if not isinstance(value, dict):
        return {}, f"PODIUM_OUTPUTS file is not a JSON object: it holds a {type(value).__name__}"
    return value, None


def read_milestones(attempt_dir: Path) -> tuple[tuple[float, str], ...]:
    """The ``(at, text)`` milestones the job appended; a line that is not one is skipped,
    since a job may write anything to the file and still deserves its other milestones."""
    raw = read_job_file(attempt_dir / MILESTONES_FILE, MAX_MILESTONES_BYTES)
    if raw is None:
        return ()
    found: list[tuple[float, str]] = []
    for line in raw.splitlines():
        if len(found) >= MAX_MILESTONES:
            break
        try:
            entry = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            continue
        if not isinstance(entry, dict):
            continue
        at, text = entry.get("at"), entry.get("text")
        if not _is_time(at) or not isinstance(text, str):
            continue
        found.append((float(at), text[:MAX_MILESTONE_CHARS]))
    return tuple(found)


def _is_time(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _missing_outputs_error(missing: list[str]) -> str | None:
    if not missing:
        return None
    if len(missing) == 1:
        return f"output {missing[0]!r} was declared but not returned"
    names = ", ".join(repr(name) for name in missing)
    return f"outputs {names} were declared but not returned"


def _signal_name(signum: int) -> str:
    try:
        return f" ({signal.Signals(signum).name})"
    except ValueError:
        return ""


def record_exit_status(attempt_dir: Path, status: int) -> None:
    """Write the exit status the shim could not write itself (it was killed), unless it did.

    Only the worker that reaped the shim knows that status; recording it keeps later probes
    from reporting the attempt as vanished.
    """
    target = attempt_dir / EXIT_FILE
    if target.exists():
        return
    temporary = attempt_dir / f"{EXIT_FILE}.supervisor.tmp"
    temporary.write_text(f"{status}\n", encoding="ascii")
    temporary.replace(target)
