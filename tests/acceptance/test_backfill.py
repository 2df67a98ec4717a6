"""examples/backfill.yaml through the real CLI: the foreach, its counts, one iteration."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import Cli

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "backfill.yaml"


def test_backfill_runs_one_job_per_date_and_reports_them(server_cli: Cli) -> None:
    assert server_cli("push", str(EXAMPLE)).returncode == 0
    run = server_cli("run", "backfill", "-p", "days=4", "--wait", "--json", timeout_s=120)
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    steps = {s["id"]: s for s in doc["steps"]}
    assert steps["load"]["iterations"]["total"] == 4
    assert steps["load"]["iterations"]["succeeded"] == 4
    assert steps["report"]["params"]["rows"] == [300, 310, 10, 20]
    instance_id = str(doc["instance_id"])
    logs = server_cli("logs", "backfill", instance_id, "report")
    assert "4 days, 640 rows in all: [300,310,10,20]" in logs.stdout

    one = server_cli(
        "status", "backfill", instance_id, "--step", "load", "--iteration", "2", "--json"
    )
    assert one.returncode == 0, one.stderr
    iteration = json.loads(one.stdout)
    assert iteration["iteration"] == 2 and iteration["params"]["date"] == 20240201
    human = server_cli("status", "backfill", instance_id, "--step", "load", "--iteration", "2")
    assert "iteration 2 of load" in human.stdout and '"rows": 10' in human.stdout
    table = server_cli("status", "backfill", instance_id)
    assert "4/4 ok" in table.stdout
