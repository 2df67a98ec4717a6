"""Validation of workflow text: every problem kind, all at once, with its location."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.definition import Problem, check_text, load_workflow
from podium.errors import InvalidDefinition


def problems_of(text: str, base_dir: Path | None = None) -> list[tuple[str, str]]:
    workflow, problems = check_text(text, base_dir=base_dir)
    assert workflow is None
    assert problems
    return [(p.location, p.message) for p in problems]


def assert_problem(text: str, location: str, fragment: str) -> None:
    found = problems_of(text)
    assert any(loc == location and fragment in msg for loc, msg in found), found


FOUR_PROBLEMS = """
id: nightly
trigger:
  cron: "0 25 * * *"
steps:
  - id: extract
    type: noop
    depends_on: [report]
  - id: load
    type: noop
    dependson: [extract]
    depends_on: [extract, lod]
  - id: report
    type: noop
    depends_on: [load]
"""


def test_four_problems_are_reported_together() -> None:
    found = problems_of(FOUR_PROBLEMS)
    assert found == [
        ("steps", "cycle: extract -> load -> report -> extract"),
        ("steps[1]", "unknown key 'dependson' (did you mean 'depends_on'?)"),
        ("steps[1].depends_on", "unknown step 'lod' (did you mean 'load'?)"),
        (
            "trigger.cron",
            "bad cron expression '0 25 * * *': bad hour; use five fields (minute hour "
            "day-of-month month day-of-week), or one of @hourly, @daily, @weekly, "
            "@monthly, @yearly",
        ),
    ]


def test_load_workflow_raises_invalid_definition_with_problem_dicts() -> None:
    with pytest.raises(InvalidDefinition) as caught:
        load_workflow(FOUR_PROBLEMS, source="nightly.yaml")
    error = caught.value
    assert error.code == "invalid_definition"
    assert len(error.problems) == 4
    assert all(set(p) == {"location", "message"} for p in error.problems)
    assert error.details["problems"] == error.problems
    assert error.message.startswith("nightly.yaml is not a valid workflow (4 problems):")
    assert "steps[1].depends_on: unknown step 'lod'" in error.message


def test_problem_converts_to_the_api_shape() -> None:
    problem = Problem("trigger.cron", "bad")
    assert problem.as_dict() == {"location": "trigger.cron", "message": "bad"}
    assert str(problem) == "trigger.cron: bad"


def test_valid_text_gives_no_problems() -> None:
    workflow, problems = check_text("id: w\nsteps: [{id: a, type: noop}]\n")
    assert problems == []
    assert workflow is not None


@pytest.mark.parametrize(
    ("text", "location", "fragment"),
    [
        ("id: w\nsteps: [{id: a, type: noop}\n", "line 3", "YAML syntax error"),
        ("id: w\n  bad: indent\nsteps: []\n", "line 2", "YAML syntax error"),
        ("", "(root)", "the document is empty"),
        ("- a\n- b\n", "(root)", "a workflow is a mapping"),
        ("id: w\nid: v\nsteps: [{id: a, type: noop}]\n", "line 2", "duplicate key 'id'"),
    ],
)
def test_document_level_problems(text: str, location: str, fragment: str) -> None:
    assert_problem(text, location, fragment)


def test_syntax_error_names_line_and_column() -> None:
    (found,) = problems_of("id: w\nsteps:\n  - id: a\n    type: [noop\n")
    assert found[0].startswith("line ")
    assert "column" in found[1]


@pytest.mark.parametrize(
    ("text", "location", "fragment"),
    [
        ("steps: [{id: a, type: noop}]", "(root)", "missing required key 'id'"),
        ("id: w", "(root)", "missing required key 'steps'"),
        ("id: w\nsteps: []", "steps", "at least 1 item"),
        ("id: 9w\nsteps: [{id: a, type: noop}]", "id", "bad workflow id '9w'"),
        ("id: w\nsteps: [{id: a-b, type: noop}]", "steps[0].id", "bad name 'a-b'"),
        (
            "id: w\ndescripton: x\nsteps: [{id: a, type: noop}]",
            "(root)",
            "did you mean 'description'",
        ),
        ("id: w\nsteps: [{id: a, type: noop, zzz: 1}]", "steps[0]", "unknown key 'zzz'"),
        ("id: w\nsteps: [{id: a, type: noop, if_: x}]", "steps[0]", "unknown key 'if_'"),
        (
            "id: w\nsteps: [{id: a, type: noop, retries: {limt: 1}}]",
            "steps[0].retries",
            "did you mean 'limit'",
        ),
        (
            "id: w\nsteps: [{id: a, type: noop, retries: {limit: two}}]",
            "steps[0].retries.limit",
            "valid integer",
        ),
        ("id: w\nsteps: [{id: a, type: bash}]", "steps[0].type", "'noop', 'sleep'"),
        (
            "id: w\nsteps: [{id: a, type: noop, on_failure: stop}]",
            "steps[0].on_failure",
            "got 'stop'",
        ),
        (
            "id: w\nstep_concurrency: 0\nsteps: [{id: a, type: noop}]",
            "step_concurrency",
            "greater than or equal to 1",
        ),
        ("id: w\ndescription: 5\nsteps: [{id: a, type: noop}]", "description", "valid string"),
        ("id: w\nparams: {2024-01-01: x}\nsteps: [{id: a, type: noop}]", "(root)", ""),
        (
            "id: w\nsteps: [{id: a, type: noop, outputs: [bad-name]}]",
            "steps[0].outputs[0]",
            "bad name",
        ),
        (
            "id: w\nsteps: [{id: a, subworkflow: {workflow: o, version: 0}}]",
            "steps[0].subworkflow.version",
            "'active', 'latest'",
        ),
        (
            "id: w\ntrigger: {cron: '@daily', catchup: some}\nsteps: [{id: a, type: noop}]",
            "trigger.catchup",
            "'none', 'latest' or 'all'",
        ),
        (
            "id: w\ntrigger: {timezone: UTC}\nsteps: [{id: a, type: noop}]",
            "trigger",
            "needs 'cron' or 'signals'",
        ),
        (
            "id: w\nsteps: [{id: a, type: noop, wait_for: [{nam: s}]}]",
            "steps[0].wait_for[0]",
            "did you mean 'name'",
        ),
    ],
)
def test_model_problems(text: str, location: str, fragment: str) -> None:
    if location == "(root)" and not fragment:
        # A date-like key stays text (dates are not parsed), so this one is valid.
        assert check_text(text)[1] == []
        return
    assert_problem(text, location, fragment)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("30", "bad duration '30'"), ("10 minutes", "unit, s m h or d"), ("0s", "longer than zero")],
)
def test_bad_durations(value: str, fragment: str) -> None:
    assert_problem(
        f"id: w\ntimeout: '{value}'\nsteps: [{{id: a, type: noop}}]", "timeout", fragment
    )


def test_bare_number_duration_is_rejected_with_the_format() -> None:
    text = "id: w\nsteps: [{id: a, type: noop, retries: {delay: 30}}]"
    assert_problem(text, "steps[0].retries.delay", "bad duration 30: a duration is a number")


def test_bad_timezone_suggests_a_close_name() -> None:
    text = (
        "id: w\ntrigger: {cron: '0 * * * *', timezone: Europe/Pari}\nsteps: [{id: a, type: noop}]"
    )
    assert_problem(text, "trigger.timezone", "(did you mean 'Europe/Paris'?)")


def test_graph_problems() -> None:
    text = """
