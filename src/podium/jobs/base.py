"""The values that cross the line between the engine and the job runner.

They are plain frozen dataclasses so the engine can store them, compare them and pass them
between threads without caring how a job is actually run.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podium.errors import PodiumError

if TYPE_CHECKING:
    from podium.jobs.identity import RunAs


@dataclass(frozen=True)
class JobSpec:
    """Everything needed to start one attempt of a ``script`` or ``python`` step.

    ``attempt_dir`` is the identity of the attempt on disk: creating it is the claim that makes
    launching idempotent, so it must be unique per attempt id. ``env`` carries the extra
    ``PODIUM_*`` values the engine sets (workflow, instance, step, attempt).
    """

    attempt_id: str
    step_type: str
    script: str
    params: Mapping[str, Any]
    attempt_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    outputs: Sequence[str] = ()
    config: Mapping[str, Any] = field(default_factory=dict)
    """The step's own job keys (``StepPlan.job``): a notebook's path, a container's image…"""
    run_as: RunAs | None = None
    """Whom the job runs as (``PODIUM_USER``); a root worker switches to its OS user."""
    assets: Mapping[str, bytes] = field(default_factory=dict)
    """Relative path (``jars/etl.jar``) to plaintext content, on disk only while the job runs
    (``PODIUM_ASSETS``)."""


@dataclass(frozen=True)
class Launched:
    """A started job: ``pid_start`` (clock ticks since boot, /proc/PID/stat field 22) tells
    this process apart from a later one that reuses the same pid."""

    pid: int
    pid_start: int


@dataclass(frozen=True)
class JobExit:
    """How a job ended. ``error`` is None exactly when the step succeeded.

    ``exit_code`` and ``signal`` are both None when the job vanished without recording a
    status (killed with SIGKILL together with its shim, or the machine restarted): that is a
    platform failure, not the user's.
    """

    exit_code: int | None
    signal: int | None
    outputs: dict[str, Any]
    error: str | None
    log_tail: str
    ended_at: float | None = None
    """When the job ended (epoch seconds, from its exit file), if known."""
    milestones: tuple[tuple[float, str], ...] = ()
    """``(at, text)`` pairs the job recorded with ``podium.job.milestone``, oldest first."""

    @property
    def succeeded(self) -> bool:
        return self.error is None

    @property
    def vanished(self) -> bool:
        return self.exit_code is None and self.signal is None


class ProbeState(enum.Enum):
    """What the attempt directory and the process table say about an attempt."""

    NOT_LAUNCHED = "not_launched"
    """No attempt directory, or no pid file in it (never started, or starting this instant)."""
    RUNNING = "running"
    """The recorded pid is alive and its start time matches."""
    EXITED = "exited"
    """The exit status is recorded: ``collect`` gives the result."""
    VANISHED = "vanished"
    """A pid was recorded but the process is gone without recording an exit status."""


@dataclass(frozen=True)
class Probe:
    state: ProbeState
    pid: int | None = None
    pid_start: int | None = None


class AlreadyLaunched(PodiumError):
    """The attempt directory exists: this attempt was launched (or is being launched) before.

    The caller must not launch again; it probes the attempt and re-attaches instead.
    """

    code = "already_launched"


class LaunchFailed(PodiumError):
    """The job could not be started; a platform error, not the user's script failing."""

    code = "launch_failed"
