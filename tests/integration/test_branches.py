"""Conditional branching: ``if`` false skips a step, skips spread, joins run after the live side."""

from __future__ import annotations

from tests.support import Podium

DIAMOND = """
id: diamond_branch
params: {mode: full}
steps:
  - id: decide
    type: python
    outputs: [big]
    script: |
      from podium.job import set_output, params
      set_output("big", params()["mode"] == "full")
  - id: heavy
    type: script
    depends_on: [decide]
    if: "${ decide.big }"
    script: echo heavy
  - id: heavy_report
    type: noop
    depends_on: [heavy]
  - id: light
    type: script
    depends_on: [decide]
    if: "${ not decide.big }"
    script: echo light
  - id: join
    type: script
    depends_on: [heavy_report, light]
    script: echo joined
"""


def test_a_diamond_with_a_branch_that_skips_one_side(podium: Podium) -> None:
    podium.push(DIAMOND)
    full = podium.steps(podium.wait("diamond_branch", podium.run("diamond_branch")))
    assert [full[s]["status"] for s in ("heavy", "heavy_report", "light", "join")] == [
        "SUCCEEDED",
        "SUCCEEDED",
        "SKIPPED",
        "SUCCEEDED",
    ]
    doc = podium.wait("diamond_branch", podium.run("diamond_branch", {"mode": "quick"}))
    quick = podium.steps(doc)
    assert doc["status"] == "SUCCEEDED"
    assert [quick[s]["status"] for s in ("heavy", "heavy_report", "light", "join")] == [
        "SKIPPED",
        "SKIPPED",
        "SUCCEEDED",
        "SUCCEEDED",
    ]
    assert quick["heavy"]["attempts"] == 0


def test_a_step_whose_dependencies_all_skipped_is_skipped(podium: Podium) -> None:
    podium.push("""
id: all_skipped
steps:
  - {id: a, type: noop, if: "${ false }"}
  - {id: b, type: noop, if: "${ 1 > 2 }"}
  - {id: c, type: script, depends_on: [a, b], script: "exit 1"}
""")
    doc = podium.wait("all_skipped", podium.run("all_skipped"))
    assert doc["status"] == "SUCCEEDED"
    assert {s["status"] for s in doc["steps"]} == {"SKIPPED"}


def test_a_condition_that_fails_fails_the_step(podium: Podium) -> None:
    podium.push("""
id: bad_condition
params: {items: []}
steps:
  - {id: a, type: noop, if: "${ items[3] > 0 }"}
""")
    doc = podium.wait("bad_condition", podium.run("bad_condition"))
    step = podium.steps(doc)["a"]
    assert (doc["status"], step["status"], step["error"]["kind"]) == ("FAILED", "FAILED", "user")
    assert step["error"]["message"].startswith("if:")
