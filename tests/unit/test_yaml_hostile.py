"""Hostile definitions are refused quickly, each with a problem that says what is wrong;
ordinary ones load as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.definition.problems import Problem
from podium.definition.validate import load_workflow
from podium.definition.yaml_text import (
    MAX_DEFINITION_BYTES,
    MAX_DEPTH,
    MAX_NODES,
    MAX_NUMBER_CHARS,
    load_yaml,
)
from podium.errors import InvalidDefinition

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))
DEEP = 100_000


def refused(text: str) -> Problem:
    data, problems = load_yaml(text)
    assert data is None
    assert len(problems) == 1, problems
    return problems[0]


def billion_laughs(levels: int = 9) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for n in range(1, levels):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]")
    return "\n".join(lines)


def test_billion_laughs_is_refused_while_composing() -> None:
    problem = refused(billion_laughs())
    assert problem.location == "(root)"
    assert f"expands to more than {MAX_NODES} values" in problem.message
    assert "line 5" in problem.message  # where the count passes the limit


def test_a_merge_key_bomb_is_refused() -> None:
    lines = ["m0: &m0 {k: v}"]
    lines += [f"m{n}: &m{n} {{<<: [*m{n - 1}, *m{n - 1}]}}" for n in range(1, 60)]
    assert "expands to more than" in refused("\n".join(lines)).message


def test_aliases_within_the_limit_still_load() -> None:
    data, problems = load_yaml(billion_laughs(levels=4))
    assert problems == []
    assert len(data["a3"]) == 10
    assert data["a3"][0][0][0] == ["lol"] * 10


def test_an_alias_inside_its_own_value_is_refused() -> None:
    problem = refused("a: &a [1, *a]")
    assert problem.location == "line 1"
    assert "inside the value it names" in problem.message


@pytest.mark.parametrize(
    "text",
    [
        "[" * DEEP + "]" * DEEP,
        "{a: " * DEEP + "}" * DEEP,
        "- " * DEEP + "x",
        "[" * DEEP,  # and never closed
        "".join(" " * n + "k:\n" for n in range(2 * MAX_DEPTH)),
        "id: w\nsteps: " + "[" * (MAX_DEFINITION_BYTES - 20),
    ],
    ids=[
        "flow-sequences",
        "flow-mappings",
        "block-sequences",
        "unclosed",
        "block-mappings",
        "4MiB",
    ],
)
def test_extreme_nesting_is_refused(text: str) -> None:
    problem = refused(text)
    assert problem.message.startswith(f"nesting deeper than {MAX_DEPTH} levels")
    assert problem.location.startswith("line ")


def test_nesting_through_aliases_counts() -> None:
    lines = ["d0: &d0 [[[[[[[[[[x]]]]]]]]]]"]
    lines += [f"d{n}: &d{n} [[[[[[[[[[*d{n - 1}]]]]]]]]]]" for n in range(1, 20)]
    problem = refused("\n".join(lines))
    assert (
        problem.message == f"nesting deeper than {MAX_DEPTH} levels through the alias *d5 (line 7)"
    )


def test_nesting_up_to_the_limit_loads() -> None:
    depth = MAX_DEPTH - 1  # the root mapping is one level
    data, problems = load_yaml("a: " + "[" * depth + "]" * depth)
    assert problems == []
    assert isinstance(data["a"], list)


def test_a_definition_over_the_size_cap_is_refused_unread() -> None:
    size = MAX_DEFINITION_BYTES + 1
    problem = refused("a: " + "x" * (size - 3))
    assert problem.message == f"the definition is {size} bytes; at most 4 MiB"
    assert refused("a: " + "é" * (MAX_DEFINITION_BYTES // 2)).message.startswith(
        f"the definition is {MAX_DEFINITION_BYTES + 3} bytes"
    )


def test_many_documents_in_one_stream_are_refused() -> None:
    problem = refused("id: w\n---\nid: v\n" * 200_000)
    assert problem.location == "line 2"
    assert "a definition is one YAML document" in problem.message


def test_huge_numbers_are_refused_before_python_converts_them() -> None:
    for text in ("9" * 5000, "1" + ":59" * 100_000, "0x" + "f" * 5000):
        problem = refused(f"a: {text}")
        assert problem.location == "line 1"
        assert f"at most {MAX_NUMBER_CHARS}" in problem.message
    assert load_yaml(f"a: {'9' * 900}") == ({"a": int("9" * 900)}, [])


@pytest.mark.parametrize(
    "text",
    ["a: !!int foo", "a: !!float foo", "a: !!bool foo", "a: !!timestamp foo", "a: !!map [b]"],
)
def test_a_value_its_tag_cannot_hold_is_a_problem_not_a_crash(text: str) -> None:
    problem = refused(text)
    assert problem.location == "line 1"
    assert "cannot be read as !!" in problem.message


def test_load_workflow_reports_the_refusal_as_an_invalid_definition() -> None:
    with pytest.raises(InvalidDefinition) as caught:
        load_workflow("id: w\nsteps: " + "[" * DEEP)
    assert caught.value.code == "invalid_definition"
    assert caught.value.http_status == 400
    [problem] = caught.value.problems
    assert problem["message"].startswith("nesting deeper than 64 levels")


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_still_loads(path: Path) -> None:
    data, problems = load_yaml(path.read_text())
    assert problems == []
    assert isinstance(data, dict)
    assert data["id"]
    load_workflow(path.read_text(), source=str(path), base_dir=path.parent)


def test_a_character_yaml_refuses_is_a_problem_naming_its_line() -> None:
    data, problems = load_yaml("id: w\nsteps: []\n\x1e\n")
    assert data is None
    assert [(p.location, p.message.split(" is ")[0]) for p in problems] == [
        ("line 3", "character U+001E at line 3")
    ]
