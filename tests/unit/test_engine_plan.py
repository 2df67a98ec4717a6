"""Compiling a workflow definition into the plan the engine executes."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest

from podium.definition import definition_json, load_workflow
from podium.engine.plan import Plan, RetryPolicy, compile_plan


def plan_of(text: str, *, workflow_id: str = "wf", version: int = 1) -> Plan:
    return compile_plan(workflow_id, version, definition_json(load_workflow(text)))


DIAMOND = """
id: diamond
steps:
  - id: top
    type: noop
  - id: left
    depends_on: [top]
    type: noop
  - id: right
    depends_on: [top]
    type: noop
  - id: bottom
    depends_on: [left, right]
    type: noop
  - id: loner
    type: noop
"""

FULL = """
id: full
step_concurrency: 4
timeout: 1h30m
params:
  start: 20240101
  tables: [a, b]
steps:
  - id: build
    type: script
    script: echo "${ start }"
    params: {start: 20240102, mode: fast}
    outputs: [rows, path]
    timeout: 90s
    on_failure: fail_fast
    retries: {limit: 2, platform_limit: 5, backoff: fixed, delay: 5s, max_delay: 2m}
  - id: nap
    type: sleep
    seconds: 1.5
    on_failure: ignore
  - id: fit
    depends_on: [build, nap]
    type: python
    script: print(1)
    retries: {limit: 1}
"""


# -- dependencies ---------------------------------------------------------------------------


def test_dependencies_are_known_both_ways() -> None:
    steps = plan_of(DIAMOND).steps
    assert steps["top"].depends_on == ()
    assert steps["top"].dependents == ("left", "right")
    assert steps["left"].depends_on == ("top",)
    assert steps["left"].dependents == ("bottom",)
    assert steps["right"].dependents == ("bottom",)
    assert steps["bottom"].depends_on == ("left", "right")
    assert steps["bottom"].dependents == ()
    assert steps["loner"].depends_on == ()
    assert steps["loner"].dependents == ()


@pytest.mark.parametrize("text", [DIAMOND, FULL])
def test_dependents_mirror_depends_on(text: str) -> None:
    steps = plan_of(text).steps
    forward = {(dep, s.id) for s in steps.values() for dep in s.depends_on}
    backward = {(s.id, dependent) for s in steps.values() for dependent in s.dependents}
    assert forward == backward


def test_roots_are_the_steps_without_dependencies_in_definition_order() -> None:
    plan = plan_of(DIAMOND)
    assert [s.id for s in plan.roots] == ["top", "loner"]


def test_every_step_of_a_flat_workflow_is_a_root() -> None:
    plan = plan_of("id: w\nsteps: [{id: a, type: noop}, {id: b, type: noop}]\n")
    assert [s.id for s in plan.roots] == ["a", "b"]


def test_steps_keep_their_definition_order_and_position() -> None:
    plan = plan_of(DIAMOND)
    assert list(plan.steps) == ["top", "left", "right", "bottom", "loner"]
    assert [s.position for s in plan.steps.values()] == [0, 1, 2, 3, 4]
    assert all(plan.steps[key].id == key for key in plan.steps)


def test_dependents_follow_the_order_of_the_steps_not_of_depends_on() -> None:
    plan = plan_of(
        """
id: w
steps:
  - {id: a, type: noop}
  - {id: z, depends_on: [a], type: noop}
  - {id: m, depends_on: [a], type: noop}
