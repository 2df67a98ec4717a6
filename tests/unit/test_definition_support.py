"""Which features a pushed workflow may use today."""

from __future__ import annotations

import pytest

from podium.definition import NOT_YET_SUPPORTED, load_workflow, support, unsupported_features

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
  - {id: b, type: python, script: "print(1)", params: {x: "${ day }"}}
  - {id: c, type: container, image: alpine}
  - {id: d, foreach: {over: {x: [1]}, steps: [{id: e, type: noop}]}}
  - {id: f, subworkflow: {workflow: other}}
"""
    )
    assert unsupported_features(wf) == []


def test_notebook_steps_run_today() -> None:
    wf = load_workflow(
        "id: w\nsteps:\n  - id: nb\n    type: notebook\n    path: n.ipynb\n"
        "    parameters: {x: 1}\n    cell_timeout: 1m\n"
        "    notebook: {cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5}\n"
    )
    assert unsupported_features(wf) == []


def test_cron_triggers_run_today() -> None:
    wf = load_workflow(
        "id: w\ntrigger: {cron: '@daily', timezone: Europe/Paris, jitter: 10m, catchup: all}\n"
        "steps: [{id: a, type: noop}]"
    )
    assert unsupported_features(wf) == []


def test_container_steps_run_today() -> None:
    wf = load_workflow(
        "id: w\nsteps:\n"
        "  - {id: a, type: container, image: alpine, resources: {cpu: 1.5, memory: 512m}}\n"
        "  - {id: b, type: script, script: 'true', container: {image: alpine}}\n"
    )
    assert unsupported_features(wf) == []


def test_the_list_of_later_features_is_explicit() -> None:
    assert "trigger_cron" not in NOT_YET_SUPPORTED  # cron triggers run since the scheduler
    assert "step_tags" not in NOT_YET_SUPPORTED  # they run since tag limits landed
    assert not {"trigger_signals", "wait_for", "emits"} & NOT_YET_SUPPORTED  # signals run
    assert not {"foreach", "subworkflow"} & NOT_YET_SUPPORTED
    assert "if" not in NOT_YET_SUPPORTED  # conditions run since branching landed
    assert "expressions" not in NOT_YET_SUPPORTED  # they run since parameterized workflows
    assert "notebook" not in NOT_YET_SUPPORTED  # they run through Papermill
    assert "container" not in NOT_YET_SUPPORTED  # they run through the Docker Engine API


def test_inside_a_foreach_later_features_are_still_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(support, "NOT_YET_SUPPORTED", frozenset({"container"}))
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
