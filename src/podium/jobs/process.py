"""Starting a job as a local process that outlives the worker, finding it again, stopping it.

Each attempt gets a directory; creating it is the claim that makes launching idempotent
(decision 3: exactly one launch per attempt). The job runs under a tiny shell shim in its own
session and process group, so killing the worker does not kill the job, and the shim records
the pid before the job starts and the exit status after it ends, so a restarted worker can
re-attach to the job or read its result instead of launching it again.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import podium
from podium.jobs import procfs
from podium.jobs.assets import check_asset_paths, remove_assets, write_assets
from podium.jobs.base import AlreadyLaunched, JobSpec, Launched, LaunchFailed, Probe, ProbeState
from podium.jobs.identity import RunAs, setpriv_prefix, switches_to, switching_users
from podium.jobs.layout import (
    ARTIFACTS_DIR,
    ASSETS_DIR,
    EXIT_FILE,
    IO_DIR,
    JOB_CONFIG_FILE,
    LOG_FILE,
    MILESTONES_FILE,
    OUTPUTS_FILE,
    PARAMS_FILE,
    PID_FILE,
    SCRIPT_FILE,
    WORK_DIR,
)
from podium.jobs.outcome import collect as collect

SHIM_PATH = Path(__file__).with_name("shim.sh")
SHELL = "/bin/sh"
BASH_COMMAND = ("bash", "-e", "-o", "pipefail")
PODIUM_SOURCE_ROOT = str(Path(podium.__file__).resolve().parent.parent)
"""The directory holding the ``podium`` package: on the job's PYTHONPATH for ``podium.job``."""

_INHERITED_ENV = ("PATH", "HOME", "TZ", "TMPDIR", "USER", "LOGNAME")
_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
_SIGNALS_TO_RESET = frozenset(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}
"""Python ignores SIGPIPE (and the worker may ignore more); ignored signals survive exec."""

STRAGGLER_ROUNDS = 5
SHIM_RECORD_S = 2.0
"""How long the shim gets to record the status once everything else in its group is dead."""


def launch(spec: JobSpec) -> Launched:
    """Start the job of ``spec`` once: a second call for the same attempt raises AlreadyLaunched.

    On the engine's hot path: one spawn and a handful of small file writes, no waiting. A root
    worker runs the job as ``spec.run_as`` (``setpriv`` inside the shim, which stays root); the
    runner of a container job stays the worker's and the container runs as that user.
    """
    check_asset_paths(spec.assets)
    target = switches_to(spec.run_as)
    if spec.step_type == "container" or spec.config.get("container"):
        from podium.jobs import container  # the Docker client, only for workers that need it

        command = container.runner_command(spec, target)
    else:
        runner = "python" if spec.config.get("template") else spec.step_type
        command = job_command(runner, spec.attempt_dir / SCRIPT_FILE)
        if target is not None:
            command = setpriv_prefix(target) + command
    params_json = _params_json(spec.params)
    env = job_environment(spec)
    attempt_dir = spec.attempt_dir
    try:
        attempt_dir.parent.mkdir(parents=True, exist_ok=True)
        os.mkdir(attempt_dir)
    except FileExistsError:
        raise AlreadyLaunched(
            f"attempt {spec.attempt_id} was already launched ({attempt_dir} exists); "
            "probe it and re-attach instead of launching again",
            details={"attempt_id": spec.attempt_id, "attempt_dir": str(attempt_dir)},
        ) from None
    except OSError as exc:
        raise _launch_failed(spec, f"cannot create {attempt_dir}: {exc}") from exc
    try:
        _write_attempt_files(spec, params_json, target)
        pid = _spawn_shim(attempt_dir, command, env)
    except (OSError, ValueError) as exc:
        remove_assets(attempt_dir)
        _note_in_log(attempt_dir, f"podium: the job could not be started: {exc}")
        raise _launch_failed(spec, f"the job could not be started: {exc}") from exc
    pid_start = procfs.start_time(pid)
    if pid_start is None:  # our own child cannot be missing, even once it has exited
        raise _launch_failed(spec, f"process {pid} disappeared right after it was started")
    return Launched(pid=pid, pid_start=pid_start)


