"""What a new user meets first: the server's ready line, /docs offline, errors in one shape
(``--json`` included), ``push`` of several files, the pusher as owner, whole help summaries."""

from __future__ import annotations

import getpass
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from podium.cli.main import cli as podium_group

from .conftest import Cli, _terminate, _wait_until_healthy, free_port, podium_command

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
READY_TIMEOUT_S = 30.0

NOOP = """\
id: {wf}
steps:
  - id: only
    type: noop
"""

PNG_START = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


@pytest.fixture
def started_server(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """``podium server --load examples`` as ``make run`` starts it, with PODIUM_SERVER unset;
    yields its URL and the files holding its stdout and stderr."""
    port = free_port()
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    env = {**os.environ, "PODIUM_HOME": str(tmp_path / "home"), "PODIUM_LOG_FORMAT": "json"}
    env.pop("PODIUM_SERVER", None)
    env.pop("PODIUM_LOG_LEVEL", None)
    args = ["server", "--port", str(port), "--load", str(EXAMPLES)]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            podium_command(*args),
            cwd=tmp_path,
            env=env,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(process, url, err)
        yield url, out, err
    finally:
        _terminate(process)


def _wait_for_output(path: Path) -> str:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        text = path.read_text()
        if text.endswith("\n"):
            return text
        time.sleep(0.05)
    raise AssertionError(f"no line on the server's stdout after {READY_TIMEOUT_S}s: {text!r}")


def test_the_server_says_in_one_line_where_it_answers(
    started_server: tuple[str, Path, Path],
) -> None:
    url, out, err = started_server

    lines = _wait_for_output(out).splitlines()

    # A first start also says where the admin token it created is (0600, under PODIUM_HOME).
    assert len(lines) == 2, lines
    token_file = out.parent / "home" / "admin.token"
    assert lines[1] == (
        f"Created the admin {getpass.getuser()}; its token is in {token_file} (podium "
        "commands run by this user find it; anyone else: podium login)"
    )
    assert token_file.stat().st_mode & 0o777 == 0o600
    me = httpx.get(
        f"{url}/api/v1/whoami",
        headers={"Authorization": f"Bearer {token_file.read_text().strip()}"},
    )
    assert me.status_code == 200 and me.json()["role"] == "admin", me.text
    assert lines[0].startswith(f"Podium is ready at {url} ")
    assert f"{url}/docs" in lines[0]
    # Not the CLI's default address: the line says how to point the CLI at it.
    assert f"export PODIUM_SERVER={url}" in lines[0]
    logs = [json.loads(line) for line in err.read_text().splitlines()]
    events = [log.get("event") for log in logs]
    assert "server.start" in events
    assert "catalog.load" not in events  # one catalog.loaded line, not one per example
    assert len(logs) <= 6, events
    assert not [log for log in logs if log["logger"].startswith("uvicorn")]


def _assets(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)


def test_docs_page_needs_no_internet(server: str) -> None:
    page = httpx.get(f"{server}/docs")

    assert page.status_code == 200
    assert "https://" not in page.text and "http://" not in page.text
    assets = _assets(page.text)
    types = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
    assert sorted(Path(a).suffix for a in assets) == [".css", ".js", ".png"]
    for asset in assets:
        assert asset.startswith("/"), asset
        response = httpx.get(f"{server}{asset}")
        assert response.status_code == 200, asset
        assert response.headers["content-type"].startswith(types[Path(asset).suffix])
        assert len(response.content) > 500


def test_unknown_routes_answer_in_the_error_shape(server: str) -> None:
    missing = httpx.get(f"{server}/api/v1/nope")
    wrong = httpx.delete(f"{server}/api/v1/workflows")

    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    assert wrong.json()["error"]["details"] == {}


def _error_of(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    document = json.loads(result.stdout)
    assert set(document) == {"error"}, document
    error: dict[str, Any] = document["error"]
    assert set(error) == {"code", "message", "details"}
    assert f"error: {error['message']}" in result.stderr
    return error


def test_cli_errors_are_json_on_stdout_with_json(server_cli: Cli, tmp_path: Path) -> None:
    status = server_cli("status", "nosuch", "1", "--json")
    run = server_cli("run", "nosuch", "--json")
    validate = server_cli("validate", str(tmp_path / "missing.yaml"), "--json")
    plain = server_cli("run", "nosuch")

    assert status.returncode == 1
    assert _error_of(status)["code"].endswith("not_found")
    assert run.returncode == 1
    assert _error_of(run)["code"] == "workflow_not_found"
    assert validate.returncode == 2
    assert json.loads(validate.stdout)["error"]["code"] == "invalid_input"
    assert "missing.yaml" in validate.stderr
    assert plain.returncode == 1
    assert plain.stdout == ""


def test_push_takes_files_and_directories(server_cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "a.yaml").write_text(NOOP.format(wf="first_a"))
    (folder / "b.yml").write_text(NOOP.format(wf="first_b"))
    (folder / "notes.txt").write_text("not a workflow")
    single = tmp_path / "c.yaml"
    single.write_text(NOOP.format(wf="first_c") + "owner: carol\n")

    several = server_cli("push", str(folder), str(single), "--json")
    one = server_cli("push", str(single), "--json")

    assert several.returncode == 0, several.stderr
    pushed = json.loads(several.stdout)["workflows"]
    assert [(p["workflow_id"], p["version"], p["active"]) for p in pushed] == [
        ("first_a", 1, True),
        ("first_b", 1, True),
        ("first_c", 1, True),
    ]
    assert pushed[0]["file"] == str(folder / "a.yaml")
    assert one.returncode == 0, one.stderr
    assert {"workflow_id": "first_c", "version": 2, "active": True}.items() <= json.loads(
        one.stdout
    ).items()
    # Who pushed owns a workflow whose definition names no owner; an owner: stays.
    assert json.loads(server_cli("info", "first_a", "--json").stdout)["owner"] == getpass.getuser()
    assert f"owner: {getpass.getuser()}" in server_cli("info", "first_b").stdout
    assert json.loads(server_cli("info", "first_c", "--json").stdout)["owner"] == "carol"


def test_push_sends_nothing_when_one_file_is_invalid(server_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(NOOP.format(wf="never_pushed"))
    (tmp_path / "bad.yaml").write_text("id: bad\ncolour: blue\nsteps: [{id: a, type: noop}]\n")

    result = server_cli("push", str(tmp_path))

    assert result.returncode == 2
    assert "1 of 2 files has problems; nothing was pushed" in result.stderr
    assert "bad.yaml: (root): unknown key 'colour'" in result.stderr
    assert server_cli("info", "never_pushed").returncode == 1


def test_a_binary_file_is_a_clear_error(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "logo.yaml"
    path.write_bytes(PNG_START)

    validate = cli("validate", str(path))
    push = cli("push", str(path), "--json")

    assert validate.returncode == 2
    assert f"{path}: not a UTF-8 text file: byte 0x89 at offset 0" in validate.stderr
    assert push.returncode == 2
    assert "not a UTF-8 text file" in _error_of(push)["details"]["problems"][0]["message"]
    assert "codec" not in validate.stderr + push.stderr
    assert "cannot reach" not in push.stderr


def test_top_level_help_shows_whole_summaries(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "80"}
    result = subprocess.run(
        podium_command("--help"), env=env, capture_output=True, text=True, check=True
    )

    commands = " ".join(result.stdout.split("Commands:", 1)[1].split())
    assert "..." not in commands
    for name, command in podium_group.commands.items():
        summary = " ".join(command.get_short_help_str(limit=sys.maxsize).split())
        assert f"{name} {summary}" in commands
