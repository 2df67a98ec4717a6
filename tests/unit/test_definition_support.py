"""Every feature of the language is accepted today: nothing is refused as "not yet"."""

from __future__ import annotations

from podium.definition import Workflow, check_text

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


def runs_today(text: str) -> Workflow:
    """``text`` as a workflow, asserting it raised no problem at all."""
    wf, problems = check_text(text)
    assert problems == []
    assert wf is not None
    return wf


def test_features_that_run_today_pass() -> None:
    runs_today(RUNS_TODAY)


def test_every_once_later_feature_is_accepted() -> None:
    wf = runs_today(
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
    assert [s.id for s in wf.steps] == ["a", "b", "c", "d", "f"]


def test_notebook_steps_run_today() -> None:
    runs_today(
        "id: w\nsteps:\n  - id: nb\n    type: notebook\n    path: n.ipynb\n"
        "    parameters: {x: 1}\n    cell_timeout: 1m\n"
        "    notebook: {cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5}\n"
    )


def test_cron_triggers_run_today() -> None:
    runs_today(
        "id: w\ntrigger: {cron: '@daily', timezone: Europe/Paris, jitter: 10m, catchup: all}\n"
        "steps: [{id: a, type: noop}]"
    )


def test_container_steps_run_today() -> None:
    runs_today(
        "id: w\nsteps:\n"
        "  - {id: a, type: container, image: alpine, resources: {cpu: 1.5, memory: 512m}}\n"
        "  - {id: b, type: script, script: 'true', container: {image: alpine}}\n"
    )


def test_foreach_inner_steps_and_subworkflows_run_today() -> None:
    runs_today("""
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
