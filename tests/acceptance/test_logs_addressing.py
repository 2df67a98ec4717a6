"""``podium logs`` reaches a step inside a foreach iteration (or a subworkflow), as
``podium status`` does, and says why when a step has no log, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import Cli

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "backfill.yaml"

LATER = """
id: later
steps:
  - {id: first, type: script, script: "sleep 1"}
  - id: each
    depends_on: [first]
    foreach:
      over: {n: [5]}
      steps:
        - {id: say, type: script, script: "echo late ${ n }"}
"""


def test_logs_of_an_iteration_and_of_a_foreach_step(server_cli: Cli) -> None:
    assert server_cli("push", str(EXAMPLE)).returncode == 0
    run = server_cli("run", "backfill", "-p", "days=4", "--wait", "--json", timeout_s=120)
    assert run.returncode == 0, run.stderr
    instance_id = str(json.loads(run.stdout)["instance_id"])

    one = server_cli("logs", "backfill", instance_id, "load.aggregate", "--iteration", "2")
    assert (one.returncode, one.stdout) == (0, "20240201: 10 rows\n"), one.stderr
    inline = server_cli("logs", "backfill", instance_id, "load[3].aggregate", "--json")
    assert inline.returncode == 0, inline.stderr
    document = json.loads(inline.stdout)
    assert document["instance_id"] == int(instance_id)
    assert document["step"] == "load[3].aggregate"
    assert document["text"] == "20240202: 20 rows\n"

    foreach = server_cli("logs", "backfill", instance_id, "load")
    assert (foreach.returncode, foreach.stdout) == (1, "")
    assert (
        "step 'load' is a foreach of 4 iterations: it has no log of its own; "
        "ask for a step inside one iteration: load.aggregate --iteration N"
    ) in foreach.stderr
    which = server_cli("logs", "backfill", instance_id, "load.aggregate")
    assert which.returncode == 2
    assert "say which iteration with --iteration N" in which.stderr


def test_logs_follows_a_step_of_an_iteration_that_has_not_started(
    server_cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "later.yaml"
    path.write_text(LATER)
    assert server_cli("push", str(path)).returncode == 0
    assert server_cli("breakpoint", "set", "later", "first").returncode == 0
    instance_id = server_cli("run", "later").stdout.strip()

    early = server_cli("logs", "later", instance_id, "each.say", "--iteration", "0")
    assert early.returncode == 1 and early.stdout == ""
    assert "iteration 0 of step 'each' has not started yet" in early.stderr
    assert "add --follow to wait for it" in early.stderr
    assert server_cli("breakpoint", "clear", "later", "first").returncode == 0
    assert server_cli("resume", "later", instance_id, "first").returncode == 0
    # `first` sleeps a second after it is resumed: the follow starts before the iteration.
    followed = server_cli(
        "logs", "later", instance_id, "each.say", "--iteration", "0", "--follow", timeout_s=60
    )
    assert (followed.returncode, followed.stdout) == (0, "late 5\n"), followed.stderr
