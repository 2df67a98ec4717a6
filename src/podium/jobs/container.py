"""Running a job in a container through the Docker Engine API, under the usual shim.

The job process is this module's runner (``python -m podium.jobs.container ATTEMPT_DIR``), so
the shim, the supervisor and re-attaching after a worker restart work as for any process job:
the runner creates the container (named after the attempt, so a second runner for the same
attempt finds it instead of starting another), streams its log into the attempt's log, waits,
removes it and exits with the container's status. SIGTERM (a stop, a time-out) stops and
removes the container. A runner that died without removing its container leaves a
``container`` file behind, and :func:`remove_leftover` (called by the supervisor when the
attempt ends) removes the container it names.

The attempt directory is mounted at ``/podium``: the params, outputs and milestones files and
the working directory are where the ``PODIUM_*`` variables say, inside the container too.

The runner stays the worker's user (it talks to Docker and writes the ``container`` file in
the attempt directory); the container runs as the job's user (``--user UID:GID``, from
``JobSpec.run_as`` on a root worker, else the runner's own), with no capabilities and no way to
gain privileges, and, when the step asks, a read-only root filesystem and no network.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container

import podium
from podium.config import number_setting
from podium.definition.containers import NETWORK_MODES, Resources
from podium.errors import InvalidInput
from podium.jobs.base import JobSpec, LaunchFailed
from podium.jobs.identity import RunAs
from podium.jobs.layout import (
    ARTIFACTS_DIR,
    ASSETS_DIR,
    CONTAINER_FILE,
    JOB_CONFIG_FILE,
    MILESTONES_FILE,
    OUTPUTS_FILE,
    PARAMS_FILE,
    SCRIPT_FILE,
    WORK_DIR,
)

MOUNT = "/podium"
"""Where the attempt directory is mounted inside the container."""
LIBRARY_MOUNT = "/opt/podium"
"""Where the ``podium`` package is mounted (read-only), on the container's PYTHONPATH."""
NAME_PREFIX = "podium-"
STOP_TIMEOUT_S = 3
"""SIGTERM, then SIGKILL after this long: within the supervisor's 5 s grace for the runner."""
PING_TIMEOUT_S = 10
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
DOCKER_EXIT = 125
"""The runner's status when Docker itself fails (as ``docker run`` does)."""

_PASSED_ENV = ("LANG", "LC_ALL", "PYTHONUNBUFFERED")
_FILE_VARS = {
    "PODIUM_PARAMS": PARAMS_FILE,
    "PODIUM_OUTPUTS": OUTPUTS_FILE,
    "PODIUM_MILESTONES": MILESTONES_FILE,
    "PODIUM_ARTIFACTS": ARTIFACTS_DIR,
    "PODIUM_ASSETS": ASSETS_DIR,
}
TMPFS_OPTIONS = "rw,nosuid,nodev,mode=1777"
"""``/tmp`` of a container with a read-only root filesystem."""
_SCRIPT_SHELL = (
    'if command -v bash >/dev/null 2>&1; then exec bash -e -o pipefail "$0"; fi; exec sh -e "$0"'
)
_PYTHON_SHELL = (
    'for p in python3 python; do command -v "$p" >/dev/null 2>&1 && exec "$p" "$0"; done; '
    'echo "podium: the image has neither python3 nor python on its PATH" >&2; exit 127'
)
_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")
_clients: dict[str | None, docker.DockerClient] = {}
_clients_lock = threading.Lock()