id: w
steps:
  - {id: a, type: noop, depends_on: [a]}
  - {id: b, type: noop}
  - {id: b, type: noop}
  - {id: c, type: noop, depends_on: [zzz]}
"""
    assert problems_of(text) == [
        ("steps[0].depends_on", "step 'a' depends on itself"),
        ("steps[2].id", "duplicate step id 'b' (first used at steps[1])"),
        ("steps[3].depends_on", "unknown step 'zzz'"),
    ]


def test_two_separate_cycles_are_each_named_once() -> None:
    text = """
id: w
steps:
  - {id: a, type: noop, depends_on: [b]}
  - {id: b, type: noop, depends_on: [a]}
  - {id: c, type: noop, depends_on: [e]}
  - {id: d, type: noop, depends_on: [c]}
  - {id: e, type: noop, depends_on: [d, a]}
"""
    assert problems_of(text) == [
        ("steps", "cycle: a -> b -> a"),
        ("steps", "cycle: c -> d -> e -> c"),
    ]


def test_foreach_steps_have_their_own_scope() -> None:
    text = """
id: w
steps:
  - {id: load, type: noop}
  - id: fan
    foreach:
      over: {x: [1, 2]}
      steps:
        - {id: load, type: noop}
        - {id: load, type: noop}
        - {id: use, type: noop, depends_on: [fan]}
        - {id: bad, type: noop, depends_on: [lod]}
