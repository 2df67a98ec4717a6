"""Push-time checks of expressions, each problem with its location."""

from __future__ import annotations

from podium.definition import check_text


def problems_of(text: str) -> dict[str, str]:
    _, problems = check_text(text)
    return {p.location: p.message for p in problems}


BASE = """
id: w
params:
  start: {type: int, default: 20240101}
  label: "day ${ strat }"
steps:
  - id: plan
    type: python
    outputs: [dates]
    script: print(1)
  - id: side
    type: noop
  - id: use
    type: script
    depends_on: [plan]
    params:
      a: "${ plan.datez }"
      b: "${ side.x }"
      c: "${ len(plan.dates) + }"
      d: "${ undefined_thing }"
      e: "${ plan.dates[0] }"
      f: "${ e + 1 }"
    script: echo "${ nope }" "${HOME}"
"""


def test_every_expression_problem_is_reported_with_its_location() -> None:
    found = problems_of(BASE)
    assert "unknown name 'strat'" in found["params.label"]
    assert "did you mean 'start'" in found["params.label"]
    assert "declares no output 'datez'" in found["steps[2].params.a"]
    assert "did you mean 'dates'" in found["steps[2].params.a"]
    assert "'side' is not upstream of 'use'" in found["steps[2].params.b"]
    assert "depends_on" in found["steps[2].params.b"]
    assert "steps[2].params.c" in found
    assert "unknown name 'undefined_thing'" in found["steps[2].params.d"]
    assert "steps[2].params.e" not in found and "steps[2].params.f" not in found
    assert "unknown name 'nope'" in found["steps[2].script"]


def test_reading_an_undeclared_output_of_an_upstream_step_is_refused() -> None:
    found = problems_of("""
id: w
steps:
  - {id: a, type: script, script: "true"}
  - {id: b, type: noop, depends_on: [a], params: {x: "${ a.rows }"}}
""")
    assert (
        "step 'a' declares no outputs: list 'rows' under its outputs" in found["steps[1].params.x"]
    )


def test_transitive_upstream_steps_can_be_read() -> None:
    found = problems_of("""
id: w
steps:
  - {id: a, type: python, outputs: [n], script: "print(1)"}
  - {id: b, type: noop, depends_on: [a]}
  - {id: c, type: noop, depends_on: [b], params: {x: "${ a.n * 2 }"}}
""")
    assert found == {}


def test_bad_declarations_are_reported() -> None:
    found = problems_of("""
id: w
params:
  a: {type: integer}
  b: {type: int, default: "x"}
  c: {type: int, required: true, default: 1}
steps:
  - {id: s, type: noop}
""")
    assert "unknown type 'integer'" in found["params.a"]
    assert "must be of type int" in found["params.b"]
    assert "required param has no default" in found["params.c"]


FOREACH = """
id: w
params: {region: eu}
steps:
  - id: plan
    type: python
    outputs: [dates]
    script: print(1)
  - id: side
    type: noop
  - id: loop
    depends_on: [plan]
    params: {prefix: "p-${ region }"}
    foreach:
      over: {d: "${ plan.dates }", m: "${ sidee }"}
      steps:
        - id: load
          type: script
          outputs: [rows]
          script: "echo ${ d } ${ prefix } ${ loop.index } ${ plan.dates } ${ region }"
        - id: check
          type: script
          depends_on: [load]
          script: "echo ${ load.rows } ${ side.x } ${ nope } ${ load.rowz }"
"""


def test_a_foreach_s_inner_steps_are_checked_with_what_they_see() -> None:
    found = problems_of(FOREACH)
    assert found.pop("steps[2].foreach.over.m") == "unknown name 'sidee' (did you mean 'side'?)"
    check = "steps[2].foreach.steps[1].script"
    assert set(found) == {check}, found
    # One message per location: the first by the checker's order (unknown names first).
    _, problems = check_text(FOREACH)
    said = [p.message for p in problems if p.location == check]
    assert "unknown name 'nope'" in said
    assert any("'side' is not upstream of 'check'" in m for m in said), said
    assert any("declares no output 'rowz'" in m for m in said), said
