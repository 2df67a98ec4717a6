"""The first hour's plumbing that needs no process: packaging metadata, the ready line, links."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from podium.cli.commands_processes import ready_line
from podium.processes import listening_url

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "src" / "podium" / "api" / "static"


def test_license_is_an_spdx_string_that_setuptools_takes_without_a_warning() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

    assert project["project"]["license"] == "Apache-2.0"
    # The SPDX string form is understood (and the table form deprecated) from setuptools 77.
    assert "setuptools>=77" in project["build-system"]["requires"]


def test_the_docs_assets_ship_in_the_package_with_their_notice() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

    assert "api/static/*" in project["tool"]["setuptools"]["package-data"]["podium"]
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
        assert (STATIC / name).stat().st_size > 500
    notice = (STATIC / "NOTICE").read_text(encoding="utf-8")
    assert "Apache License, Version 2.0" in notice
    assert "Apache License" in (STATIC / "LICENSE-swagger-ui.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8080"),
        ("0.0.0.0", "http://127.0.0.1:8080"),
        ("::", "http://[::1]:8080"),
        ("podium.internal", "http://podium.internal:8080"),
    ],
)
def test_listening_url_is_the_one_a_local_client_uses(host: str, url: str) -> None:
    assert listening_url(host, 8080) == url


def test_ready_line_says_the_cli_needs_nothing_at_the_default_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PODIUM_SERVER", raising=False)

    line = ready_line("http://127.0.0.1:8080", cli_server="http://127.0.0.1:8080")

    assert line == (
        "Podium is ready at http://127.0.0.1:8080 (API docs: http://127.0.0.1:8080/docs); "
        "the podium CLI talks to it by default"
    )


def test_ready_line_says_how_to_point_the_cli_elsewhere() -> None:
    line = ready_line("http://127.0.0.1:9090", cli_server="http://127.0.0.1:8080/")

    assert line.endswith(
        "point the podium CLI at it with: export PODIUM_SERVER=http://127.0.0.1:9090"
    )


def test_a_link_named_after_a_file_points_to_that_file() -> None:
    """``[DSL.md](docs/definitions.md)`` sends a reader somewhere its name does not say."""
    wrong = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for text, target in re.findall(r"\[([^\[\]]+\.md)\]\(([^)#]+)", doc.read_text("utf-8")):
            if Path(text).name != Path(target).name:
                wrong.append(f"{doc.name}: [{text}]({target})")
    assert wrong == []