"""
    assert problems_of(text) == [
        (
            "steps[1].foreach.steps[1].id",
            "duplicate step id 'load' (first used at steps[1].foreach.steps[0])",
        ),
        (
            "steps[1].foreach.steps[2].depends_on",
            "unknown step 'fan': steps inside a foreach depend only on steps of the same foreach; put the dependency on the foreach step",
        ),
        ("steps[1].foreach.steps[3].depends_on", "unknown step 'lod' (did you mean 'load'?)"),
    ]


def test_nested_locations_reach_inner_steps() -> None:
    text = (
        "id: w\nsteps:\n  - id: f\n    foreach: {over: {x: [1]}, steps: [{id: 1bad, type: noop}]}\n"
    )
    assert_problem(text, "steps[0].foreach.steps[0].id", "bad name '1bad'")


def test_foreach_needs_exactly_one_body() -> None:
    text = "id: w\nsteps: [{id: f, foreach: {over: {x: [1]}}}]"
    assert_problem(text, "steps[0].foreach", "exactly one of 'steps' or 'subworkflow'")


@pytest.mark.parametrize(
    ("step", "fragment"),
    [
        ("{id: a}", "missing body: a step needs one of 'type', 'foreach' or 'subworkflow'"),
        ("{id: a, type: noop, subworkflow: {workflow: o}}", "not 'type' and 'subworkflow'"),
        (
            "{id: a, type: script, seconds: 3, script: ls}",
            "key 'seconds' does not apply to type 'script' (it is for type 'sleep')",
        ),
        ("{id: a, type: noop, image: alpine}", "key 'image' does not apply to type 'noop'"),
        (
            "{id: a, subworkflow: {workflow: o}, script: ls}",
            "key 'script' belongs to job steps (type 'script' and 'python'); this step has no 'type'",
        ),
        ("{id: a, type: sleep}", "type 'sleep' needs 'seconds'"),
        ("{id: a, type: python}", "type 'python' needs 'script' (the code) or 'file'"),
        (
            "{id: a, type: script, script: ls, file: run.sh}",
            "type 'script' takes 'script' or 'file', not both",
        ),
        ("{id: a, type: notebook}", "type 'notebook' needs 'path'"),
        ("{id: a, type: container}", "type 'container' needs 'image'"),
    ],
)
def test_body_problems(step: str, fragment: str) -> None:
    assert_problem(f"id: w\nsteps: [{step}]", "steps[0]", fragment)


def test_body_problems_do_not_hide_field_problems_in_the_same_step() -> None:
    found = problems_of("id: w\nsteps: [{id: a, type: sleep, retries: {limit: -1}}]")
    assert ("steps[0]", "type 'sleep' needs 'seconds'") in found
    assert any(loc == "steps[0].retries.limit" for loc, _ in found)


def test_concurrency_above_one_needs_parallel() -> None:
    text = "id: w\nrun_strategy: sequential\nconcurrency: 3\nsteps: [{id: a, type: noop}]"
    assert_problem(text, "concurrency", "concurrency 3 needs run_strategy: parallel")
    ok = "id: w\nrun_strategy: parallel\nconcurrency: 3\nsteps: [{id: a, type: noop}]"
    assert check_text(ok)[1] == []


def test_file_is_inlined_relative_to_base_dir(tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "plan.py").write_text("print('hi')\n", encoding="utf-8")
    text = """
id: w
steps:
  - {id: a, type: python, file: jobs/plan.py}
  - id: f
    foreach: {over: {x: [1]}, steps: [{id: b, type: python, file: jobs/plan.py}]}
"""
    wf = load_workflow(text, base_dir=tmp_path)
    assert wf.steps[0].script == "print('hi')\n"
    assert wf.steps[0].file is None
    foreach = wf.steps[1].foreach
    assert foreach is not None and foreach.steps is not None
    assert foreach.steps[0].script == "print('hi')\n"


def test_missing_file_is_a_problem_at_the_file_key(tmp_path: Path) -> None:
    found = problems_of("id: w\nsteps: [{id: a, type: script, file: nope.sh}]", tmp_path)
    assert found[0][0] == "steps[0].file"
    assert "file 'nope.sh' not found" in found[0][1]


def test_file_without_base_dir_is_refused() -> None:
    assert problems_of("id: w\nsteps: [{id: a, type: script, file: run.sh}]") == [
        ("steps[0].file", "file: cannot be read here; push from the CLI, which inlines files")
    ]


def test_params_take_any_json_value_and_dates_stay_text() -> None:
    wf = load_workflow(
        "id: w\nparams: {a: 1, b: [1, {c: null}], d: 2024-01-01, e: 1.5, f: true}\n"
        "steps: [{id: s, type: noop}]"
    )
    assert wf.params == {"a": 1, "b": [1, {"c": None}], "d": "2024-01-01", "e": 1.5, "f": True}


def test_alias_bombs_are_refused() -> None:
    lines = ["a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for level, prev in zip("bcdef", "abcde", strict=True):
        lines.append(f"{level}: &{level} [" + ", ".join([f"*{prev}"] * 10) + "]")
    assert_problem("\n".join(lines), "(root)", "expands to more than")