"""
    )
    assert plan.steps["a"].dependents == ("z", "m")


# -- defaults -------------------------------------------------------------------------------


def test_defaults_of_a_minimal_workflow() -> None:
    plan = plan_of("id: w\nsteps: [{id: a, type: noop}]\n", workflow_id="w", version=3)
    assert plan.workflow_id == "w"
    assert plan.version == 3
    assert plan.step_concurrency == 20
    assert plan.timeout_s is None
    assert dict(plan.params) == {}
    step = plan.steps["a"]
    assert step.type == "noop"
    assert step.params == {}
    assert step.outputs == ()
    assert step.timeout_s is None
    assert step.on_failure == "fail"
    assert step.script is None
    assert step.sleep_s is None


def test_default_retries_are_no_user_retry_three_platform_retries_10s_to_600s() -> None:
    retries = plan_of("id: w\nsteps: [{id: a, type: noop}]\n").steps["a"].retries
    assert retries == RetryPolicy(
        limit=0, platform_limit=3, backoff="exponential", delay_s=10.0, max_delay_s=600.0
    )
    assert retries == RetryPolicy()


def test_partial_retries_keep_the_other_defaults() -> None:
    retries = plan_of(FULL).steps["fit"].retries
    assert retries == RetryPolicy(limit=1, platform_limit=3, delay_s=10.0, max_delay_s=600.0)


def test_a_bare_definition_dict_compiles_with_defaults() -> None:
    plan = compile_plan("w", 1, {"steps": [{"id": "a"}, {"id": "b", "depends_on": ["a"]}]})
    assert plan.step_concurrency == 20
    assert plan.timeout_s is None
    a = plan.steps["a"]
    assert a.type == "noop"
    assert a.retries == RetryPolicy()
    assert a.on_failure == "fail"
    assert a.dependents == ("b",)
    assert [s.id for s in plan.roots] == ["a"]


def test_empty_retries_mean_the_default_policy() -> None:
    plan = compile_plan("w", 1, {"steps": [{"id": "a", "retries": {}}]})
    assert plan.steps["a"].retries == RetryPolicy()


# -- values carried over --------------------------------------------------------------------


def test_workflow_level_values() -> None:
    plan = plan_of(FULL, workflow_id="full", version=7)
    assert plan.workflow_id == "full"
    assert plan.version == 7
    assert plan.step_concurrency == 4
    assert plan.timeout_s == 5400.0
    assert dict(plan.params) == {"start": 20240101, "tables": ["a", "b"]}


def test_step_level_values() -> None:
    build = plan_of(FULL).steps["build"]
    assert build.type == "script"
    assert build.script == 'echo "${ start }"'
    assert dict(build.params) == {"start": 20240102, "mode": "fast"}
    assert build.outputs == ("rows", "path")
    assert build.on_failure == "fail_fast"
    assert plan_of(FULL).steps["nap"].on_failure == "ignore"
    assert plan_of(FULL).steps["fit"].type == "python"


def test_durations_are_parsed_to_seconds() -> None:
    steps = plan_of(FULL).steps
    assert steps["build"].timeout_s == 90.0
    assert steps["build"].retries == RetryPolicy(
        limit=2, platform_limit=5, backoff="fixed", delay_s=5.0, max_delay_s=120.0
    )
    assert steps["nap"].sleep_s == 1.5
    assert isinstance(steps["nap"].sleep_s, float)


@pytest.mark.parametrize(
    ("timeout", "seconds"), [("30s", 30.0), ("10m", 600.0), ("6h", 21600.0), ("1d", 86400.0)]
)
def test_every_duration_unit(timeout: str, seconds: float) -> None:
    plan = plan_of(
        f"id: w\ntimeout: {timeout}\nsteps: [{{id: a, type: noop, timeout: {timeout}}}]\n"
    )
    assert plan.timeout_s == seconds
    assert plan.steps["a"].timeout_s == seconds


def test_integer_sleep_seconds_become_floats() -> None:
    plan = plan_of("id: w\nsteps: [{id: a, type: sleep, seconds: 30}]\n")
    assert plan.steps["a"].sleep_s == 30.0
    assert isinstance(plan.steps["a"].sleep_s, float)


@pytest.mark.parametrize(
    ("retries", "delay_s", "max_delay_s"),
    [
        ("{limit: 3, delay: 0s}", 0.0, 600.0),
        ("{limit: 3, delay: 1s, max_delay: 0s}", 1.0, 0.0),
    ],
)
def test_a_zero_delay_is_kept_not_replaced_by_the_default(
    retries: str, delay_s: float, max_delay_s: float
) -> None:
    text = f"id: w\nsteps: [{{id: a, type: script, script: 'false', retries: {retries}}}]\n"
    model = load_workflow(text).steps[0].retries
    assert model is not None
    assert (model.delay_seconds, model.max_delay_seconds) == (delay_s, max_delay_s)
    policy = plan_of(text).steps["a"].retries
    assert (policy.delay_s, policy.max_delay_s) == (delay_s, max_delay_s)


# -- the plan is a value --------------------------------------------------------------------


def test_a_plan_is_frozen() -> None:
    plan = plan_of(DIAMOND)
    with pytest.raises(FrozenInstanceError):
        plan.step_concurrency = 1  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        plan.steps["top"].type = "script"  # type: ignore[misc]


def test_compiling_does_not_share_mutable_params_with_the_definition() -> None:
    definition = definition_json(load_workflow(FULL))
    plan = compile_plan("full", 1, definition)
    definition["params"]["start"] = 0
    definition["steps"][0]["params"]["mode"] = "slow"
    assert plan.params["start"] == 20240101
    assert plan.steps["build"].params["mode"] == "fast"
