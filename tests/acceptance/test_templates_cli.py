"""``podium templates`` and template steps through the real CLI and a real server."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import Cli

ROOT = Path(__file__).resolve().parents[2]

COUNTER_YAML = """\
name: counter
description: Counts to a number.
parameters:
  upto: {type: int, required: true, description: the last number}
  word: {type: string, default: n}
"""
USES_COUNTER = """\
id: counting
steps:
  - id: count
    type: counter
    params: {upto: 3}
    outputs: [said]
"""


def _write_counter(folder: Path, body: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "template.yaml").write_text(COUNTER_YAML, encoding="utf-8")
    (folder / "run.py").write_text(body, encoding="utf-8")
    return folder


def test_templates_lists_and_shows_the_shipped_ones(server_cli: Cli) -> None:
    listed = server_cli("templates")
    assert listed.returncode == 0, listed.stderr
    assert "sql" in listed.stdout and "spark" in listed.stdout
    assert "query (string, required)" in listed.stdout
    document = json.loads(server_cli("templates", "--json").stdout)
    names = [t["name"] for t in document["templates"]]
    assert names == sorted(names) and {"sql", "spark"} <= set(names)
    shown = server_cli("templates", "sql")
    assert shown.returncode == 0, shown.stderr
    assert "sql (shipped)" in shown.stdout and "def main()" in shown.stdout
    one = json.loads(server_cli("templates", "spark", "--json").stdout)
    assert one["parameters"]["master"]["default"] == "local[*]"
    missing = server_cli("templates", "sqll")
    assert missing.returncode == 1
    assert "did you mean 'sql'" in missing.stderr


def test_register_run_and_fix_a_template(server_cli: Cli, tmp_path: Path) -> None:
    workflow = tmp_path / "counting.yaml"
    workflow.write_text(USES_COUNTER, encoding="utf-8")
    refused = server_cli("push", str(workflow))
    assert refused.returncode == 2
    assert "unknown step type 'counter'" in refused.stderr

    folder = _write_counter(
        tmp_path / "counter",
        "from podium.job import param, set_output\n"
        "set_output('said', ' '.join(str(i) for i in range(1, param('upto') + 1)))\n",
    )
    registered = server_cli("templates", "register", str(folder))
    assert registered.returncode == 0, registered.stderr
    assert "registered template counter version 1" in registered.stdout
    assert server_cli("push", str(workflow)).returncode == 0
    first = server_cli("run", "counting", "--wait")
    assert first.returncode == 0, first.stdout + first.stderr
    status = json.loads(server_cli("status", "counting", "1", "--json").stdout)
    assert status["steps"][0]["outputs"] == {"said": "1 2 3"}

    _write_counter(
        folder,
        "from podium.job import param, set_output\n"
        "word = param('word')\n"
        "set_output('said', ' '.join(f'{word}{i}' for i in range(1, param('upto') + 1)))\n",
    )
    again = server_cli("templates", "register", str(folder / "template.yaml"), "--json")
    assert json.loads(again.stdout)["version"] == 2
    second = server_cli("run", "counting", "--wait")
    assert second.returncode == 0, second.stdout + second.stderr
    status = json.loads(server_cli("status", "counting", "2", "--json").stdout)
    assert status["steps"][0]["outputs"] == {"said": "n1 n2 n3"}
    assert "registered v2" in server_cli("templates").stdout


def test_a_bad_template_file_is_refused_before_it_is_sent(server_cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "template.yaml").write_text(
        "name: Bad\nparameters: {x: {type: integer}}\n", encoding="utf-8"
    )
    result = server_cli("templates", "register", str(folder))
    assert result.returncode == 2
    assert "bad template name 'Bad'" in result.stderr
    assert "unknown type 'integer'" in result.stderr
    assert "script" in result.stderr


def test_validate_knows_the_shipped_templates_only(cli: Cli, tmp_path: Path) -> None:
    workflow = tmp_path / "counting.yaml"
    workflow.write_text(USES_COUNTER, encoding="utf-8")
    result = cli("validate", str(workflow), str(ROOT / "examples" / "sql_report.yaml"))
    assert result.returncode == 2
    assert "sql_report.yaml: ok" in result.stdout
    assert "unknown step type 'counter'" in result.stderr
    assert "registered on a server are checked when you push" in result.stderr
