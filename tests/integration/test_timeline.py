"""The timeline of an instance through the API: statuses, attempts, retries, skips, milestones."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.support import Podium

RETRIED_AND_SKIPPED = """
id: timeline
steps:
  - id: flaky
    type: script
    retries: {limit: 1, delay: 0s}
    script: |
      echo "attempt $PODIUM_ATTEMPT"
      [ "$PODIUM_ATTEMPT" -ge 2 ] || exit 3
  - id: never
    type: noop
    if: "${ false }"
"""


def timeline(podium: Podium, wf: str, instance_id: int, **query: Any) -> dict[str, Any]:
    response = podium.client.get(
        f"/api/v1/workflows/{wf}/instances/{instance_id}/timeline", params=query
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def summary(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """(step, event, status, attempt) of each event, the fields whose order matters."""
    return [
        (e["step_id"], e["event"], e["detail"].get("status"), e["detail"].get("attempt"))
        for e in events
    ]


def test_timeline_tells_attempts_retries_and_skips_in_order(podium: Podium) -> None:
    podium.push(RETRIED_AND_SKIPPED)
    instance_id = podium.run("timeline")
    assert podium.wait("timeline", instance_id)["status"] == "SUCCEEDED"

    document = timeline(podium, "timeline", instance_id)
    assert document["workflow_id"] == "timeline"
    assert document["instance_id"] == instance_id
    events = document["events"]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    times = [datetime.fromisoformat(e["at"]) for e in events]
    assert all(t.tzinfo is not None for t in times)
    assert times == sorted(times)

    steps = summary(events)
    instance_statuses = [s[2] for s in steps if s[1] == "instance.status"]
    assert instance_statuses[0] == "CREATED"
    assert "IN_PROGRESS" in instance_statuses
    assert instance_statuses[-1] == "SUCCEEDED"
    assert steps[-1] == (None, "instance.status", "SUCCEEDED", None)

    flaky = [s for s in steps if s[0] == "flaky"]
    assert flaky == [
        ("flaky", "step.status", "RUNNING", 1),
        ("flaky", "step.retry", "CREATED", 1),
        ("flaky", "step.status", "RUNNING", 2),
        ("flaky", "step.status", "SUCCEEDED", None),
    ]
    retry = next(e for e in events if e["event"] == "step.retry")
    assert retry["detail"]["kind"] == "user"
    assert isinstance(retry["detail"]["retry_at"], float)

    skipped = [e for e in events if e["step_id"] == "never"]
    assert [e["detail"] for e in skipped] == [
        {"status": "SKIPPED", "reason": "its condition (if) is false"}
    ]


def test_timeline_filters_by_step_and_pages_after_an_id(podium: Podium) -> None:
    podium.push(RETRIED_AND_SKIPPED)
    instance_id = podium.run("timeline")
    podium.wait("timeline", instance_id)
    everything = timeline(podium, "timeline", instance_id)["events"]

    flaky = timeline(podium, "timeline", instance_id, step="flaky")["events"]
    assert flaky == [e for e in everything if e["step_id"] == "flaky"]
    assert len(flaky) == 4

    first_two = timeline(podium, "timeline", instance_id, limit=2)["events"]
    assert first_two == everything[:2]
    rest = timeline(podium, "timeline", instance_id, after=first_two[-1]["id"])["events"]
    assert rest == everything[2:]


def test_timeline_of_unknown_things_is_404(podium: Podium) -> None:
    podium.push(RETRIED_AND_SKIPPED)
    instance_id = podium.run("timeline")
    podium.wait("timeline", instance_id)
    base = "/api/v1/workflows"
    cases = {
        f"{base}/nope/instances/1/timeline": "instance_not_found",
        f"{base}/timeline/instances/999/timeline": "instance_not_found",
        f"{base}/timeline/instances/{instance_id}/timeline?step=nope": "step_not_found",
    }
    for path, code in cases.items():
        response = podium.client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == code


def test_a_milestone_of_a_python_step_reaches_the_timeline(podium: Podium) -> None:
    podium.push("""
id: milestones
steps:
  - id: load
    type: python
    script: |
      from podium.job import milestone
      milestone("loaded 10 rows")
""")
    instance_id = podium.run("milestones")
    assert podium.wait("milestones", instance_id)["status"] == "SUCCEEDED"
    events = timeline(podium, "milestones", instance_id, step="load")["events"]
    milestones = [e for e in events if e["event"] == "step.milestone"]
    assert [e["detail"] for e in milestones] == [{"text": "loaded 10 rows"}]
    running = next(i for i, e in enumerate(events) if e["detail"].get("status") == "RUNNING")
    succeeded = next(i for i, e in enumerate(events) if e["detail"].get("status") == "SUCCEEDED")
    assert running < events.index(milestones[0]) < succeeded
