"""The logs of a step inside foreach iterations and subworkflows, addressed by a step path
(``GET …/steps/{path}/logs?iteration=N``); a step that has no log says why."""

from __future__ import annotations

from typing import Any

from tests.support import Podium

LOOPS = """
id: loops
steps:
  - id: each
    foreach:
      over: {n: [10, 20, 30]}
      steps:
        - {id: say, type: script, script: "echo item ${ n }"}
  - id: grid
    foreach:
      over: {row: [1, 2]}
      steps:
        - id: cells
          foreach:
            over: {col: [7, 8]}
            steps:
              - {id: cell, type: script, script: "echo cell ${ row }x${ col }"}
  - {id: join, type: noop, depends_on: [each, grid]}
  - {id: never, type: script, script: "echo never", if: "${ false }"}
"""

CHILD = """
id: child
params: {who: nobody}
steps:
  - {id: talk, type: script, script: "echo child says ${ who }"}
"""

PARENT = """
id: parent
steps:
  - {id: call, subworkflow: {workflow: child, params: {who: parent}}}
  - id: many
    foreach:
      over: {who: [ann, bob]}
      subworkflow: {workflow: child, params: {who: "${ who }"}}
"""


def _logs(podium: Podium, wf: str, iid: int, path: str, **query: Any) -> Any:
    return podium.client.get(
        f"/api/v1/workflows/{wf}/instances/{iid}/steps/{path}/logs", params=query
    )


def _text(podium: Podium, wf: str, iid: int, path: str, **query: Any) -> str:
    response = _logs(podium, wf, iid, path, **query)
    assert response.status_code == 200, response.text
    return str(response.json()["text"])


def _error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    return str(error["message"])


def test_the_log_of_a_step_inside_an_iteration_or_a_nested_one(podium: Podium) -> None:
    podium.push(LOOPS)
    iid = podium.run("loops")
    assert podium.wait("loops", iid)["status"] == "SUCCEEDED"

    assert _text(podium, "loops", iid, "each.say", iteration=1) == "item 20\n"
    assert _text(podium, "loops", iid, "each[2].say") == "item 30\n"
    page = _logs(podium, "loops", iid, "grid.cells.cell", iteration=[1, 0]).json()
    assert page["text"] == "cell 2x7\n" and page["step"] == "grid[1].cells[0].cell"
    assert _text(podium, "loops", iid, "grid[0].cells.cell", iteration=1) == "cell 1x8\n"

    foreach = _error(_logs(podium, "loops", iid, "each"), 404, "log_not_found")
    assert foreach == (
        "step 'each' is a foreach of 3 iterations: it has no log of its own; "
        "ask for a step inside one iteration: each.say --iteration N"
    )
    noop = _error(_logs(podium, "loops", iid, "join"), 404, "log_not_found")
    assert "'join' is a noop step: it runs no job, so it has no log" in noop
    skipped = _error(_logs(podium, "loops", iid, "never"), 404, "log_not_found")
    assert "'never' ended SKIPPED without running" in skipped

    missing = _error(_logs(podium, "loops", iid, "each.say"), 400, "invalid_input")
    assert "step 'each' is a foreach: say which iteration with --iteration N" in missing
    loop = _error(_logs(podium, "loops", iid, "each", iteration=1), 400, "invalid_input")
    assert loop == (
        "step 'each' is a foreach: an iteration has no log of its own; "
        "name the step inside it: each.say --iteration 1"
    )
    inline = _error(_logs(podium, "loops", iid, "each[0]"), 400, "invalid_input")
    assert inline.endswith("name the step inside it: each.say --iteration 0")
    not_loop = _error(_logs(podium, "loops", iid, "join[0]"), 400, "invalid_input")
    assert "step 'join' is a noop step, not a foreach" in not_loop
    extra = _error(_logs(podium, "loops", iid, "join", iteration=1), 400, "invalid_input")
    assert "1 --iteration given" in extra
    beyond = _error(_logs(podium, "loops", iid, "each.say", iteration=3), 404, "not_found")
    assert "step 'each' has no iteration 3: it has 3 (0 to 2)" in beyond
    typo = _error(_logs(podium, "loops", iid, "each.sya", iteration=0), 404, "step_not_found")
    assert "has no step 'sya' (did you mean 'say'?)" in typo
    bad = _error(_logs(podium, "loops", iid, "each[x].say"), 400, "invalid_input")
    assert "is not valid" in bad


def test_the_log_of_a_step_inside_a_subworkflow(podium: Podium) -> None:
    podium.push(CHILD)
    podium.push(PARENT)
    iid = podium.run("parent")
    assert podium.wait("parent", iid)["status"] == "SUCCEEDED"

    assert _text(podium, "parent", iid, "call.talk") == "child says parent\n"
    assert _text(podium, "parent", iid, "many.talk", iteration=1) == "child says bob\n"
    call = _error(_logs(podium, "parent", iid, "call"), 404, "log_not_found")
    assert "step 'call' runs workflow 'child' (instance 1)" in call
    assert "ask for a step inside it: call.talk" in call
    not_loop = _error(_logs(podium, "parent", iid, "call[0].talk"), 400, "invalid_input")
    assert "is a subworkflow, not a foreach" in not_loop


def test_a_step_that_has_not_started_yet_has_an_empty_page_to_follow(podium: Podium) -> None:
    podium.push("""
id: later
steps:
  - {id: first, type: sleep, seconds: 600}
  - id: each
    depends_on: [first]
    foreach:
      over: {n: [1]}
      steps:
        - {id: say, type: script, script: "echo hi"}
""")
    iid = podium.run("later")
    podium.wait_step("later", iid, "first", "RUNNING")
    page = _logs(podium, "later", iid, "each.say", iteration=0).json()
    assert page["attempt"] is None and page["complete"] is False
    assert page["waiting"] == "iteration 0 of step 'each' has not started yet"
    podium.client.post(f"/api/v1/workflows/later/instances/{iid}/stop")
    podium.wait("later", iid)
    never = _error(_logs(podium, "later", iid, "each.say", iteration=0), 404, "log_not_found")
    assert "iteration 0 of step 'each' never started" in never
