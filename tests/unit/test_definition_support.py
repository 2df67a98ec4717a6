"""Which features a pushed workflow may use today."""

from __future__ import annotations

from podium.definition import NOT_YET_SUPPORTED, load_workflow, unsupported_features

RUNS_TODAY = """
id: today
description: everything here runs now
owner: data-eng
tags: [daily]
step_concurrency: 4
timeout: 1h
params: {start: 20240101, names: [a, b], literal: "costs $${ 5 }", nested: {k: v}}
steps:
  - {id: a, type: noop}
  - {id: b, type: sleep, seconds: 1, depends_on: [a]}
  - id: c
    type: script
    script: echo "${HOME}"
    depends_on: [a]
    params: {x: 1}
    outputs: [result]
    retries: {limit: 2, backoff: fixed, delay: 5s}
    timeout: 10m
    on_failure: ignore
  - {id: d, type: python, script: "print(1)", on_failure: fail_fast}
"""


def test_features_that_run_today_pass() -> None:
    assert unsupported_features(load_workflow(RUNS_TODAY)) == []


def test_every_later_feature_is_named_with_its_location() -> None:
    wf = load_workflow(
        """
id: later
trigger: {cron: "@daily"}
run_strategy: parallel
concurrency: 2
params: {day: "${ run.date }", plan: {code: "return 1"}, deep: [{x: "a ${ day } c"}]}
steps:
  - {id: a, type: noop, if: "${ true }", tags: [db], wait_for: [{name: s}], emits: [{name: t}]}
  - {id: b, type: notebook, path: n.ipynb, params: {x: "${ day }"}}
  - {id: c, type: container, image: alpine}
  - {id: d, foreach: {over: {x: [1]}, steps: [{id: e, type: noop}]}}
  - {id: f, subworkflow: {workflow: other}}
"""
    )
    problems = unsupported_features(wf)
    assert all(p.message.startswith("not supported yet: ") for p in problems)
    assert {p.location for p in problems} == {
        "steps[1].type",
        "steps[2].type",
    }
    by_location = {p.location: p.message for p in problems}
    assert "notebook steps" in by_location["steps[1].type"]
    assert "container steps" in by_location["steps[2].type"]


def test_cron_triggers_run_today() -> None:
    wf = load_workflow(
        "id: w\ntrigger: {cron: '@daily', timezone: Europe/Paris, jitter: 10m, catchup: all}\n"
        "steps: [{id: a, type: noop}]"
    )
    assert unsupported_features(wf) == []


def test_step_type_message_says_what_to_do() -> None:
    wf = load_workflow("id: w\nsteps: [{id: a, type: container, image: alpine}]")
    (problem,) = unsupported_features(wf)
    assert problem.as_dict() == {
        "location": "steps[0].type",
        "message": "not supported yet: container steps arrive in a later "
        "release; use another step type to push this workflow",
    }


def test_the_list_of_later_features_is_explicit() -> None:
    assert "trigger_cron" not in NOT_YET_SUPPORTED  # cron triggers run since the scheduler
    assert "step_tags" not in NOT_YET_SUPPORTED  # they run since tag limits landed
    assert not {"trigger_signals", "wait_for", "emits"} & NOT_YET_SUPPORTED  # signals run
    assert not {"foreach", "subworkflow"} & NOT_YET_SUPPORTED
    assert "if" not in NOT_YET_SUPPORTED  # conditions run since branching landed
    assert "expressions" not in NOT_YET_SUPPORTED  # they run since parameterized workflows


def test_inside_a_foreach_later_features_are_still_named() -> None:
    wf = load_workflow("""
id: w
steps:
  - id: each
    foreach:
      over: {x: [1]}
      steps:
        - {id: inner, type: container, image: alpine}
  - id: per_item
    foreach:
      over: {x: [1]}
      subworkflow: {workflow: other}
""")
    locations = {p.location for p in unsupported_features(wf)}
    assert locations == {"steps[0].foreach.steps[0].type"}
