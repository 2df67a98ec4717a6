"""The model itself: durations, defaults, kinds, and rules enforced on models built in Python."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from podium.definition import Retries, Step, Workflow, load_workflow, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("10m", 600.0),
        ("6h", 21600.0),
        ("1d", 86400.0),
        ("1h30m", 5400.0),
        ("1.5s", 1.5),
        ("0s", 0.0),
        ("1d2h3m4s", 93784.0),
    ],
)
def test_parse_duration_accepts_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["30", "", "1m1h", "s", "1.s", " 1s", "1 s", "1H", "1s\n", "5w"])
def test_parse_duration_rejects_other_text_and_names_the_format(text: str) -> None:
    with pytest.raises(ValueError, match="s m h or d"):
        parse_duration(text)


def test_defaults_follow_the_contract() -> None:
    wf = load_workflow("id: w\nsteps: [{id: a, type: noop}]\n")
    assert wf.run_strategy == "parallel"
    assert wf.step_concurrency == 20
    assert wf.effective_concurrency == 20
    assert wf.trigger is None
    step = wf.steps[0]
    assert step.retries == Retries()
    assert (step.retries.limit, step.retries.platform_limit) == (0, 3)
    assert step.retries.backoff == "exponential"
    assert (step.retries.delay_seconds, step.retries.max_delay_seconds) == (10.0, 600.0)
    assert step.on_failure == "fail"
    assert step.kind == "job"
    assert step.timeout_seconds is None


def test_sequential_strategies_run_one_instance_by_default() -> None:
    wf = load_workflow("id: w\nrun_strategy: last_only\nsteps: [{id: a, type: noop}]\n")
    assert wf.effective_concurrency == 1


def test_trigger_defaults_and_durations_in_seconds() -> None:
    wf = load_workflow(
        "id: w\ntimeout: 1h30m\ntrigger: {cron: '@daily', jitter: 90s}\n"
        "steps: [{id: a, type: noop, timeout: 1.5s}]\n"
    )
    assert wf.trigger is not None
    assert (wf.trigger.timezone, wf.trigger.catchup) == ("UTC", "latest")
    assert wf.trigger.jitter_seconds == 90.0
    assert wf.timeout == "1h30m"
    assert wf.timeout_seconds == 5400.0
    assert wf.steps[0].timeout_seconds == 1.5


def test_step_kinds() -> None:
    wf = load_workflow(
        """
id: w
steps:
  - {id: job, type: noop}
  - id: fan
    foreach: {over: {x: [1, 2]}, steps: [{id: inner, type: noop}]}
  - {id: sub, subworkflow: {workflow: other}}
"""
    )
    assert [s.kind for s in wf.steps] == ["job", "foreach", "subworkflow"]
    sub = wf.step("sub").subworkflow
    assert sub is not None
    assert sub.version == "active"


def test_if_is_spelled_if_in_yaml_and_if_underscore_in_python() -> None:
    wf = load_workflow("id: w\nsteps: [{id: a, type: noop, if: '${ true }'}]\n")
    assert wf.steps[0].if_ == "${ true }"
    assert Step(id="a", type="noop", if_="${ x }").if_ == "${ x }"


def test_models_are_frozen() -> None:
    wf = load_workflow("id: w\nsteps: [{id: a, type: noop}]\n")
    with pytest.raises(ValidationError):
        wf.steps[0].id = "b"  # type: ignore[misc]


def test_a_model_built_in_python_obeys_the_cross_key_rules() -> None:
    a = Step(id="a", type="noop", depends_on=["b"])
    b = Step(id="b", type="noop", depends_on=["a"])
    with pytest.raises(ValidationError, match="cycle: a -> b -> a"):
        Workflow(id="w", steps=[a, b])
    with pytest.raises(ValidationError, match="type 'sleep' needs 'seconds'"):
        Workflow(id="w", steps=[Step(id="a", type="sleep")])


def test_seconds_keep_their_number_type() -> None:
    wf = load_workflow("id: w\nsteps: [{id: a, type: sleep, seconds: 5}]\n")
    assert wf.steps[0].seconds == 5
    assert isinstance(wf.steps[0].seconds, int)


def test_the_json_schema_can_be_generated() -> None:
    schema = Workflow.model_json_schema(by_alias=True)
    assert "steps" in schema["properties"]
