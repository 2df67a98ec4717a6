"""A ``podium server`` with followers on its event stream still stops at once on SIGTERM:
it ends their streams first (their clients reconnect elsewhere) instead of waiting for them."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from podium.credentials import ServerAuth

from .conftest import _terminate, _wait_until_healthy, free_port, podium_command


def test_sigterm_ends_open_streams_and_the_server_promptly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            podium_command("server", "--host", "127.0.0.1", "--port", str(port)),
            env={**os.environ, "PODIUM_HOME": str(home)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_healthy(process, url, log_path)
        with httpx.Client(base_url=url, auth=ServerAuth(url), timeout=30) as client:
            pushed = client.post(
                "/api/v1/workflows", json={"yaml": "id: w\nsteps:\n  - {id: a, type: noop}\n"}
            )
            assert pushed.status_code == 201, pushed.text
            with client.stream("GET", "/api/v1/workflows/w/events") as stream:
                assert stream.status_code == 200
                lines = stream.iter_lines()
                assert next(lines) == "retry: 1000"  # the stream is live
                started = time.monotonic()
                os.killpg(process.pid, signal.SIGTERM)
                rest = list(lines)  # the server ends the stream: this returns
                ended = time.monotonic() - started
            assert "event: behind" not in rest
        process.wait(timeout=30)
        stopped = time.monotonic() - started
        # Stopped by its SIGTERM (uvicorn raises it again once shut down), not killed later.
        assert process.returncode in (0, -signal.SIGTERM), log_path.read_text(errors="replace")
        # uvicorn's graceful timeout (5 s) would have passed had the stream been waited for.
        assert ended < 3 and stopped < 4.5, (ended, stopped)
    finally:
        _terminate(process)
