"""Tag limits: permits across workflows, first come first served, and no deadlock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support import Podium, job_spans, max_overlap


def set_limit(podium: Podium, tag: str, limit: int | None) -> dict[str, Any]:
    response = podium.client.put(f"/api/v1/tags/{tag}", json={"limit": limit})
    assert response.status_code == 200, response.text
    return dict(response.json())


def tag(podium: Podium, name: str) -> dict[str, Any]:
    response = podium.client.get(f"/api/v1/tags/{name}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def job(
    step_id: str,
    trace: Path,
    *,
    tags: str = "[db]",
    seconds: float = 0.3,
    extra: str = "",
    suffix: str = "",
) -> str:
    """A script step that writes its start and end (epoch seconds) to ``trace``."""
    return f"""
  - id: {step_id}
    type: script
    tags: {tags}
    {extra}
    script: |
      echo "start $PODIUM_WORKFLOW_ID/$PODIUM_INSTANCE_ID/$PODIUM_STEP_ID{suffix} $(date +%s.%N)" >> {trace}
      sleep {seconds}
      echo "end $PODIUM_WORKFLOW_ID/$PODIUM_INSTANCE_ID/$PODIUM_STEP_ID{suffix} $(date +%s.%N)" >> {trace}
"""


def test_a_tag_limit_caps_steps_across_workflows(podium: Podium, tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    set_limit(podium, "db", 2)
    for name in ("left", "right"):
        steps = "".join(job(f"s{i}", trace) for i in range(3))
        podium.push(f"id: {name}\nsteps:{steps}")
    runs = [("left", podium.run("left")), ("right", podium.run("right"))]
    for wf, iid in runs:
        assert podium.wait(wf, iid)["status"] == "SUCCEEDED"
    spans = job_spans(trace)
    assert len(spans) == 6
    assert max_overlap(list(spans.values())) == 2  # never above the limit, and used
    view = tag(podium, "db")
    assert (view["limit"], view["in_use"], view["waiting"], view["holders"]) == (2, 0, 0, [])


def test_a_waiting_step_shows_its_permit_and_waiters_go_first_come_first_served(
    podium: Podium, tmp_path: Path
) -> None:
    trace = tmp_path / "trace"
    set_limit(podium, "gpu", 0)  # nothing carrying gpu may start
    podium.push(f"id: train\nsteps:{job('fit', trace, tags='[gpu]', seconds=0.2)}")
    first = podium.run("train")
    step = podium.wait_step("train", first, "fit", "WAITING_FOR_PERMITS")
    assert step["waiting_for"] == {"tag": "gpu", "limit": 0, "in_use": 0, "ahead": 0}
    assert step["tags"] == ["gpu"]
    later = [podium.run("train") for _ in range(3)]
    for iid in later:
        podium.wait_step("train", iid, "fit", "WAITING_FOR_PERMITS")
    last = podium.steps(podium.status("train", later[-1]))["fit"]
    assert last["waiting_for"]["ahead"] == 3
    view = tag(podium, "gpu")
    assert [w["instance_id"] for w in view["waiters"]] == [first, *later]
    events = podium.client.get(f"/api/v1/workflows/train/instances/{first}/timeline").json()
    assert any(
        e.get("detail", {}).get("status") == "WAITING_FOR_PERMITS"
        and e["detail"].get("tag") == "gpu"
        for e in events["events"]
    ), events
    set_limit(podium, "gpu", 1)  # one at a time, in the order they asked
    for iid in [first, *later]:
        assert podium.wait("train", iid)["status"] == "SUCCEEDED"
    order = sorted(job_spans(trace).items(), key=lambda kv: kv[1][0])
    assert [key.split("/")[1] for key, _ in order] == [str(i) for i in [first, *later]]
    assert max_overlap([span for _, span in order]) == 1


def test_a_step_with_two_tags_needs_a_permit_of_each(podium: Podium, tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    set_limit(podium, "db", 1)
    set_limit(podium, "net", 1)
    podium.push(
        "id: both\nsteps:"
        + job("db_only", trace, tags="[db]", seconds=0.8)
        + job("net_only", trace, tags="[net]", seconds=0.8)
        + job("db_and_net", trace, tags="[net, db]", seconds=0.1)
    )
    iid = podium.run("both")
    step = podium.wait_step("both", iid, "db_and_net", "WAITING_FOR_PERMITS")
    assert step["waiting_for"]["tag"] in ("db", "net")
    assert podium.wait("both", iid)["status"] == "SUCCEEDED"
    spans = job_spans(trace)
    both = spans[f"both/{iid}/db_and_net"]
    assert both[0] >= spans[f"both/{iid}/db_only"][1]
    assert both[0] >= spans[f"both/{iid}/net_only"][1]


def test_a_foreach_whose_iterations_need_the_tag_it_carries_does_not_deadlock(
    podium: Podium, tmp_path: Path
) -> None:
    trace = tmp_path / "trace"
    set_limit(podium, "db", 1)
    inner = job("load", trace, tags="[]", seconds=0.1, suffix="-$PODIUM_PARAM_DAY").replace(
        "\n  ", "\n        "
    )
    podium.push(
        f"""
