"""The CLI against a real ``podium server``: push, run, follow, inspect, version switches."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from .conftest import Cli

THREE_STEPS = """\
id: {wf}
description: three script steps, one from a file script, two returning outputs
steps:
  - id: hello
    type: script
    file: hello.sh
  - id: count
    type: script
    depends_on: [hello]
    outputs: [n]
    script: |
      echo "counting"
      echo '{{"n": 42}}' > "$PODIUM_OUTPUTS"
  - id: report
    type: script
    depends_on: [count]
    params:
      total: 43
    outputs: [total]
    script: |
      echo "total is $PODIUM_PARAM_TOTAL"
      echo "{{\\"total\\": $PODIUM_PARAM_TOTAL}}" > "$PODIUM_OUTPUTS"
"""

FAILING = """\
id: {wf}
steps:
  - id: fine
    type: noop
  - id: boom
    type: script
    depends_on: [fine]
    script: |
      echo "about to fail"
      echo "disk quota exceeded" >&2
      exit 3
"""

NOOP = """\
id: {wf}
steps:
  - id: only
    type: noop
"""


def unique_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def write_workflow(directory: Path, template: str, wf: str) -> Path:
    path = directory / f"{wf}.yaml"
    path.write_text(template.format(wf=wf))
    return path


def json_of(result: Any) -> Any:
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr}"
    return json.loads(result.stdout)


def push_three_steps(cli: Cli, tmp_path: Path) -> str:
    wf = unique_id("three")
    (tmp_path / "hello.sh").write_text('echo "hello from a file script"\n')
    path = write_workflow(tmp_path, THREE_STEPS, wf)
    result = cli("push", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"pushed {wf} version 1 (active)"
    return wf


def test_push_run_wait_succeeds_with_outputs(server_cli: Cli, tmp_path: Path) -> None:
    wf = push_three_steps(server_cli, tmp_path)

    result = server_cli("run", wf, "--wait")

    assert result.returncode == 0, result.stdout + result.stderr
    instance_id = result.stdout.splitlines()[0].strip()
    assert "SUCCEEDED" in result.stdout
    status = json_of(server_cli("status", wf, instance_id, "--json"))
    assert status["workflow_id"] == wf
    assert str(status["instance_id"]) == instance_id
    assert status["version"] == 1
    assert status["status"] == "SUCCEEDED"
    steps = {step["id"]: step for step in status["steps"]}
    assert [step["id"] for step in status["steps"]] == ["hello", "count", "report"]
    assert all(step["status"] == "SUCCEEDED" for step in steps.values())
    assert all(step["attempts"] == 1 for step in steps.values())
    assert steps["count"]["outputs"] == {"n": 42}
    assert steps["report"]["outputs"] == {"total": 43}
    human = server_cli("status", wf, instance_id)
    assert human.returncode == 0
    assert "report" in human.stdout and "SUCCEEDED" in human.stdout


def test_run_json_and_wait_json(server_cli: Cli, tmp_path: Path) -> None:
    wf = unique_id("noop")
    assert server_cli("push", str(write_workflow(tmp_path, NOOP, wf))).returncode == 0

    started = json_of(server_cli("run", wf, "--json"))
    assert started["workflow_id"] == wf
    assert {"instance_id", "status"} <= set(started)

    final = json_of(server_cli("run", wf, "--wait", "--json"))
    assert final["status"] == "SUCCEEDED"
    assert final["steps"][0]["id"] == "only"

    listed = json_of(server_cli("instances", wf, "--json"))["instances"]
    assert [item["instance_id"] for item in listed] == [
        final["instance_id"],
        started["instance_id"],
    ]


def test_failing_step_run_wait_exits_1_and_prints_the_error(
    server_cli: Cli, tmp_path: Path
) -> None:
    wf = unique_id("failing")
    assert server_cli("push", str(write_workflow(tmp_path, FAILING, wf))).returncode == 0

    result = server_cli("run", wf, "--wait")

    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "FAILED" in output
    assert "boom" in output
    assert "user" in output
    instance_id = result.stdout.splitlines()[0].strip()
    status = json_of(server_cli("status", wf, instance_id, "--json"))
    steps = {step["id"]: step for step in status["steps"]}
    assert status["status"] == "FAILED"
    assert steps["fine"]["status"] == "SUCCEEDED"
    assert steps["boom"]["status"] == "FAILED"
    assert steps["boom"]["error"]["kind"] == "user"
    assert steps["boom"]["error"]["message"] in output


def test_push_inactive_activate_deactivate_info(server_cli: Cli, tmp_path: Path) -> None:
    wf = unique_id("versions")
    path = write_workflow(tmp_path, NOOP, wf)
    first = json_of(server_cli("push", str(path), "--json"))
    assert first == {**first, "workflow_id": wf, "version": 1, "active": True}

    second = server_cli("push", str(path), "--inactive")
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == f"pushed {wf} version 2 (inactive)"
    info = json_of(server_cli("info", wf, "--json"))
    assert (info["active_version"], info["latest_version"], info["status"]) == (1, 2, "active")

    activated = json_of(server_cli("activate", wf, "--version", "2", "--json"))
    assert activated["active_version"] == 2
    rolled_back = server_cli("activate", wf, "--version", "1")
    assert rolled_back.returncode == 0, rolled_back.stderr
    assert "active version 1" in rolled_back.stdout

    deactivated = json_of(server_cli("deactivate", wf, "--json"))
    assert deactivated["active_version"] is None
    info = json_of(server_cli("info", wf, "--json"))
    assert (info["active_version"], info["status"]) == (None, "inactive")

    human = server_cli("info", wf)
    assert human.returncode == 0, human.stderr
    assert wf in human.stdout and "inactive" in human.stdout

    run_v2 = json_of(server_cli("run", wf, "--version", "2", "--wait", "--json"))
    assert (run_v2["version"], run_v2["status"]) == (2, "SUCCEEDED")


def test_logs_prints_a_steps_echo(server_cli: Cli, tmp_path: Path) -> None:
    wf = push_three_steps(server_cli, tmp_path)
    final = json_of(server_cli("run", wf, "--wait", "--json"))
    instance_id = str(final["instance_id"])

    hello = server_cli("logs", wf, instance_id, "hello")
    assert hello.returncode == 0, hello.stderr
    assert "hello from a file script" in hello.stdout

    followed = server_cli("logs", wf, instance_id, "report", "--follow")
    assert followed.returncode == 0, followed.stderr
    assert "total is 43" in followed.stdout

    document = json_of(server_cli("logs", wf, instance_id, "count", "--attempt", "1", "--json"))
    assert "counting" in document["text"]
    assert document["complete"] is True
    assert document["instance_id"] == int(instance_id)


def test_unknown_workflow_exits_1(server_cli: Cli) -> None:
    for args in (["info", "no_such_workflow"], ["run", "no_such_workflow", "--wait"]):
        result = server_cli(*args)
        assert result.returncode == 1, args
        assert result.stderr.startswith("error: "), result.stderr
        assert result.stdout == ""


def test_unknown_instance_exits_1(server_cli: Cli, tmp_path: Path) -> None:
    wf = unique_id("noop")
    assert server_cli("push", str(write_workflow(tmp_path, NOOP, wf))).returncode == 0

    result = server_cli("status", wf, "999999")

    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