class Stopped(BaseException):
    """The runner was told to stop (SIGTERM, SIGINT, SIGHUP); user code cannot swallow it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


# The worker's side: deciding, checking, building the runner's command line.


def container_name(attempt_id: str) -> str:
    """``podium-<attempt id>``, with what Docker refuses in a name replaced by ``_``."""
    return NAME_PREFIX + _NAME_UNSAFE.sub("_", attempt_id)[:200]


def runner_command(spec: JobSpec, run_as: RunAs | None = None) -> list[str]:
    """The job command of a container job, once Docker is known to be there with the image.

    Checking here makes a missing Docker or image a platform error of the launch, with the fix
    in its message, rather than a failing job. ``run_as`` is whom the container runs as (None:
    the runner's own user, as the worker decided).
    """
    docker_host = os.environ.get("DOCKER_HOST")
    hardening(spec.step_type, spec.config)
    check_docker(docker_host, image_of(spec.step_type, spec.config))
    limits = operator_limits()
    command = [sys.executable, "-m", "podium.jobs.container", str(spec.attempt_dir)]
    command += ["--type", spec.step_type, "--name", container_name(spec.attempt_id)]
    command += ["--pids", str(limits.pids)]
    if limits.cpu is not None:
        command += ["--default-cpu", repr(limits.cpu)]
    if limits.memory is not None:
        command += ["--default-memory", str(limits.memory)]
    if run_as is not None:
        command += ["--user", f"{run_as.uid}:{run_as.gid}"]
        if run_as.groups:
            command += ["--group-add", ",".join(str(g) for g in run_as.groups)]
    return command + (["--docker-host", docker_host] if docker_host else [])


PIDS_ENV = "PODIUM_CONTAINER_PIDS"
CPU_ENV = "PODIUM_CONTAINER_CPU"
MEMORY_ENV = "PODIUM_CONTAINER_MEMORY"
DEFAULT_PIDS = 1024
"""Processes a container may have at once unless the operator says otherwise: a fork bomb in a
job stops there instead of taking the worker's machine."""
MAX_PIDS = 1_000_000


@dataclass(frozen=True)
class OperatorLimits:
    """What every container job gets from the worker's operator: a pids limit, and the cpu and
    memory of a step that names none (``resources:`` in the step wins)."""

    pids: int = DEFAULT_PIDS
    cpu: float | None = None
    memory: int | None = None


def operator_limits(environ: Mapping[str, str] | None = None) -> OperatorLimits:
    env = os.environ if environ is None else environ
    try:
        pids = number_setting(
            PIDS_ENV, DEFAULT_PIDS, minimum=1, maximum=MAX_PIDS, unit="processes", environ=env
        )
    except InvalidInput as exc:
        raise LaunchFailed(exc.message) from None
    cpu = memory = None
    raw_cpu = env.get(CPU_ENV, "").strip()
    raw_memory = env.get(MEMORY_ENV, "").strip()
    try:
        resources = Resources.model_validate(
            {"cpu": float(raw_cpu) if raw_cpu else None, "memory": raw_memory or None}
        )
    except (ValueError, TypeError) as exc:
        raise LaunchFailed(f"{CPU_ENV} or {MEMORY_ENV} is not valid: {exc}") from None
    if resources.nano_cpus is not None:
        cpu = resources.nano_cpus / 1e9
    memory = resources.memory_bytes
    return OperatorLimits(pids, cpu, memory)


def image_of(step_type: str, config: Mapping[str, Any]) -> str:
    options = config.get("container")
    image = config.get("image") if step_type == "container" else None
    if isinstance(options, Mapping):
        image = options.get("image")
    if not isinstance(image, str) or not image:
        raise LaunchFailed(f"a {step_type!r} step in a container needs an image")
    return image


def check_docker(docker_host: str | None, image: str) -> None:
    """Raise LaunchFailed, saying how to fix it, unless Docker answers and has ``image``."""
    where = docker_host or DEFAULT_DOCKER_HOST
    fix = (
        "start the Docker daemon on this worker's host (dockerd, or systemctl start docker) "
        "or set DOCKER_HOST for the worker"
    )
    problem = unix_socket_problem(where)
    if problem is not None:
        raise LaunchFailed(
            f"Docker is not reachable: {problem}; {fix}", details={"docker_host": where}
        )
    try:
        client = _client(docker_host)
        client.ping()
    except docker.errors.DockerException as exc:
        _forget_client(docker_host)
        raise LaunchFailed(
            f"Docker is not reachable at {where} ({exc}); {fix}", details={"docker_host": where}
        ) from exc
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        raise LaunchFailed(
            f"image {image!r} is not in the Docker of this worker's host; Podium does not pull "
            f"images: pull or build it there first (docker pull {image}, docker build -t "
            f"{image} ., or from a root filesystem: tar -C rootfs -c . | docker import - {image})",
            details={"image": image},
        ) from None
    except docker.errors.DockerException as exc:
        raise LaunchFailed(f"cannot inspect image {image!r}: {exc}") from exc


def unix_socket_problem(docker_host: str) -> str | None:
    """Why nothing answers on ``docker_host``'s unix socket, or None (also for TCP hosts).

    Checked before the Docker client is made: the client leaks a socket each time it fails to
    connect to a unix socket (no file, or a file nobody listens on after dockerd died).
    """
    if not docker_host.startswith("unix://"):
        return None
    path = docker_host.removeprefix("unix://")
    if not os.path.exists(path):
        return f"there is no Docker socket at {docker_host}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(PING_TIMEOUT_S)
        try:
            probe.connect(path)
        except OSError as exc:
            return f"nothing answers on {docker_host} ({exc.strerror or exc})"
    return None


def remove_leftover(attempt_dir: Path) -> bool:
    """Remove the container a runner left behind (it died before removing it); True if one was.

    Cheap when there is nothing to do: a container job's runner deletes the file naming its
    container once the container is gone, and other jobs never write it.
    """
    try:
        record = json.loads((attempt_dir / CONTAINER_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    client = _client(record.get("docker_host"))
    removed = _remove(client, str(record["name"]))
    with contextlib.suppress(FileNotFoundError):
        (attempt_dir / CONTAINER_FILE).unlink()
    return removed


def _client(docker_host: str | None) -> docker.DockerClient:
    with _clients_lock:
        client = _clients.get(docker_host)
        if client is None:
            if docker_host:
                client = docker.DockerClient(base_url=docker_host, timeout=PING_TIMEOUT_S)
            else:
                client = docker.DockerClient(timeout=PING_TIMEOUT_S)
            _clients[docker_host] = client
        return client


def close_clients() -> None:
    """Close the Docker clients this process keeps (one per Docker host)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()


def _forget_client(docker_host: str | None) -> None:
    with _clients_lock:
        client = _clients.pop(docker_host, None)
    if client is not None:
        client.close()


def _remove(client: docker.DockerClient, name: str) -> bool:
    try:
        client.api.remove_container(name, force=True)
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as exc:
        if exc.status_code == 409:  # removal already in progress
            return True
        raise
    return True


# The runner: the job process of a container job.


def container_command(step_type: str, config: Mapping[str, Any]) -> list[str] | None:
    """What the container runs: the step's ``command`` (None: the image's own), or its script."""
    if step_type == "script":
        return ["sh", "-c", _SCRIPT_SHELL, f"{MOUNT}/{SCRIPT_FILE}"]
    if step_type == "python":
        return ["sh", "-c", _PYTHON_SHELL, f"{MOUNT}/{SCRIPT_FILE}"]
    command = config.get("command")
    return [str(part) for part in command] if isinstance(command, list) else None


def container_environment(
    step_type: str, config: Mapping[str, Any], job_env: Mapping[str, str]
) -> dict[str, str]:
    """The job's ``PODIUM_*`` variables with paths inside the container, and the step's env."""
    env = {name: job_env[name] for name in _PASSED_ENV if name in job_env}
    env.update({k: v for k, v in job_env.items() if k.startswith("PODIUM_")})
    for name, file in _FILE_VARS.items():
        if name in env:
            env[name] = f"{MOUNT}/{file}"
    env["PYTHONPATH"] = LIBRARY_MOUNT
    options = config.get("container")
    extra = options.get("env") if isinstance(options, Mapping) else None
    if step_type == "container":
        extra = config.get("env")
    if isinstance(extra, Mapping):
        env.update({str(k): str(v) for k, v in extra.items()})
    return env


def hardening(step_type: str, config: Mapping[str, Any]) -> tuple[bool, str]:
    """``(read_only, network)`` the step asks for: the ``container:`` mapping beside a script,
    or the ``container`` step's own keys. Checked again here: job.json is only data."""
    options = config.get("container")
    keys: Mapping[str, Any] = config
    if step_type != "container" and isinstance(options, Mapping):
        keys = options
    read_only = keys.get("read_only") or False
    network = keys.get("network") or "bridge"
    if not isinstance(read_only, bool) or network not in NETWORK_MODES:
        raise LaunchFailed(
            f"bad container options read_only={read_only!r}, network={network!r}: read_only "
            f"is true or false, network one of {', '.join(NETWORK_MODES)}"
        )
    return read_only, network


def create_options(
    attempt_dir: Path,
    step_type: str,
    config: Mapping[str, Any],
    job_env: Mapping[str, str],
    user: str | None = None,
    group_add: Sequence[str] = (),
    limits: OperatorLimits | None = None,
) -> dict[str, Any]:
    """Keyword arguments of ``containers.create`` for this attempt; ``user`` is ``UID:GID``
    (None: this process's own); ``limits`` the operator's (a pids limit always)."""
    limits = limits or OperatorLimits()
    resources = Resources.model_validate(config.get("resources") or {})
    library = Path(podium.__file__).resolve().parent
    read_only, network = hardening(step_type, config)
    options: dict[str, Any] = {
        "image": image_of(step_type, config),
        "command": container_command(step_type, config),
        "environment": container_environment(step_type, config, job_env),
        "working_dir": f"{MOUNT}/{WORK_DIR}",
        "user": user or f"{os.getuid()}:{os.getgid()}",
        "security_opt": ["no-new-privileges"],
        "cap_drop": ["ALL"],
        "volumes": {
            str(attempt_dir.resolve()): {"bind": MOUNT, "mode": "rw"},
            str(library): {"bind": f"{LIBRARY_MOUNT}/podium", "mode": "ro"},
        },
        "labels": {"podium.attempt_dir": str(attempt_dir)},
        "init": True,
        "stdin_open": False,
        "tty": False,
    }
    if group_add:
        options["group_add"] = list(group_add)
    if read_only:
        options["read_only"] = True
        options["tmpfs"] = {"/tmp": TMPFS_OPTIONS}
    if network != "bridge":
        options["network_mode"] = network
    options["pids_limit"] = limits.pids
    nano_cpus = resources.nano_cpus
    if nano_cpus is None and limits.cpu is not None:
        nano_cpus = int(limits.cpu * 1e9)
    memory = resources.memory_bytes if resources.memory_bytes is not None else limits.memory
    if nano_cpus is not None:
        options["nano_cpus"] = nano_cpus
    if memory is not None:
        options["mem_limit"] = memory
        options["memswap_limit"] = memory  # no swap beyond the limit
    return options


def run(
    attempt_dir: Path,
    step_type: str,
    name: str,
    docker_host: str | None,
    user: str | None = None,
    group_add: Sequence[str] = (),
    limits: OperatorLimits | None = None,
) -> int:
    """Run (or re-attach to) the attempt's container; its exit status is the runner's."""
    config = _read_config(attempt_dir)
    client = _client(docker_host)
    record = {"name": name, "docker_host": docker_host}
    _write_atomically(attempt_dir / CONTAINER_FILE, json.dumps(record))
    options = create_options(
        attempt_dir, step_type, config, dict(os.environ), user, group_add, limits
    )
    try:
        container, since = _attach_or_start(client, name, options)
        _stream_logs(container, since)
        status = int(container.wait()["StatusCode"])
        container.reload()
        if container.attrs["State"].get("OOMKilled"):
            limit = (config.get("resources") or {}).get("memory")
            _say(f"the container ran out of memory (limit {limit}) and was killed")
    except Stopped as stop:
        _say(f"stopping container {name} (signal {stop.signum})")
        with contextlib.suppress(docker.errors.DockerException):
            client.api.stop(name, timeout=STOP_TIMEOUT_S)
        status = 128 + stop.signum
    _remove(client, name)
    with contextlib.suppress(FileNotFoundError):
        (attempt_dir / CONTAINER_FILE).unlink()
    return status


def _attach_or_start(
    client: docker.DockerClient, name: str, options: Mapping[str, Any]
) -> tuple[Container, int | None]:
    """The attempt's container, started once: found again if a runner already created it.

    Returns it with the time from which its log is new to the attempt's log (None: all).
    """
    try:
        container = client.containers.get(name)
    except docker.errors.NotFound:
        try:
            container = client.containers.create(name=name, **options)
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: created meanwhile under the same name
                raise
            container = client.containers.get(name)
        else:
            container.start()
            return container, None
    state = container.attrs["State"]["Status"]
    _say(f"re-attached to container {name} ({state})")
    if state == "created":  # its runner died between creating and starting it
        container.start()
        return container, None
    return container, int(time.time())


def _stream_logs(container: Container, since: int | None) -> None:
    out = sys.stdout.buffer
    options: dict[str, Any] = {"stream": True, "follow": True}
    if since is not None:
        options["since"] = since
    for chunk in container.logs(**options):
        out.write(chunk)
        out.flush()


def _read_config(attempt_dir: Path) -> dict[str, Any]:
    try:
        loaded = json.loads((attempt_dir / JOB_CONFIG_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _say(line: str) -> None:
    sys.stdout.buffer.write(f"podium: {line}\n".encode())
    sys.stdout.buffer.flush()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Stopped(signum)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m podium.jobs.container")
    parser.add_argument("attempt_dir", type=Path)
    parser.add_argument("--type", dest="step_type", default="container")
    parser.add_argument("--name", required=True)
    parser.add_argument("--docker-host", default=None)
    parser.add_argument("--user", default=None, help="UID:GID the container runs as")
    parser.add_argument("--group-add", default="", help="supplementary gids, comma-separated")
    parser.add_argument("--pids", type=int, default=DEFAULT_PIDS, help="the container's pids limit")
    parser.add_argument("--default-cpu", type=float, default=None, help="cores, if none given")
    parser.add_argument("--default-memory", type=int, default=None, help="bytes, if none given")
    args = parser.parse_args(argv)
    groups = [g for g in args.group_add.split(",") if g]
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    try:
        limits = OperatorLimits(args.pids, args.default_cpu, args.default_memory)
        return run(
            args.attempt_dir,
            args.step_type,
            args.name,
            args.docker_host,
            args.user,
            groups,
            limits,
        )
    except Stopped as stop:  # before the container existed, or while removing it
        with contextlib.suppress(docker.errors.DockerException):
            _remove(_client(args.docker_host), args.name)
        return 128 + stop.signum
    except docker.errors.DockerException as exc:
        _say(f"Docker failed: {exc}")
        return DOCKER_EXIT
    except LaunchFailed as exc:
        _say(str(exc))
        return DOCKER_EXIT


if __name__ == "__main__":
    sys.exit(main())
