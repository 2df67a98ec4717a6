"""Acceptance fixtures: the real ``podium`` CLI, and a real ``podium server``, in subprocesses."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

SERVER_START_TIMEOUT_S = 60.0
SERVER_STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def podium_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "podium.cli.main", *args]


@dataclass(frozen=True)
class Cli:
    """Runs ``podium …`` in a subprocess pointed at ``server`` (by PODIUM_SERVER)."""

    server: str
    home: Path
    cwd: Path
    env: tuple[tuple[str, str], ...] = ()
    """More environment: ``(("PODIUM_CONFIG_DIR", other),)`` is another user's CLI."""

    def __call__(
        self, *args: str, timeout_s: float = 120.0, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PODIUM_SERVER": self.server, "PODIUM_HOME": str(self.home)}
        env.update(dict(self.env))
        env.pop("NO_COLOR", None)
        return subprocess.run(
            podium_command(*args),
            cwd=self.cwd,
            env=env,
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """The CLI pointed at a port where nothing listens: for commands that need no server."""
    return Cli(server=f"http://127.0.0.1:{free_port()}", home=tmp_path / "home", cwd=tmp_path)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A real ``podium server`` on a free port with PODIUM_HOME in tmp_path; yields its URL.

    With PODIUM_TEST_DB_URL set, the server uses that database (its isolation is the caller's).
    """
    home = tmp_path / "server-home"
    home.mkdir()
    port = free_port()
    args = ["server", "--host", "127.0.0.1", "--port", str(port)]
    db_url = os.environ.get("PODIUM_TEST_DB_URL")
    if db_url:
        args += ["--db", db_url]
    log_path = tmp_path / "server.log"
    env = {**os.environ, "PODIUM_HOME": str(home)}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            podium_command(*args),
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(process, url, log_path)
        yield url
    finally:
        _terminate(process)


def _wait_until_healthy(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"podium server exited with {process.returncode} before it was healthy:\n"
                + log_path.read_text(errors="replace")
            )
        try:
            response = httpx.get(f"{url}/api/v1/health", timeout=1.0)
            if response.status_code == 200 and response.json().get("status") == "ok":
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(
        f"podium server not healthy after {SERVER_START_TIMEOUT_S}s:\n"
        + log_path.read_text(errors="replace")
    )


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, then SIGKILL it if it lingers: no leaked jobs."""
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=SERVER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait(timeout=SERVER_STOP_TIMEOUT_S)
    # Jobs the server started live in its process group; none may outlive the test.
    _signal_group(process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


@pytest.fixture
def server_cli(server: str, tmp_path: Path) -> Cli:
    """The CLI pointed at the running test server."""
    return Cli(server=server, home=tmp_path / "home", cwd=tmp_path)
