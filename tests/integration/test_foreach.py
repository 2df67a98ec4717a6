"""Foreach: iterations as child instances, counted on their step, outputs as lists downstream."""

from __future__ import annotations

from pathlib import Path

from tests.support import Podium

BACKFILL = """
id: loop
params: {start: 20240101}
steps:
  - id: plan
    type: python
    outputs: [dates]
    script: |
      from podium.job import set_output
      set_output("dates", [20240101, 20240102, 20240103])
  - id: backfill
    depends_on: [plan]
    foreach:
      over: {date: "${ plan.dates }", mode: [a, b]}
      concurrency: 2
      steps:
        - id: load
          type: script
          outputs: [rows]
          params: {tag: "${ date }-${ mode }-${ loop.index }"}
          script: |
            echo "{\\"rows\\": $(( ${ date } % 100 ))}" > "$PODIUM_OUTPUTS"
            echo "$PODIUM_PARAM_TAG"
        - id: after
          type: noop
          depends_on: [load]
  - id: report
    type: noop
    depends_on: [backfill]
    params:
      rows: "${ backfill.load.rows }"
      total: "${ sum(backfill.load.rows) }"
"""


def test_a_foreach_runs_every_item_and_hands_its_outputs_on(podium: Podium) -> None:
    podium.push(BACKFILL)
    iid = podium.run("loop")
    doc = podium.wait("loop", iid, timeout_s=60)
    assert doc["status"] == "SUCCEEDED", doc
    steps = podium.steps(doc)
    assert steps["backfill"]["iterations"]["total"] == 6
    assert steps["backfill"]["iterations"]["succeeded"] == 6
    assert steps["report"]["params"]["rows"] == [1, 1, 2, 2, 3, 3]
    assert steps["report"]["params"]["total"] == 12
    one = podium.client.get(
        f"/api/v1/workflows/loop/instances/{iid}", params={"step": "backfill", "iteration": 3}
    ).json()
    assert one["iteration"] == 3 and one["status"] == "SUCCEEDED"
    load = {s["id"]: s for s in one["steps"]}["load"]
    assert load["params"]["tag"] == "20240102-b-3"
    assert load["outputs"] == {"rows": 2}
    listed = podium.client.get("/api/v1/workflows/loop/instances").json()["instances"]
    assert [i["instance_id"] for i in listed] == [iid]


def test_nested_foreach_three_by_four(podium: Podium) -> None:
    podium.push("""
id: nested
steps:
  - id: outer
    foreach:
      over: {x: [1, 2, 3]}
      steps:
        - id: inner
          foreach:
            over: {y: [10, 20, 30, 40]}
            steps:
              - id: cell
                type: python
                outputs: [v]
                params: {v: "${ x * y }"}
                script: |
                  from podium.job import params, set_output
                  set_output("v", params()["v"])
""")
    iid = podium.run("nested")
    doc = podium.wait("nested", iid, timeout_s=60)
    assert doc["status"] == "SUCCEEDED", doc
    assert podium.steps(doc)["outer"]["iterations"]["succeeded"] == 3
    second = podium.client.get(
        f"/api/v1/workflows/nested/instances/{iid}",
        params={"step": "outer[1].inner", "iteration": 2},
    ).json()
    cell = {s["id"]: s for s in second["steps"]}["cell"]
    assert cell["outputs"] == {"v": 60}


def test_a_failed_iteration_fails_the_foreach_after_the_running_ones(podium: Podium) -> None:
    podium.push("""
id: failing_loop
steps:
  - id: each
    foreach:
      over: {n: [1, 2, 3, 4, 5, 6, 7, 8]}
      concurrency: 2
      steps:
        - {id: work, type: script, script: '[ "${ n }" != 3 ]'}
""")
    doc = podium.wait("failing_loop", podium.run("failing_loop"), timeout_s=60)
    each = podium.steps(doc)["each"]
    assert doc["status"] == "FAILED" and each["status"] == "FAILED"
    assert each["iterations"]["failed"] == 1
    assert each["iterations"]["waiting"] > 0  # no new iteration after the failure
    assert "1 of 8 iterations failed" in each["error"]["message"]


def test_on_failure_ignore_runs_every_iteration(podium: Podium) -> None:
    podium.push("""
id: tolerant_loop
steps:
  - id: each
    on_failure: ignore
    foreach:
      over: {n: [1, 2, 3, 4]}
      steps:
        - {id: work, type: script, script: '[ "${ n }" != 2 ]'}
  - {id: after, type: noop, depends_on: [each]}
""")
    doc = podium.wait("tolerant_loop", podium.run("tolerant_loop"), timeout_s=60)
    steps = podium.steps(doc)
    assert doc["status"] == "SUCCEEDED"
    assert steps["each"]["status"] == "COMPLETED_WITH_ERROR"
    assert steps["each"]["iterations"]["succeeded"] == 3
    assert steps["after"]["status"] == "SUCCEEDED"


