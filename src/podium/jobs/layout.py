"""The files of an attempt directory, named once.

The directory is the durable record of an attempt: whoever finds it (the worker that launched
the job, or another one after a restart) learns everything from these files alone.

It holds two kinds of files. Those the shim and the worker write (``pid``, ``exit``, ``log``,
``script``, ``job.json``, ``container``) sit in the attempt directory itself, which the job's
user cannot write, so a job cannot forge its own status. Those the job writes sit in
directories it owns: ``work/``, ``artifacts/``, ``assets/`` and ``io/`` (its params, outputs,
milestones and error). Paths below are relative to the attempt directory.
"""

from __future__ import annotations

WORK_DIR = "work"
"""The job's working directory, fresh for each attempt."""
SCRIPT_FILE = "script"
IO_DIR = "io"
"""The job's side of the exchange with Podium (owned by the job's user, 0700)."""
PARAMS_FILE = f"{IO_DIR}/params.json"
"""The step's resolved params (may hold secrets): 0600, owned by the job's user."""
OUTPUTS_FILE = f"{IO_DIR}/outputs.json"
"""Written by the job (``PODIUM_OUTPUTS``), if it returns outputs; absent means none."""
MILESTONES_FILE = f"{IO_DIR}/milestones.jsonl"
"""Appended to by the job (``PODIUM_MILESTONES``): one ``{"at", "text"}`` JSON object a line."""
ERROR_FILE = f"{IO_DIR}/error"
"""Why the job failed, in its own words (a notebook's failing cell); read when it exits non-zero."""
LOG_FILE = "log"
"""stdout and stderr of the job, interleaved in the order they were written."""
PID_FILE = "pid"
"""``"PID START_TIME"``, written by the shim before the job starts."""
EXIT_FILE = "exit"
"""The shell status of the job (128+N when killed by signal N), written by the shim at the end."""
ARTIFACTS_DIR = "artifacts"
"""Files the job keeps (``PODIUM_ARTIFACTS``), listed with the step; created at launch."""
ASSETS_DIR = "assets"
"""The step's assets in plain text (``PODIUM_ASSETS``): written at launch (0700, files 0600),
removed as soon as the job ends."""
JOB_CONFIG_FILE = "job.json"
"""The step's own job keys (``JobSpec.config``) as JSON, written at launch when there are any."""
CONTAINER_FILE = "container"
"""The container of a container job (JSON), until its runner has removed the container."""
