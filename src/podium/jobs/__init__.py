"""Running ``script`` and ``python`` jobs as local processes that survive the worker.

The engine launches with :func:`launch` (idempotent by attempt directory), hands the job to a
:class:`Supervisor` to learn when it ends, and after a worker restart finds it again with
:func:`probe`. ``noop`` and ``sleep`` steps never get here: the engine handles them inline.
"""

from __future__ import annotations

from podium.jobs.assets import remove_assets
from podium.jobs.base import (
    AlreadyLaunched,
    JobExit,
    JobSpec,
    Launched,
    LaunchFailed,
    Probe,
    ProbeState,
)
from podium.jobs.identity import RunAs, os_identity, switching_users
from podium.jobs.logs import log_tail, read_log
from podium.jobs.outcome import collect
from podium.jobs.process import job_environment, kill_group, launch, probe
from podium.jobs.supervisor import OnExit, Supervisor

__all__ = [
    "AlreadyLaunched",
    "JobExit",
    "JobSpec",
    "LaunchFailed",
    "Launched",
    "OnExit",
    "Probe",
    "ProbeState",
    "RunAs",
    "Supervisor",
    "collect",
    "job_environment",
    "kill_group",
    "launch",
    "log_tail",
    "os_identity",
    "probe",
    "read_log",
    "remove_assets",
    "switching_users",
]