def test_an_empty_foreach_succeeds_at_once(podium: Podium) -> None:
    podium.push("""
id: empty_loop
steps:
  - id: each
    foreach:
      over: {n: []}
      steps:
        - {id: work, type: noop}
""")
    doc = podium.wait("empty_loop", podium.run("empty_loop"))
    assert podium.steps(doc)["each"]["status"] == "SUCCEEDED"


def test_a_restart_reruns_the_foreach_and_keeps_the_old_iterations_apart(podium: Podium) -> None:
    podium.push("""
id: loop_again
params: {bad: 3}
steps:
  - id: each
    foreach:
      over: {n: [1, 2, 3, 4]}
      steps:
        - {id: work, type: python, outputs: [n], script: "from podium.job import params, set_output\\nassert params()['n'] != params()['bad']\\nset_output('n', params()['n'])"}
  - {id: total, type: noop, depends_on: [each], params: {ns: "${ each.work.n }"}}
""")
    iid = podium.run("loop_again")
    assert podium.wait("loop_again", iid, timeout_s=60)["status"] == "FAILED"
    response = podium.client.post(
        f"/api/v1/workflows/loop_again/instances/{iid}/restart", json={"params": {"bad": 0}}
    )
    assert response.status_code == 200, response.text
    doc = podium.wait("loop_again", iid, timeout_s=60)
    steps = podium.steps(doc)
    assert doc["status"] == "SUCCEEDED"
    assert steps["each"]["iterations"]["succeeded"] == 4
    assert steps["total"]["params"]["ns"] == [1, 2, 3, 4]


def test_a_restart_after_iteration_17_of_50_failed_reruns_that_iteration_alone(
    podium: Podium, tmp_path: Path
) -> None:
    ran = tmp_path / "ran"
    podium.push(f"""
id: fifty
params: {{broken: 17}}
steps:
  - id: each
    foreach:
      over: {{n: "${{ range(50) }}"}}
      concurrency: 5
      steps:
        - id: work
          type: script
          outputs: []
          script: |
            echo ${{ n }} >> {ran}
            [ "${{ n }}" != "$PODIUM_PARAM_BROKEN" ]
  - {{id: done, type: noop, depends_on: [each]}}
""")
    iid = podium.run("fifty")
    first = podium.wait("fifty", iid, timeout_s=120)
    each = podium.steps(first)["each"]
    assert first["status"] == "FAILED" and each["iterations"]["failed"] == 1
    launched_first = each["iterations"]["launched"]
    ran.write_text("")
    response = podium.client.post(
        f"/api/v1/workflows/fifty/instances/{iid}/restart", json={"params": {"broken": -1}}
    )
    assert response.status_code == 200, response.text
    redo = response.json()["iterations_rerun"]["each"]
    assert redo == 50 - (launched_first - 1)
    doc = podium.wait("fifty", iid, timeout_s=120)
    assert doc["status"] == "SUCCEEDED"
    assert podium.steps(doc)["each"]["iterations"]["succeeded"] == 50
    again = sorted(int(n) for n in ran.read_text().split())
    assert 17 in again and len(again) == redo
    assert not set(again) & (set(range(launched_first)) - {17})


def test_a_tolerated_failure_in_iteration_17_of_50_reruns_exactly_one_iteration(
    podium: Podium, tmp_path: Path
) -> None:
    ran = tmp_path / "ran"
    podium.push(f"""
id: fifty_tolerant
params: {{broken: 17}}
steps:
  - id: each
    on_failure: ignore
    foreach:
      over: {{n: "${{ range(50) }}"}}
      concurrency: 10
      steps:
        - id: work
          type: script
          script: |
            echo ${{ n }} >> {ran}
            [ "${{ n }}" != "$PODIUM_PARAM_BROKEN" ]
""")
    iid = podium.run("fifty_tolerant")
    first = podium.wait("fifty_tolerant", iid, timeout_s=120)
    assert podium.steps(first)["each"]["status"] == "COMPLETED_WITH_ERROR"
    ran.write_text("")
    response = podium.client.post(
        f"/api/v1/workflows/fifty_tolerant/instances/{iid}/restart",
        json={"params": {"broken": -1}},
    )
    assert response.json()["iterations_rerun"] == {"each": 1}
    doc = podium.wait("fifty_tolerant", iid, timeout_s=60)
    assert podium.steps(doc)["each"]["status"] == "SUCCEEDED"
    assert podium.steps(doc)["each"]["iterations"]["succeeded"] == 50
    assert ran.read_text().split() == ["17"]
