"""restart, breakpoint and resume through the real CLI against a real server."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .conftest import Cli

FLOW = """
id: steered
params: {ok: false}
steps:
  - {id: first, type: script, script: "echo first"}
  - id: second
    type: script
    depends_on: [first]
    script: '[ "$PODIUM_PARAM_OK" = true ]'
"""


def _status(cli: Cli, instance_id: str) -> dict[str, object]:
    return dict(json.loads(cli("status", "steered", instance_id, "--json").stdout))


def _wait_step(cli: Cli, instance_id: str, step: str, status: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        steps = {s["id"]: s for s in _status(cli, instance_id)["steps"]}  # type: ignore[attr-defined]
        if steps[step]["status"] == status:
            return
        time.sleep(0.1)
    raise AssertionError(f"{step} never {status}")


def test_restart_breakpoint_and_resume(server_cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "steered.yaml"
    path.write_text(FLOW)
    assert server_cli("push", str(path)).returncode == 0
    failed = server_cli("run", "steered", "--wait")
    assert failed.returncode == 1
    instance_id = failed.stdout.split()[0]

    restarted = server_cli("restart", "steered", instance_id, "-p", "ok=true")
    assert restarted.returncode == 0, restarted.stderr
    assert "rerunning second" in restarted.stdout
    deadline = time.monotonic() + 30
    while _status(server_cli, instance_id)["status"] != "SUCCEEDED":
        assert time.monotonic() < deadline
        time.sleep(0.1)

    assert server_cli("breakpoint", "set", "steered", "second").returncode == 0
    listed = json.loads(server_cli("breakpoint", "list", "steered", "--json").stdout)
    assert [b["step_id"] for b in listed["breakpoints"]] == ["second"]
    paused = server_cli("run", "steered", "-p", "ok=true").stdout.strip()
    _wait_step(server_cli, paused, "second", "PAUSED")
    assert server_cli("breakpoint", "clear", "steered", "second").returncode == 0
    resumed = server_cli("resume", "steered", paused, "second")
    assert resumed.returncode == 0, resumed.stderr
    _wait_step(server_cli, paused, "second", "SUCCEEDED")
    again = server_cli("resume", "steered", paused, "second")
    assert again.returncode == 1 and "not PAUSED" in again.stderr
    unknown = server_cli("breakpoint", "set", "steered", "nope")
    assert unknown.returncode == 1 and "has no step 'nope'" in unknown.stderr
