"""examples/parameterized.yaml through the real CLI: -p changes the result, --dry-run shows
the resolution without running anything."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import Cli

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "parameterized.yaml"


def test_params_change_the_result_and_dry_run_shows_the_resolution(server_cli: Cli) -> None:
    assert server_cli("push", str(EXAMPLE)).returncode == 0

    dry = server_cli("run", "parameterized", "--dry-run", "-p", "days=5", "--json")
    assert dry.returncode == 0, dry.stderr
    doc = json.loads(dry.stdout)
    assert doc["params"]["days"] == 5
    steps = {s["id"]: s for s in doc["steps"]}
    assert steps["plan"]["params"]["end"] == 20240105
    assert steps["report"]["waits_for_outputs_of"] == ["plan"]
    human = server_cli("run", "parameterized", "--dry-run", "-p", "days=5")
    assert "end = 20240105" in human.stdout and "known when these have run: plan" in human.stdout
    listed = server_cli("instances", "parameterized", "--json")
    assert json.loads(listed.stdout)["instances"] == []

    for days, expected in (
        ("3", "3 days, from 20240101 to 20240103"),
        ("5", "5 days, from 20240101 to 20240105"),
    ):
        started = server_cli("run", "parameterized", "-p", f"days={days}", "--wait", "--json")
        assert started.returncode == 0, started.stderr
        instance = json.loads(started.stdout)
        report = {s["id"]: s for s in instance["steps"]}["report"]
        assert report["params"]["count"] == int(days)
        logs = server_cli("logs", "parameterized", str(instance["instance_id"]), "report")
        assert expected in logs.stdout

    bad = server_cli("run", "parameterized", "-p", "days=five")
    assert bad.returncode == 2
    assert "'days' must be of type int" in bad.stderr


def test_status_shows_resolved_step_params_and_outputs(server_cli: Cli) -> None:
    assert server_cli("push", str(EXAMPLE)).returncode == 0
    started = server_cli("run", "parameterized", "-p", "days=2", "--wait", "--json")
    instance_id = str(json.loads(started.stdout)["instance_id"])
    shown = server_cli("status", "parameterized", instance_id)
    assert shown.returncode == 0
    assert 'plan:\n  params: {"end": 20240102}\n  outputs: {"dates": [20240101, 20240102]}' in (
        shown.stdout
    )
    assert '"count": 2' in shown.stdout
