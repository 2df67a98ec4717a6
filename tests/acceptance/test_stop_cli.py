"""``podium stop``: a live instance is stopped; an ended one is not, and the CLI and the API
say so (exit 1, HTTP 409) instead of "stop requested"."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from podium.credentials import ServerAuth

from .conftest import Cli

FLOW = """
id: stoppable
steps:
  - {id: waits, type: sleep, seconds: 600}
"""


def _status(cli: Cli, instance_id: str) -> str:
    return str(json.loads(cli("status", "stoppable", instance_id, "--json").stdout)["status"])


def test_stop_stops_a_live_instance_and_refuses_an_ended_one(
    server: str, server_cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "stoppable.yaml"
    path.write_text(FLOW)
    assert server_cli("push", str(path)).returncode == 0
    instance_id = server_cli("run", "stoppable").stdout.strip()

    stopped = server_cli("stop", "stoppable", instance_id)
    assert stopped.returncode == 0, stopped.stderr
    assert f"stop requested for stoppable {instance_id}" in stopped.stdout
    deadline = time.monotonic() + 30
    while _status(server_cli, instance_id) != "STOPPED":
        assert time.monotonic() < deadline, "the instance did not stop"
        time.sleep(0.1)

    again = server_cli("stop", "stoppable", instance_id)
    assert again.returncode == 1
    assert again.stdout == ""
    assert again.stderr.startswith(
        f"error: instance {instance_id} of 'stoppable' already ended STOPPED; nothing to stop"
    ), again.stderr

    response = httpx.post(
        f"{server}/api/v1/workflows/stoppable/instances/{instance_id}/stop",
        auth=ServerAuth(server),
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "conflict"
    assert error["details"] == {"status": "STOPPED"}
    assert "nothing to stop" in error["message"]
