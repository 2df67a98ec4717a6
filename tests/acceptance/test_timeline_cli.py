"""``podium status --timeline`` against a real server: what happened, event by event."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Cli
from .test_server_workflows import json_of, unique_id, write_workflow

EVENTFUL = """\
id: {wf}
steps:
  - id: flaky
    type: script
    retries: {{limit: 1, delay: 0s}}
    script: |
      echo "attempt $PODIUM_ATTEMPT"
      [ "$PODIUM_ATTEMPT" -ge 2 ] || exit 3
  - id: never
    type: noop
    if: "${{ false }}"
  - id: boom
    type: script
    depends_on: [flaky]
    script: |
      echo "disk quota exceeded" >&2
      exit 3
"""


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Room for whole lines, so the assertions do not depend on how a table folds."""
    monkeypatch.setenv("COLUMNS", "200")


def run_eventful(cli: Cli, tmp_path: Path) -> tuple[str, str]:
    wf = unique_id("timeline")
    assert cli("push", str(write_workflow(tmp_path, EVENTFUL, wf))).returncode == 0
    result = cli("run", wf, "--wait")
    assert result.returncode == 1, result.stdout + result.stderr
    return wf, result.stdout.splitlines()[0].strip()


def lines_with(output: str, *needles: str) -> list[str]:
    return [line for line in output.splitlines() if all(n in line for n in needles)]


def test_status_timeline_prints_the_events(server_cli: Cli, tmp_path: Path) -> None:
    wf, instance_id = run_eventful(server_cli, tmp_path)

    result = server_cli("status", wf, instance_id, "--timeline")

    assert result.returncode == 0, result.stderr
    out = result.stdout
    header = lines_with(out, "decided", "step", "event", "what")
    assert len(header) == 1
    assert "visible once its transaction commits" in out  # what the stamps mean
    usual, timeline = out.split(header[0])
    assert "FAILED" in usual and "boom" in usual  # the usual status comes first
    assert lines_with(usual, "| disk quota exceeded")  # the failed step's log tail
    assert lines_with(timeline, "-", "instance.status", "IN_PROGRESS")
    assert lines_with(timeline, "flaky", "step.status", "RUNNING (attempt 1)")
    assert lines_with(timeline, "flaky", "step.retry", "retry in 0s after a user error")
    assert lines_with(timeline, "flaky", "step.status", "RUNNING (attempt 2)")
    assert lines_with(timeline, "flaky", "step.status", "SUCCEEDED")
    assert lines_with(timeline, "never", "SKIPPED: its condition (if) is false")
    assert lines_with(timeline, "boom", "FAILED [user] exit code 3")
    order = [
        timeline.index("RUNNING (attempt 1)"),
        timeline.index("retry in"),
        timeline.index("RUNNING (attempt 2)"),
        timeline.index("FAILED [user]"),
    ]
    assert order == sorted(order)


def test_status_timeline_of_one_step(server_cli: Cli, tmp_path: Path) -> None:
    wf, instance_id = run_eventful(server_cli, tmp_path)

    result = server_cli("status", wf, instance_id, "--timeline", "--step", "flaky")

    assert result.returncode == 0, result.stderr
    timeline = result.stdout[result.stdout.index("event") :]
    assert "step.retry" in timeline
    assert "never" not in timeline and "boom" not in timeline
    assert "instance.status" not in timeline


def test_status_timeline_json(server_cli: Cli, tmp_path: Path) -> None:
    wf, instance_id = run_eventful(server_cli, tmp_path)

    document = json_of(server_cli("status", wf, instance_id, "--timeline", "--json"))

    assert document["status"] == "FAILED"
    events = document["timeline"]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert {"id", "at", "step_id", "event", "detail"} <= set(events[0])
    assert [e["detail"]["status"] for e in events if e["step_id"] == "flaky"] == [
        "RUNNING",
        "CREATED",
        "RUNNING",
        "SUCCEEDED",
    ]
    plain = json_of(server_cli("status", wf, instance_id, "--json"))
    assert "timeline" not in plain


def test_status_timeline_of_an_unknown_step_exits_1(server_cli: Cli, tmp_path: Path) -> None:
    wf, instance_id = run_eventful(server_cli, tmp_path)

    result = server_cli("status", wf, instance_id, "--step", "nope")

    assert result.returncode == 1
    assert "no step 'nope'" in result.stderr