id: backfill
steps:
  - id: days
    tags: [db]
    foreach:
      over: {{day: [1, 2, 3, 4]}}
      concurrency: 4
      steps:{inner}
"""
    )
    iid = podium.run("backfill")
    assert podium.wait("backfill", iid)["status"] == "SUCCEEDED"
    spans = job_spans(trace)
    assert len(spans) == 4
    assert max_overlap(list(spans.values())) == 1  # the inner steps inherit the tag


def test_a_subworkflow_passes_its_tags_to_the_steps_it_runs(podium: Podium, tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    set_limit(podium, "db", 1)
    podium.push(
        "id: child\nsteps:"
        + job("a", trace, tags="[]", seconds=0.2)
        + job("b", trace, tags="[]", seconds=0.2)
    )
    podium.push(
        """
id: parent
steps:
  - id: call
    tags: [db]
    subworkflow: {workflow: child}
"""
    )
    iid = podium.run("parent")
    assert podium.wait("parent", iid)["status"] == "SUCCEEDED"
    assert max_overlap(list(job_spans(trace).values())) == 1


def test_stopping_a_waiting_instance_gives_up_its_place(podium: Podium, tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    set_limit(podium, "db", 0)
    podium.push(f"id: blocked\nsteps:{job('s', trace)}")
    first, second = podium.run("blocked"), podium.run("blocked")
    podium.wait_step("blocked", second, "s", "WAITING_FOR_PERMITS")
    response = podium.client.post(f"/api/v1/workflows/blocked/instances/{first}/stop")
    assert response.status_code == 200, response.text
    doc = podium.wait("blocked", first)
    assert doc["status"] == "STOPPED"
    assert podium.steps(doc)["s"]["status"] == "STOPPED"
    assert "stopped while it waited" in podium.steps(doc)["s"]["error"]["message"]
    view = tag(podium, "db")
    assert [w["instance_id"] for w in view["waiters"]] == [second]
    set_limit(podium, "db", None)  # no limit: everything waiting goes
    assert podium.wait("blocked", second)["status"] == "SUCCEEDED"


def test_a_failing_instance_ends_without_waiting_for_permits(
    podium: Podium, tmp_path: Path
) -> None:
    trace = tmp_path / "trace"
    set_limit(podium, "db", 0)
    podium.push(
        f"""
id: failing
steps:{job("waits", trace)}
  - id: breaks
    type: script
    script: exit 3
"""
    )
    iid = podium.run("failing")
    doc = podium.wait("failing", iid, timeout_s=15)
    assert doc["status"] == "FAILED"
    waits = podium.steps(doc)["waits"]
    assert waits["status"] == "STOPPED"
    assert waits["error"]["message"].startswith("not started")
    assert tag(podium, "db")["waiting"] == 0


def test_a_retry_gives_its_permit_back_while_it_waits(podium: Podium, tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    set_limit(podium, "db", 1)
    podium.push(
        f"""
id: flaky
steps:
  - id: flaky
    type: script
    tags: [db]
    retries: {{limit: 1, delay: 1s, backoff: fixed}}
    script: |
      key="flaky/$PODIUM_INSTANCE_ID/try$PODIUM_ATTEMPT"
      echo "start $key $(date +%s.%N)" >> {trace}
      sleep 0.1
      echo "end $key $(date +%s.%N)" >> {trace}
      [ "$PODIUM_ATTEMPT" = 2 ]
{job("steady", trace, seconds=0.1)}"""
    )
    iid = podium.run("flaky")
    assert podium.wait("flaky", iid)["status"] == "SUCCEEDED"
    spans = job_spans(trace)
    first, second = spans[f"flaky/{iid}/try1"], spans[f"flaky/{iid}/try2"]
    steady = spans[f"flaky/{iid}/steady"]
    # steady waited for the first attempt, ran during the back-off, then the retry ran.
    assert first[1] <= steady[0] and steady[1] <= second[0]
    assert max_overlap(list(spans.values())) == 1


def test_tags_are_checked_and_limits_must_be_whole_numbers(podium: Podium) -> None:
    response = podium.client.post(
        "/api/v1/workflows",
        json={"yaml": "id: bad\nsteps:\n  - id: s\n    type: noop\n    tags: ['no spaces']\n"},
    )
    assert response.status_code == 400
    assert "bad tag 'no spaces'" in response.text
    assert podium.client.put("/api/v1/tags/db", json={"limit": -1}).status_code == 400
    bad = podium.client.put("/api/v1/tags/a%20b", json={"limit": 1})
    assert bad.status_code == 400 and "bad tag" in bad.json()["error"]["message"]
    missing = podium.client.get("/api/v1/tags/nothing")
    assert missing.status_code == 404
    podium.push("id: known\nsteps:\n  - id: s\n    type: noop\n    tags: [warehouse]\n")
    listed = podium.client.get("/api/v1/tags").json()["tags"]
    assert {"tag": "warehouse", "limit": None, "in_use": 0, "waiting": 0} in [
        {k: t[k] for k in ("tag", "limit", "in_use", "waiting")} for t in listed
    ]
