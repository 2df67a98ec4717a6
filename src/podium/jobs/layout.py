"""The files of an attempt directory, named once.

The directory is the durable record of an attempt: whoever finds it (the worker that launched
the job, or another one after a restart) learns everything from these files alone.
"""

from __future__ import annotations

WORK_DIR = "work"
"""The job's working directory, fresh for each attempt."""
SCRIPT_FILE = "script"
PARAMS_FILE = "params.json"
OUTPUTS_FILE = "outputs.json"
"""Written by the job (``PODIUM_OUTPUTS``), if it returns outputs; absent means none."""
MILESTONES_FILE = "milestones.jsonl"
"""Appended to by the job (``PODIUM_MILESTONES``): one ``{"at", "text"}`` JSON object a line."""
LOG_FILE = "log"
"""stdout and stderr of the job, interleaved in the order they were written."""
PID_FILE = "pid"
"""``"PID START_TIME"``, written by the shim before the job starts."""
EXIT_FILE = "exit"
"""The shell status of the job (128+N when killed by signal N), written by the shim at the end."""
ARTIFACTS_DIR = "artifacts"
"""Files the job keeps (``PODIUM_ARTIFACTS``), listed with the step; created at launch."""
JOB_CONFIG_FILE = "job.json"
"""The step's own job keys (``JobSpec.config``) as JSON, written at launch when there are any."""
ERROR_FILE = "error"
"""Why the job failed, in its own words (a notebook's failing cell); read when it exits non-zero."""
CONTAINER_FILE = "container"
"""The container of a container job (JSON), until its runner has removed the container."""
