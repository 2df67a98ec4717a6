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


def test_info_shows_queued_instances_and_unblock_lets_them_go(
    server_cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "strict.yaml"
    path.write_text(
        "id: strict\nrun_strategy: strict_sequential\nparams: {ok: false}\nsteps:\n"
        "  - {id: a, type: script, script: '[ \"$PODIUM_PARAM_OK\" = true ]'}\n"
    )
    assert server_cli("push", str(path)).returncode == 0
    assert server_cli("run", "strict", "--wait").returncode == 1
    waiting = server_cli("run", "strict", "-p", "ok=true").stdout.strip()
    deadline = time.monotonic() + 10
    while "blocked by failed instance 1" not in (shown := server_cli("info", "strict").stdout):
        assert time.monotonic() < deadline, shown
        time.sleep(0.1)
    assert f"queued (strict_sequential)\n  {waiting}: strict_sequential: blocked" in shown
    assert server_cli("unblock", "strict").returncode == 0
    deadline = time.monotonic() + 20
    while json.loads(server_cli("status", "strict", waiting, "--json").stdout)["status"] != (
        "SUCCEEDED"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_tag_limit_sets_lists_and_status_shows_the_permit_a_step_needs(
    server_cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "tagged.yaml"
    path.write_text(
        "id: tagged\nsteps:\n  - {id: load, type: script, tags: [warehouse], script: 'sleep 0.2'}\n"
    )
    assert server_cli("push", str(path)).returncode == 0
    listed = server_cli("tag-limit")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split("\n")[1].split() == ["warehouse", "no", "limit", "0", "0"]
    set_zero = server_cli("tag-limit", "warehouse", "0")
    assert set_zero.returncode == 0, set_zero.stderr
    assert "warehouse: limit 0, 0 running, 0 waiting" in set_zero.stdout
    instance_id = server_cli("run", "tagged").stdout.strip()
    deadline = time.monotonic() + 20
    while "WAITING_FOR_PERMITS" not in (
        shown := server_cli("status", "tagged", instance_id).stdout
    ):
        assert time.monotonic() < deadline, shown
        time.sleep(0.1)
    assert "load: needs a 'warehouse' permit (0/0 in use, 0 ahead of it)" in shown
    timeline = server_cli("status", "tagged", instance_id, "--timeline").stdout
    assert "WAITING_FOR_PERMITS (for a 'warehouse' permit)" in timeline
    one = server_cli("tag-limit", "warehouse")
    assert f"waiting:\n  tagged {instance_id} load" in one.stdout
    assert server_cli("tag-limit", "warehouse", "1").returncode == 0
    deadline = time.monotonic() + 20
    while json.loads(server_cli("status", "tagged", instance_id, "--json").stdout)["status"] != (
        "SUCCEEDED"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    shown = json.loads(server_cli("tag-limit", "--json").stdout)["tags"]
    assert [(t["tag"], t["limit"], t["in_use"]) for t in shown] == [("warehouse", 1, 0)]
    bad = server_cli("tag-limit", "warehouse", "two")
    assert bad.returncode == 2 and "bad limit 'two'" in bad.stderr
    cleared = server_cli("tag-limit", "warehouse", "--clear")
    assert cleared.returncode == 0 and "limit no limit" in cleared.stdout
    unknown = server_cli("tag-limit", "nothing")
    assert unknown.returncode == 1 and "no tag 'nothing'" in unknown.stderr
