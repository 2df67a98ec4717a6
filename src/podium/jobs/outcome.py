"""Turning the files a finished job left behind into a :class:`JobExit`."""

from __future__ import annotations

import json
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from podium.jobs.base import JobExit
from podium.jobs.layout import EXIT_FILE, OUTPUTS_FILE
from podium.jobs.logs import log_tail

VANISHED_ERROR = (
    "the job's process ended without recording an exit status "
    "(it was killed with SIGKILL together with its shim, or the machine restarted)"
)


def collect(attempt_dir: Path, outputs: Sequence[str]) -> JobExit:
    """The result of an attempt, from its recorded exit status, outputs file and log.

    A job that exits 0 but leaves out a declared output, or writes something that is not a
    JSON object to ``PODIUM_OUTPUTS``, failed: the step promised those values to its readers.
    """
    tail = log_tail(attempt_dir)
    status = read_exit_status(attempt_dir)
    if status is None:
        return JobExit(exit_code=None, signal=None, outputs={}, error=VANISHED_ERROR, log_tail=tail)
    exit_code, signum = decode_status(status)
    values, outputs_error = read_outputs(attempt_dir)
    error: str | None
    if signum is not None:
        error = f"killed by signal {signum}{_signal_name(signum)}"
    elif exit_code != 0:
        error = f"exit code {exit_code}"
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
    )


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return None


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
    try:
        raw = (attempt_dir / OUTPUTS_FILE).read_bytes()
    except FileNotFoundError:
        return {}, None
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return {}, f"PODIUM_OUTPUTS file is not a JSON object: {exc}"
    if not isinstance(value, dict):
        return {}, f"PODIUM_OUTPUTS file is not a JSON object: it holds a {type(value).__name__}"
    return value, None


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
