"""A start a trigger could not make, as the real CLI shows it against a real server:
``podium signal`` names it, ``podium info`` lists it; and a signal trigger reads as text."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from podium.store.database import Database
from podium.triggers.scheduler import Scheduler

from .conftest import Cli

REPORT = """
id: report
trigger:
  signals:
    - - name: table_updated
        match: {table: db.events}
      - name: partition_landed
        match: {table: db.users, partition: {">=": 20240101, "<": 20250101}}
    - - name: rerun_report
params:
  day: "${ signal.partition }"
steps: [{id: a, type: noop}]
"""

AUDIT = """
id: audit
trigger: {signals: [[{name: rerun_report}]]}
steps: [{id: a, type: noop}]
"""

YEARLY = """
id: yearly
trigger: {cron: "0 0 1 1 *"}
params: {year: {type: int, required: true}}
steps: [{id: a, type: noop}]
"""


def _push(cli: Cli, tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    pushed = cli("push", str(path))
    assert pushed.returncode == 0, pushed.stderr


def test_signal_and_info_show_a_failed_signal_start(server_cli: Cli, tmp_path: Path) -> None:
    _push(server_cli, tmp_path, "report", REPORT)
    _push(server_cli, tmp_path, "audit", AUDIT)

    text = server_cli("signal", "rerun_report")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == "signal rerun_report #1 announced; started audit 1"
    assert lines[1] == (
        "could not start report (trigger signals[1]): the run's params are not valid: "
        "params.day: signal has no param 'partition'"
    )

    as_json = server_cli("signal", "rerun_report", "-p", "x=1", "--json")
    assert as_json.returncode == 0, as_json.stderr
    reply = json.loads(as_json.stdout)
    assert reply["started"] == [{"workflow_id": "audit", "instance_id": 2}]
    assert reply["failed"] == [
        {
            "workflow_id": "report",
            "trigger": "signals[1]",
            "reason": "the run's params are not valid: params.day: signal has no param 'partition'",
        }
    ]

    info = server_cli("info", "report")
    assert info.returncode == 0, info.stderr
    shown = info.stdout
    assert "{'name'" not in shown and "[[" not in shown  # no Python repr
    assert "trigger: signals (a group starts a run when all its signals arrived)" in shown
    assert (
        "  signals[0]: table_updated (table=db.events) + "
        "partition_landed (table=db.users, partition>=20240101, partition<20250101)"
    ) in shown
    assert "  signals[1]: rerun_report\n" in shown
    assert "trigger failures (newest first)" in shown
    failures = [line for line in shown.splitlines() if line.startswith("  signals[1] at ")]
    assert len(failures) == 2, shown
    assert failures[0].endswith(
        "(version 1, from rerun_report #2): the run's params are not valid: "
        "params.day: signal has no param 'partition'"
    ), failures
    assert "from rerun_report #1)" in failures[1]
    document = json.loads(server_cli("info", "report", "--json").stdout)
    assert [f["signals"][0]["seq"] for f in document["trigger_failures"]] == [2, 1]
    assert "trigger failures" not in server_cli("info", "audit").stdout


def test_info_shows_a_failed_cron_start(server_cli: Cli, server: str, tmp_path: Path) -> None:
    _push(server_cli, tmp_path, "yearly", YEARLY)
    # A second scheduler on the server's database, its clock at New Year (as if a worker
    # had been there): the tick fires, and the start fails for want of a year.
    url = os.environ.get("PODIUM_TEST_DB_URL") or f"sqlite:///{tmp_path / 'server-home/podium.db'}"
    new_year = datetime(datetime.now(UTC).year + 1, 1, 1, tzinfo=UTC)
    db = Database(url)
    try:
        Scheduler(db, clock=lambda: new_year.timestamp() + 5).run_once()
    finally:
        db.dispose()
    info = server_cli("info", "yearly")
    assert info.returncode == 0, info.stderr
    (line,) = [x for x in info.stdout.splitlines() if x.startswith("  cron at ")]
    assert "(version 1, tick " in line
    assert line.endswith("param 'year' is required: pass it with -p year=VALUE"), line
    assert "trigger: cron=0 0 1 1 *" in info.stdout
