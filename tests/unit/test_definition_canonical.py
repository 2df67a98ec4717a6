"""Canonical YAML: deterministic, defaults left out, and a fixed point of load + dump."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from podium.definition import Workflow, canonical_yaml, definition_json, load_workflow

EXAMPLE = """
steps:
  - type: python
    id: plan
    script: |
      import json
      print(json.dumps([1, 2]))
    retries: {limit: 0, delay: 10s, platform_limit: 5}
    on_failure: fail
  - {id: report, depends_on: [plan], type: sleep, seconds: 2, if: "${ true }"}
id: nightly
run_strategy: parallel
step_concurrency: 20
trigger: {timezone: UTC, cron: "0 3 * * *"}
params: {}
"""


def test_canonical_text_orders_keys_and_drops_defaults() -> None:
    assert canonical_yaml(load_workflow(EXAMPLE)) == (
        "id: nightly\n"
        "trigger:\n"
        "  cron: 0 3 * * *\n"
        "steps:\n"
        "  - id: plan\n"
        "    type: python\n"
        "    script: |\n"
        "      import json\n"
        "      print(json.dumps([1, 2]))\n"
        "    retries:\n"
        "      platform_limit: 5\n"
        "  - id: report\n"
        "    depends_on:\n"
        "      - plan\n"
        "    if: ${ true }\n"
        "    type: sleep\n"
        "    seconds: 2\n"
    )


def test_canonical_round_trip_and_fixed_point() -> None:
    wf = load_workflow(EXAMPLE)
    text = canonical_yaml(wf)
    assert load_workflow(text) == wf
    assert canonical_yaml(load_workflow(text)) == text


def test_definition_json_holds_every_field_by_alias() -> None:
    data = definition_json(load_workflow(EXAMPLE))
    step = data["steps"][1]
    assert step["if"] == "${ true }"
    assert "if_" not in step
    assert step["retries"] == {
        "limit": 0,
        "platform_limit": 3,
        "backoff": "exponential",
        "delay": "10s",
        "max_delay": "10m",
    }
    assert data["step_concurrency"] == 20
    assert data["trigger"]["timezone"] == "UTC"


def test_awkward_strings_survive() -> None:
    text = (
        "id: w\ndescription: \"trailing space \\nline\\ttab\\n\"\nowner: 'yes'\n"
        "params: {a: '0123', b: 'null', c: '2024-01-01', d: '$${ x }', e: 'x: y', f: .inf}\n"
        'steps: [{id: a, type: script, script: "echo hi  \\n\\n"}, '
        '{id: b, type: noop, params: {n: "\\N", l: "a\\Lb\\nc", r: "a\\r\\nb"}}]'
    )
    wf = load_workflow(text)
    out = canonical_yaml(wf)
    assert load_workflow(out) == wf
    assert canonical_yaml(load_workflow(out)) == out


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False)
    | st.text(max_size=20).filter(lambda s: "${" not in s)
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
_durations = st.sampled_from(["1s", "30s", "10m", "1h30m", "1.5s", "2d"])
_texts = st.text(max_size=40)


@st.composite
def workflows(draw: st.DrawFn) -> Workflow:
    count = draw(st.integers(min_value=1, max_value=5))
    steps: list[dict[str, Any]] = []
    for index in range(count):
        step: dict[str, Any] = {"id": f"s{index}"}
        kind = draw(st.sampled_from(["noop", "sleep", "script", "python"]))
        step["type"] = kind
        if kind == "sleep":
            step["seconds"] = draw(st.integers(1, 100) | st.floats(0.1, 100))
        elif kind in ("script", "python"):
            step["script"] = draw(_texts)
        if index and draw(st.booleans()):
            step["depends_on"] = [f"s{i}" for i in range(index) if draw(st.booleans())]
        if draw(st.booleans()):
            step["params"] = draw(st.dictionaries(st.text(max_size=8), _json, max_size=3))
        if draw(st.booleans()):
            step["retries"] = {"limit": draw(st.integers(0, 5)), "delay": draw(_durations)}
        if draw(st.booleans()):
            step["timeout"] = draw(_durations)
        step["on_failure"] = draw(st.sampled_from(["fail", "fail_fast", "ignore"]))
        steps.append(step)
    data: dict[str, Any] = {"id": "wf", "steps": steps}
    if draw(st.booleans()):
        data["description"] = draw(_texts)
    if draw(st.booleans()):
        data["tags"] = draw(st.lists(st.text(max_size=10), max_size=3))
    if draw(st.booleans()):
        data["params"] = draw(st.dictionaries(st.text(max_size=8), _json, max_size=4))
    if draw(st.booleans()):
        data["trigger"] = {"cron": "@hourly", "timezone": "Asia/Tokyo", "jitter": draw(_durations)}
    return Workflow.model_validate(data, by_alias=True, by_name=False)


@settings(max_examples=60, deadline=None)
@given(workflows())
def test_generated_workflows_round_trip(wf: Workflow) -> None:
    text = canonical_yaml(wf)
    again = load_workflow(text)
    assert again == wf
    assert canonical_yaml(again) == text
