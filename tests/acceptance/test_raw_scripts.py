"""``${ raw(…) }``: the one way to paste a value into a script as code, valid but warned about
by validate, push and the API; a plain ``${ }`` stays a quoted literal."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from podium.credentials import ServerAuth

from .conftest import Cli

DEFINITION = """\
id: raw_opt_in
params:
  command: "true"
steps:
  - id: quoted
    type: script
    script: "echo ${ command }"
  - id: pasted
    type: script
    depends_on: [quoted]
    script: "${ raw(command) }"
"""


def test_raw_runs_the_value_and_every_door_warns(server_cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "raw.yaml"
    path.write_text(DEFINITION)
    pushed = server_cli("push", str(path))
    assert pushed.returncode == 0, pushed.stderr
    assert "warning: steps[1].script: `${ raw(…) }` pastes a value into the script" in (
        pushed.stderr
    )
    with httpx.Client(base_url=server_cli.server, auth=ServerAuth(server_cli.server)) as client:
        answer = client.post("/api/v1/workflows", json={"yaml": DEFINITION}).json()
    assert [w["location"] for w in answer["warnings"]] == ["steps[1].script"]

    quoted_canary, pasted_canary = tmp_path / "quoted", tmp_path / "pasted"
    run = server_cli(
        "run", "raw_opt_in", "-p", f"command=touch {quoted_canary} {pasted_canary}",
        "--wait", "--json",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["status"] == "SUCCEEDED"
    # Both steps got the same value: the quoted one echoed it, the raw one ran it.
    assert pasted_canary.exists() and quoted_canary.exists()
    log = server_cli("logs", "raw_opt_in", str(json.loads(run.stdout)["instance_id"]), "quoted")
    assert f"touch {quoted_canary} {pasted_canary}" in log.stdout
