"""Docker for the tests of container jobs: a reachable daemon and images made locally.

Images cannot be pulled here, so the test image is a root filesystem holding a static busybox,
turned into an image with ``docker import``.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from pathlib import Path

import docker
import docker.errors
import pytest

from podium.jobs.container import DEFAULT_DOCKER_HOST, unix_socket_problem
from tests.support import in_ci

BUSYBOX_IMAGE = "podium-test-busybox:latest"
BUSYBOX_TOOLS = ("sh", "echo", "cat", "sleep", "ls", "env", "date", "id", "pwd", "true", "false")
BUSYBOX_PATHS = ("/bin/busybox", "/usr/bin/busybox")


def docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def docker_client() -> docker.DockerClient | None:
    if unix_socket_problem(docker_host()) is not None:
        return None  # asked before the client is made: it would leak a socket
    try:
        client = docker.from_env(timeout=10)
    except docker.errors.DockerException:
        return None
    try:
        client.ping()
    except docker.errors.DockerException:
        client.close()
        return None
    return client


def require_docker() -> docker.DockerClient:
    """The Docker client; skip on a laptop without Docker, fail in CI, where it must be there."""
    client = docker_client()
    if client is not None:
        return client
    reason = unix_socket_problem(docker_host()) or f"no answer from {docker_host()}"
    if in_ci():
        pytest.fail(f"Docker is not reachable: {reason} (CI must start dockerd: see .ci/run)")
    pytest.skip(f"Docker is not reachable: {reason} (start dockerd to run the container tests)")


def busybox_image(client: docker.DockerClient) -> str:
    """Import the busybox test image once per daemon (busybox-static must be installed)."""
    try:
        client.images.get(BUSYBOX_IMAGE)
        return BUSYBOX_IMAGE
    except docker.errors.ImageNotFound:
        pass
    binary = next((Path(p) for p in BUSYBOX_PATHS if Path(p).is_file()), None)
    if binary is None:
        found = shutil.which("busybox")
        binary = Path(found) if found else None
    if binary is None:
        message = "busybox is not installed (apt-get install busybox-static)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for directory in ("bin", "tmp"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        tar.add(str(binary), arcname="bin/busybox")
        for tool in BUSYBOX_TOOLS:
            info = tarfile.TarInfo(f"bin/{tool}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
    repository, tag = BUSYBOX_IMAGE.split(":")
    client.api.import_image_from_data(archive.getvalue(), repository=repository, tag=tag)
    return BUSYBOX_IMAGE


def podium_containers(client: docker.DockerClient) -> list[str]:
    """Names of every container of Podium's, running or not (``docker ps -a``)."""
    return [
        c.name or ""
        for c in client.containers.list(all=True)
        if (c.name or "").startswith("podium-")
    ]
