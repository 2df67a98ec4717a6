"""``podium validate``: local checks, every problem with its location, exit 2 on any problem."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import Cli

FOUR_PROBLEMS = """\
id: broken
trigger:
  cron: "61 * * * *"
colour: blue
steps:
  - id: a
    type: noop
    depends_on: [b]
  - id: b
    type: noop
    depends_on: [a]
  - id: c
    type: noop
    depends_on: [missing_step]
"""

VALID = """\
id: fine
steps:
  - id: first
    type: noop
  - id: second
    type: script
    depends_on: [first]
    script: echo hi
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


def test_validate_reports_all_four_problems_with_locations(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yaml", FOUR_PROBLEMS)

    result = cli("validate", str(path))

    assert result.returncode == 2, result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 4, result.stderr
    assert all(line.startswith(f"{path}: ") for line in lines), lines
    text = result.stderr.lower()
    assert "cycle" in text
    assert "missing_step" in text
    assert "cron" in text
    assert "colour" in text
    for line in lines:
        location, _, message = line.removeprefix(f"{path}: ").partition(": ")
        assert location and message, line


def test_validate_json_lists_each_problem(cli: Cli, tmp_path: Path) -> None:
    broken = write(tmp_path, "broken.yaml", FOUR_PROBLEMS)
    fine = write(tmp_path, "fine.yaml", VALID)

    result = cli("validate", "--json", str(fine), str(broken))

    assert result.returncode == 2
    document = json.loads(result.stdout)
    by_file = {entry["file"]: entry for entry in document["files"]}
    assert by_file[str(fine)] == {
        "file": str(fine),
        "valid": True,
        "workflow_id": "fine",
        "problems": [],
        "warnings": [],
    }
    assert by_file[str(broken)]["valid"] is False
    problems = by_file[str(broken)]["problems"]
    assert len(problems) == 4
    assert all(set(problem) >= {"location", "message"} for problem in problems)


def test_validate_ok_file(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "fine.yaml", VALID)

    result = cli("validate", str(path))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{path}: ok (workflow fine, 2 steps)"
    assert result.stderr == ""


def test_validate_needs_no_server(cli: Cli, tmp_path: Path) -> None:
    # The cli fixture points at a port nobody listens on.
    path = write(tmp_path, "fine.yaml", VALID)

    assert cli("validate", str(path)).returncode == 0


def test_validate_yaml_syntax_error_is_a_problem(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "id: x\nsteps: [\n")

    result = cli("validate", str(path))

    assert result.returncode == 2
    assert result.stderr.startswith(f"{path}: ")


def test_validate_python_dsl_not_supported_yet(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "flow.py", "print('hi')\n")

    result = cli("validate", str(path))

    assert result.returncode == 2
    assert "Python DSL files are not supported yet" in result.stderr


def test_validate_missing_file_is_bad_input(cli: Cli, tmp_path: Path) -> None:
    result = cli("validate", str(tmp_path / "nope.yaml"))

    assert result.returncode == 2


def test_push_invalid_file_exits_2_without_a_server(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yaml", FOUR_PROBLEMS)

    result = cli("push", str(path))

    assert result.returncode == 2
    assert "cannot reach" not in result.stderr
    assert "cycle" in result.stderr.lower()


def test_push_python_dsl_file_exits_2(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "flow.py", "print('hi')\n")

    result = cli("push", str(path))

    assert result.returncode == 2
    assert "Python DSL files are not supported yet" in result.stderr
