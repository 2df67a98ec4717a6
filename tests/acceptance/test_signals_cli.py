"""The signal examples end to end, through the real CLI and a real server."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

from .conftest import Cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "signals"


def _status(cli: Cli, workflow_id: str, instance_id: str) -> dict[str, object]:
    return dict(json.loads(cli("status", workflow_id, instance_id, "--json").stdout))


def _steps(doc: dict[str, object]) -> dict[str, dict[str, object]]:
    return {s["id"]: s for s in doc["steps"]}  # type: ignore[attr-defined]


def _wait(cli: Cli, workflow_id: str, instance_id: str, status: str) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while (doc := _status(cli, workflow_id, instance_id))["status"] != status:
        assert time.monotonic() < deadline, doc
        time.sleep(0.1)
    return doc


def test_a_waiting_step_and_a_two_signal_trigger_end_to_end(server_cli: Cli) -> None:
    for name in ("load_users", "daily_report"):
        pushed = server_cli("push", str(EXAMPLES / f"{name}.yaml"))
        assert pushed.returncode == 0, pushed.stderr
    instance_id = server_cli("run", "load_users").stdout.strip()
    deadline = time.monotonic() + 20
    while "waits for signal" not in (
        shown := server_cli("status", "load_users", instance_id).stdout
    ):
        assert time.monotonic() < deadline, shown
        time.sleep(0.1)
    load = _steps(_status(server_cli, "load_users", instance_id))["load"]
    assert load["status"] == "WAITING_FOR_SIGNALS"
    partition = load["waiting_for_signals"][0]["match"]["partition"]  # type: ignore[index]
    assert (
        f"load: waits for signal 'partition_landed' with table=db.users, partition={partition}"
        in shown
    )

    sent = time.time()
    landed = server_cli(
        "signal", "partition_landed", "-p", "table=db.users", "-p", f"partition={partition}"
    )
    assert landed.returncode == 0, landed.stderr
    assert "signal partition_landed #1 announced; 1 waiting step(s) released" in landed.stdout
    doc = _wait(server_cli, "load_users", instance_id, "SUCCEEDED")
    started = datetime.fromisoformat(str(_steps(doc)["load"]["started_at"])).timestamp()
    assert started - sent < 1.0, started - sent
    # load_users announced db.users_daily: not what daily_report waits for.
    assert json.loads(server_cli("instances", "daily_report", "--json").stdout)["instances"] == []

    updated = server_cli("signal", "table_updated", "-p", "table=db.events", "--json")
    result = json.loads(updated.stdout)
    assert result["started"] == [{"workflow_id": "daily_report", "instance_id": 1}]
    report = _wait(server_cli, "daily_report", "1", "SUCCEEDED")
    assert report["params"] == {"day": partition}
    log = server_cli("logs", "daily_report", "1", "report")
    assert f"report for {partition}" in log.stdout

    # A retried announcement with the same request id does nothing twice.
    once = server_cli("signal", "table_updated", "-p", "table=db.events", "--request-id", "r1")
    twice = server_cli("signal", "table_updated", "-p", "table=db.events", "--request-id", "r1")
    assert "announced" in once.stdout and "was already announced" in twice.stdout

    # skip: a waiting step ends SKIPPED and so does what only depends on it.
    second = server_cli("run", "load_users").stdout.strip()
    deadline = time.monotonic() + 20
    while _steps(_status(server_cli, "load_users", second))["load"]["status"] != (
        "WAITING_FOR_SIGNALS"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    skipped = server_cli("skip", "load_users", second, "load")
    assert skipped.returncode == 0, skipped.stderr
    doc = _wait(server_cli, "load_users", second, "SUCCEEDED")
    assert [s["status"] for s in doc["steps"]] == ["SKIPPED", "SKIPPED"]  # type: ignore[attr-defined]
    refused = server_cli("skip", "load_users", second, "load")
    assert refused.returncode == 1 and "nothing to skip" in refused.stderr
