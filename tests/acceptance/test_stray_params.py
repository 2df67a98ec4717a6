"""A ``-p`` the workflow does not name is refused (exit 2, with the names it knows and a
did-you-mean) by ``run``, ``run --dry-run`` and ``restart``, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import Cli

DECLARED = """
id: declared
params:
  start: {type: int, default: 20240101}
  days: {type: int, default: 3}
  label: "from ${ start }"
steps:
  - {id: only, type: noop}
"""

BARE = """
id: bare
steps:
  - {id: only, type: noop}
"""


def _push(cli: Cli, tmp_path: Path, text: str, name: str) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    pushed = cli("push", str(path))
    assert pushed.returncode == 0, pushed.stderr


def _assert_refused(result: object, *needles: str) -> None:
    assert getattr(result, "returncode", None) == 2, result
    stderr = str(getattr(result, "stderr", ""))
    assert stderr.startswith("error: "), stderr
    for needle in needles:
        assert needle in stderr, stderr


def test_a_misspelt_param_is_refused_by_run_dry_run_and_restart(
    server_cli: Cli, tmp_path: Path
) -> None:
    _push(server_cli, tmp_path, DECLARED, "declared")
    known = ("'dayz' is not declared", "(did you mean 'days'?)", "start, days, label")

    _assert_refused(server_cli("run", "declared", "-p", "dayz=5"), *known)
    _assert_refused(server_cli("run", "declared", "-p", "dayz=5", "--wait"), *known)
    _assert_refused(server_cli("run", "declared", "--dry-run", "-p", "dayz=5"), *known)
    listed = json.loads(server_cli("instances", "declared", "--json").stdout)
    assert listed["instances"] == []  # nothing was started

    ran = server_cli("run", "declared", "-p", "days=5", "--wait", "--json")
    assert ran.returncode == 0, ran.stderr
    instance_id = str(json.loads(ran.stdout)["instance_id"])
    _assert_refused(server_cli("restart", "declared", instance_id, "-p", "dayz=5"), *known)
    _assert_refused(
        server_cli("restart", "declared", instance_id, "-p", "days=five"),
        "param 'days' must be of type int",
    )
    restarted = server_cli("restart", "declared", instance_id, "--from", "only", "-p", "days=6")
    assert restarted.returncode == 0, restarted.stderr


def test_a_workflow_without_params_takes_no_param(server_cli: Cli, tmp_path: Path) -> None:
    _push(server_cli, tmp_path, BARE, "bare")
    _assert_refused(server_cli("run", "bare", "-p", "x=1"), "this workflow declares no params")
    started = server_cli("run", "bare", "--wait")
    assert started.returncode == 0, started.stderr
