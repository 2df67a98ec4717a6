"""``${ }`` in a script is a literal of its language: whatever the value, real bash and real
Python print it back exactly and run nothing else (decision 11)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podium.definition import load_workflow
from podium.engine.params import render_script
from podium.errors import InvalidDefinition
from podium.expr import Budgets, ExprError

HOSTILE = [
    "$(touch {canary})",
    "`touch {canary}`",
    "'; touch {canary}; '",
    '"; touch {canary}; "',
    "\\'; touch {canary} #",
    "a b\tc",
    "*",
    "-n",
    "",
    "é ünïcode ✓",
    "x\\",
    "$HOME ${{HOME}} !!",
    '""" + __import__("os").system("touch {canary}") + """',
    "' + __import__('os').system('touch {canary}') + '",
]

BASH_SHAPES = [
    "printf '%s' ${{ x }}",
    "printf '%s' '${{ x }}'",
    "printf '%s' \"${{ x }}\"",
    "printf '%s' \"before ${{ x }} after\"",
    "printf '%s' \"$(printf '%s' ${{ x }})\"",
    "v=${{ x }}; printf '%s' \"$v\"",
]
BASH_EXPECTED = [
    "{v}",
    "{v}",
    "{v}",
    "before {v} after",
    "{v}",
    "{v}",
]
PYTHON_SHAPES = [
    "import sys; sys.stdout.write(${{ x }})",
    'import sys; sys.stdout.write("${{ x }}")',
    "import sys; sys.stdout.write('<${{ x }}>')",
    'import sys; sys.stdout.write("""${{ x }}""")',
    "import sys\nv = ${{ x }}  # ${{ x }}\nsys.stdout.write(v)",
]
PYTHON_EXPECTED = ["{v}", "{v}", "<{v}>", "{v}", "{v}"]


def run(language: str, script: str, cwd: Path) -> str:
    command = ["bash", "-c", script] if language == "bash" else [sys.executable, "-c", script]
    done = subprocess.run(command, cwd=cwd, capture_output=True, timeout=10)
    assert done.returncode == 0, done.stderr
    return done.stdout.decode("utf-8", errors="surrogateescape")


def rendered(shape: str, value: object, step_type: str) -> str:
    return render_script(shape.format(), {"x": value}, Budgets(), step_type)


CASES = [
    (language, shape, expected)
    for language, shapes, expecteds in (
        ("bash", BASH_SHAPES, BASH_EXPECTED),
        ("python", PYTHON_SHAPES, PYTHON_EXPECTED),
    )
    for shape, expected in zip(shapes, expecteds, strict=True)
]
STEP_TYPE = {"bash": "script", "python": "python"}


@pytest.mark.parametrize("template", HOSTILE)
@pytest.mark.parametrize(("language", "shape", "expected"), CASES)
def test_a_hostile_value_is_printed_back_and_runs_nothing(
    tmp_path: Path, template: str, language: str, shape: str, expected: str
) -> None:
    canary = tmp_path / "pwned"
    value = template.format(canary=canary)
    out = run(language, rendered(shape, value, STEP_TYPE[language]), tmp_path)
    assert out == expected.format(v=value)
    assert not canary.exists()


_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))


@pytest.mark.parametrize("language", ["bash", "python"])
@settings(max_examples=60, deadline=None)
@given(value=_TEXT)
def test_any_text_survives_the_quoting(
    tmp_path_factory: pytest.TempPathFactory, language: str, value: str
) -> None:
    directory = tmp_path_factory.mktemp(language)
    for _, shape, expected in (case for case in CASES if case[0] == language):
        out = run(language, rendered(shape, value, STEP_TYPE[language]), directory)
        # $( ) drops trailing line breaks: bash's own rule, not the quoting's.
        shown = value.rstrip("\n") if "$(" in shape else value
        assert out == expected.format(v=shown)
    assert list(directory.iterdir()) == []


def test_values_of_every_type_are_python_literals(tmp_path: Path) -> None:
    value = {"n": 3, "f": 1.5, "inf": float("inf"), "ok": True, "none": None, "l": [1, "a"]}
    script = "import sys\nv = ${ x }\nsys.stdout.write(repr(v))"
    out = run("python", render_script(script, {"x": value}, Budgets(), "python"), tmp_path)
    assert out == repr(value)


def test_a_heredoc_takes_a_line_but_not_a_line_break(tmp_path: Path) -> None:
    script = "cat <<EOF\nvalue: ${ x }\nEOF"
    canary = tmp_path / "pwned"
    value = f"$(touch {canary}) `id`"
    assert run("bash", render_script(script, {"x": value}, Budgets()), tmp_path) == (
        f"value: {value}\n"
    )
    assert not canary.exists()
    with pytest.raises(ExprError, match="line break cannot be put in a heredoc"):
        render_script(script, {"x": "a\nEOF\ntouch x"}, Budgets())


@pytest.mark.parametrize(
    ("step", "says"),
    [
        ("{id: a, type: script, script: 'echo `echo ${ d }`'}", "inside backticks"),
        ("{id: a, type: python, script: 'print(f\"{1} ${ d }\")'}", "inside an f-string"),
        ("{id: a, type: python, script: 'print(r\"${ d }\")'}", "a raw string"),
    ],
)
def test_a_place_no_quoting_can_keep_safe_is_refused_at_push(step: str, says: str) -> None:
    with pytest.raises(InvalidDefinition) as caught:
        load_workflow(f"id: w\nparams: {{d: 1}}\nsteps:\n  - {step}\n")
    assert says in str(caught.value) and "steps[0].script" in str(caught.value)


def test_a_place_no_quoting_can_keep_safe_is_refused_inside_a_foreach_too() -> None:
    inner = "{id: a, type: script, script: 'echo `echo ${ d }` ${ nosuch }'}"
    text = f"id: w\nsteps:\n  - id: loop\n    foreach:\n      over: {{d: [1]}}\n      steps: [{inner}]\n"
    with pytest.raises(InvalidDefinition) as caught:
        load_workflow(text)
    found = {(p["location"], p["message"]) for p in caught.value.problems}
    assert ("steps[0].foreach.steps[0].script", REFUSED_BACKTICK) in found
    assert ("steps[0].foreach.steps[0].script", "unknown name 'nosuch'") in found


REFUSED_BACKTICK = "`${ }` inside backticks cannot be quoted safely: write $( ) instead"


def test_raw_pastes_the_value_as_code_where_the_author_opted_in(tmp_path: Path) -> None:
    canary = tmp_path / "made"
    script = "${ raw(command) }\nprintf '%s|' ${ command } `echo ${ raw(word) }`"
    scope = {"command": f"touch {canary}", "word": "a  b"}
    out = run("bash", render_script(script, scope, Budgets()), tmp_path)
    assert canary.exists()  # the raw value ran: that is what raw() is for
    assert out == f"touch {canary}|a|b|"
    py = "import sys\nsys.stdout.write(str(${ raw(expr) }))"
    assert run("python", render_script(py, {"expr": "6 * 7"}, Budgets(), "python"), tmp_path) == (
        "42"
    )


def test_raw_is_valid_and_warned_about_by_validate(tmp_path: Path) -> None:
    from podium.definition.expressions import script_warnings

    text = (
        "id: w\nparams: {c: 'true'}\nsteps:\n"
        "  - {id: a, type: script, script: 'echo `${ raw(c) }`; ${ raw(c) }; echo ${ c }'}\n"
        "  - {id: b, type: script, script: 'echo ${ c }'}\n"
    )
    warnings = script_warnings(load_workflow(text))
    assert [w.location for w in warnings] == ["steps[0].script"]
    assert "pastes 2 values into the script as code" in warnings[0].message
    path = tmp_path / "w.yaml"
    path.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "podium.cli.main", "validate", str(path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert f"{path}: warning: steps[0].script: `${{ raw(…) }}` pastes 2 values" in done.stderr
    assert "ok (workflow w, 2 steps)" in done.stdout


def test_the_raw_example_of_the_docs_warns_as_the_docs_show() -> None:
    from podium.definition.expressions import script_warnings

    doc = (Path(__file__).resolve().parents[2] / "docs" / "expressions.md").read_text()
    section = doc[doc.index("### Raw text") :]
    block, rest = section.split("```yaml\n", 1)[1].split("```\n", 1)
    shown = rest.split("```\n", 1)[1].split("\n```", 1)[0]
    warnings = script_warnings(load_workflow("id: sync\n" + block))
    assert [f"flows/sync.yaml: warning: {w}" for w in warnings] == [shown]