def _write_attempt_files(spec: JobSpec, params_json: str, target: RunAs | None) -> None:
    """The attempt's files, and the job's directories handed to ``target`` last.

    The attempt directory stays this process's (the job cannot forge its pid or exit files);
    the job can read its script and config (group ``target.gid``) and owns ``work/``,
    ``artifacts/``, ``io/`` and ``assets/``, given away only once everything in them is written.
    """
    attempt_dir = spec.attempt_dir
    owner = None if target is None else (target.uid, target.gid)
    # Nobody else lists or reads an attempt: the job's user only passes through to its own.
    os.chmod(attempt_dir, 0o700 if target is None else 0o711)
    os.mkdir(attempt_dir / WORK_DIR, 0o700)
    os.mkdir(attempt_dir / ARTIFACTS_DIR, 0o700)
    os.mkdir(attempt_dir / IO_DIR, 0o700)
    readable = None if target is None else (-1, target.gid)
    shared_mode = 0o600 if target is None else 0o640
    if spec.config:
        config_json = json.dumps(dict(spec.config))
        _write_file(attempt_dir / JOB_CONFIG_FILE, config_json, shared_mode, readable)
    _write_file(attempt_dir / SCRIPT_FILE, spec.script, shared_mode, readable)
    _write_file(attempt_dir / PARAMS_FILE, params_json, 0o600, owner)
    if spec.assets:
        write_assets(attempt_dir, spec.assets, owner)
    if owner is not None:
        for name in (WORK_DIR, ARTIFACTS_DIR, IO_DIR):
            os.chown(attempt_dir / name, *owner, follow_symlinks=False)


def _write_file(path: Path, text: str, mode: int, owner: tuple[int, int] | None) -> None:
    """A new file (never through a planted symlink), given to ``owner`` (uid or -1, gid)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, mode)
    with open(fd, "w", encoding="utf-8") as f:
        if owner is not None:
            os.fchown(fd, *owner)
            os.fchmod(fd, mode)  # not narrowed by the umask: the job must read it
        f.write(text)


def job_command(step_type: str, script_path: Path) -> list[str]:
    """The command line of a job type; ``bash -e -o pipefail`` stops at the first failure."""
    if step_type == "script":
        return [*BASH_COMMAND, str(script_path)]
    if step_type == "python":
        return [sys.executable, str(script_path)]
    if step_type == "notebook":
        return [sys.executable, "-m", "podium.jobs.notebook", str(script_path.parent)]
    raise LaunchFailed(
        f"step type {step_type!r} has no process runner; expected 'script' or 'python'",
        details={"step_type": step_type},
    )


def job_environment(spec: JobSpec) -> dict[str, str]:
    """The job's whole environment: a clean one, so a job behaves the same on every worker."""
    env = {name: os.environ[name] for name in _INHERITED_ENV if name in os.environ}
    env.setdefault("PATH", _DEFAULT_PATH)
    env["LANG"] = env["LC_ALL"] = "C.UTF-8"
    env["PYTHONPATH"] = PODIUM_SOURCE_ROOT
    env["PYTHONUNBUFFERED"] = "1"
    for name, value in spec.params.items():
        env[f"PODIUM_PARAM_{name.upper()}"] = (
            value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        )
    env.update(spec.env)
    run_as = spec.run_as
    if run_as is not None:
        env["PODIUM_USER"] = run_as.name
        if switching_users():
            env["USER"] = env["LOGNAME"] = run_as.os_user
            env["HOME"] = run_as.home
    if spec.assets:
        env["PODIUM_ASSETS"] = str(spec.attempt_dir / ASSETS_DIR)
    env["PODIUM_PARAMS"] = str(spec.attempt_dir / PARAMS_FILE)
    env["PODIUM_OUTPUTS"] = str(spec.attempt_dir / OUTPUTS_FILE)
    env["PODIUM_MILESTONES"] = str(spec.attempt_dir / MILESTONES_FILE)
    env["PODIUM_ARTIFACTS"] = str(spec.attempt_dir / ARTIFACTS_DIR)
    for name, value in env.items():
        if not name or "=" in name or "\0" in name or "\0" in value:
            raise LaunchFailed(
                f"environment variable {name!r} cannot be passed to a process "
                "(empty name, '=' in the name or a NUL character)",
                details={"attempt_id": spec.attempt_id, "name": name},
            )
    return env


