"""``-p NAME=VALUE``: JSON when VALUE is valid JSON, else a string; bad syntax exits 2."""

from __future__ import annotations

from typing import Any

import pytest

from podium.cli.client import CliError
from podium.cli.params import parse_param, parse_params

from .conftest import Cli


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n=42", ("n", 42)),
        ("x=1.5", ("x", 1.5)),
        ("flag=true", ("flag", True)),
        ("nothing=null", ("nothing", None)),
        ("dates=[20240101, 20240102]", ("dates", [20240101, 20240102])),
        ('cfg={"a": {"b": 1}}', ("cfg", {"a": {"b": 1}})),
        ('quoted="42"', ("quoted", "42")),
        ("name=hello world", ("name", "hello world")),
        ("path=/data/out", ("path", "/data/out")),
        ("empty=", ("empty", "")),
        ("eq=a=b", ("eq", "a=b")),
        ("date=2024-01-01", ("date", "2024-01-01")),
        ("nan=NaN", ("nan", "NaN")),
        ("broken=[1, 2", ("broken", "[1, 2")),
    ],
)
def test_param_value_is_json_else_string(text: str, expected: tuple[str, Any]) -> None:
    assert parse_param(text) == expected


@pytest.mark.parametrize("text", ["novalue", "=5", "1abc=2", "a-b=3", "has space=1"])
def test_param_bad_syntax_is_bad_input(text: str) -> None:
    with pytest.raises(CliError) as caught:
        parse_param(text)
    assert caught.value.exit_code == 2


def test_params_collects_and_rejects_duplicates() -> None:
    assert parse_params(["a=1", "b=x"]) == {"a": 1, "b": "x"}
    with pytest.raises(CliError):
        parse_params(["a=1", "a=2"])


def test_run_with_bad_param_exits_2_before_contacting_the_server(cli: Cli) -> None:
    result = cli("run", "some_workflow", "-p", "novalue")

    assert result.returncode == 2
    assert "NAME=VALUE" in result.stderr
    assert "cannot reach" not in result.stderr
