"""The README's test command passes on a machine without a Docker daemon: the container tests
are skipped with their reason there, and fail in CI, where dockerd must run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTAINER_TESTS = (
    "tests/integration/test_jobs_container.py::test_log_is_streamed_while_the_container_runs",
    "tests/acceptance/test_containers.py::test_stop_removes_the_running_container",
)


def run_container_tests(docker_host: str, *, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["DOCKER_HOST"] = docker_host
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *CONTAINER_TESTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(params=["no socket", "dead socket"])
def absent_docker(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    path = tmp_path / "docker.sock"
    if request.param == "dead socket":  # dockerd died and left its socket behind
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as left_behind:
            left_behind.bind(str(path))
    return f"unix://{path}"


def test_without_docker_the_container_tests_are_skipped_with_a_reason(absent_docker: str) -> None:
    result = run_container_tests(absent_docker, ci=False)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "2 skipped" in result.stdout, result.stdout[-3000:]
    assert "error" not in result.stdout.lower().split("short test summary")[-1]
    assert "Docker is not reachable" in result.stdout


def test_in_ci_a_missing_docker_fails_the_suite(absent_docker: str) -> None:
    result = run_container_tests(absent_docker, ci=True)
    assert result.returncode == 1, result.stdout[-3000:]
    assert "CI must start dockerd" in result.stdout