def probe(attempt_dir: Path, pid: int | None = None, pid_start: int | None = None) -> Probe:
    """Where an attempt stands, from its directory and the process table alone.

    ``pid`` and ``pid_start`` default to the pid file; pass the values ``launch`` returned
    to cover the instant before the shim has written it.
    """
    if pid is None or pid_start is None:
        recorded = read_pid_file(attempt_dir)
        if recorded is not None:
            pid, pid_start = recorded
    if (attempt_dir / EXIT_FILE).exists():
        return Probe(ProbeState.EXITED, pid, pid_start)
    if pid is None or pid_start is None:
        return Probe(ProbeState.NOT_LAUNCHED)
    if procfs.is_running(pid, pid_start):
        return Probe(ProbeState.RUNNING, pid, pid_start)
    # The shim may have recorded the status and exited between the two checks.
    if (attempt_dir / EXIT_FILE).exists():
        return Probe(ProbeState.EXITED, pid, pid_start)
    return Probe(ProbeState.VANISHED, pid, pid_start)


def read_pid_file(attempt_dir: Path) -> tuple[int, int] | None:
    try:
        text = (attempt_dir / PID_FILE).read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    try:
        pid, start = text.split()
        return int(pid), int(start)
    except ValueError:
        return None


def kill_group(pid: int, pid_start: int, grace_s: float = 5.0) -> None:
    """Stop a job and everything it started: SIGTERM to its process group, SIGKILL after grace.

    Blocks up to ``grace_s`` (plus a moment); harmless when the job is already gone. The shim
    is spared the SIGKILL at first so it can still record how the job ended.
    """
    stat = procfs.read_stat(pid)
    if stat is None or stat.start_time != pid_start:
        return  # gone (or the pid now belongs to someone else): nothing of ours to stop
    signal_group(pid, signal.SIGTERM)
    if _wait_until(lambda: not procfs.group_members(pid), grace_s):
        return
    kill_stragglers(pid)
    _wait_until(lambda: not procfs.is_running(pid, pid_start), SHIM_RECORD_S)
    signal_group(pid, signal.SIGKILL)


def signal_group(pgid: int, signum: int) -> bool:
    """Signal a whole process group; False when it no longer exists (or is not ours)."""
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def kill_stragglers(pgid: int) -> None:
    """SIGKILL every live process of the group but its leader (the shim), until none is left."""
    for _ in range(STRAGGLER_ROUNDS):
        members = [member for member in procfs.group_members(pgid) if member != pgid]
        if not members:
            return
        for member in members:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(member, signal.SIGKILL)


def _wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(0.05, remaining))


def _spawn_shim(attempt_dir: Path, command: list[str], env: Mapping[str, str]) -> int:
    log_flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    return os.posix_spawn(
        SHELL,
        ["sh", str(SHIM_PATH), str(attempt_dir), *command],
        env,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(attempt_dir / LOG_FILE), log_flags, 0o600),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
        setsigdef=_SIGNALS_TO_RESET,
        setsigmask=(),
    )


def _params_json(params: Mapping[str, Any]) -> str:
    try:
        return json.dumps(dict(params), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise LaunchFailed(f"the step's params cannot be written as JSON: {exc}") from exc


def _note_in_log(attempt_dir: Path, line: str) -> None:
    try:
        with open(attempt_dir / LOG_FILE, "a", encoding="utf-8") as log:
            log.write(line + "\n")
    except OSError:
        pass


def _launch_failed(spec: JobSpec, message: str) -> LaunchFailed:
    return LaunchFailed(
        f"attempt {spec.attempt_id}: {message}",
        details={"attempt_id": spec.attempt_id, "attempt_dir": str(spec.attempt_dir)},
    )
