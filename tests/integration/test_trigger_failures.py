"""A start a trigger cannot make (its params do not resolve) is stored, published and shown,
on SQLite and PostgreSQL, and costs neither the signal nor the other starts."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from podium.control.identity import caller_named
from podium.control.workflows import push_workflow
from podium.definition import load_workflow
from podium.store import trigger_failures as store_failures
from podium.store.database import Database
from podium.store.migrate import upgrade
from podium.store.schema import instances, outbox, signals, trigger_failures
from podium.triggers.scheduler import Scheduler
from tests.support import Podium, running_podium


class Clock:
    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    upgrade(database)
    try:
        yield database
    finally:
        database.dispose()


def push(db: Database, yaml: str, at: float) -> None:
    push_workflow(db, load_workflow(yaml), caller_named("t"), active=True, now=at)


def events(db: Database, topic: str) -> list[dict[str, Any]]:
    with db.read() as conn:
        rows = conn.execute(
            sa.select(outbox.c.key, outbox.c.payload)
            .where(outbox.c.topic == topic)
            .order_by(outbox.c.id)
        ).all()
    return [{"key": r.key, **r.payload} for r in rows]


def count_instances(db: Database, workflow_id: str) -> int:
    with db.read() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).where(instances.c.workflow_id == workflow_id)
            ).scalar_one()
        )


SIGNALLED = """
id: {wf}
trigger:
  signals:
    - - name: partition_landed
params:
  day: "${{ signal.partition }}"
steps: [{{id: a, type: noop}}]
"""


def test_a_signal_says_which_workflows_it_failed_to_start_and_why(
    db_url: str, tmp_path: Path
) -> None:
    sink = tmp_path / "events.jsonl"
    with running_podium(db_url, tmp_path / "data", event_sinks=[f"file://{sink}"]) as podium:
        podium.push(SIGNALLED.format(wf="good"))
        podium.push(SIGNALLED.format(wf="bad").replace("signal.partition", "signal.x.partition"))
        podium.push(SIGNALLED.format(wf="also_good"))
        response = podium.client.post(
            "/api/v1/signals", json={"name": "partition_landed", "params": {"partition": 7}}
        )
        assert response.status_code == 201, response.text
        reply = response.json()
        # The failure cost neither the signal nor the other workflows' starts.
        assert reply["started"] == [
            {"workflow_id": "also_good", "instance_id": 1},
            {"workflow_id": "good", "instance_id": 1},
        ]
        (failed,) = reply["failed"]
        assert failed["workflow_id"] == "bad" and failed["trigger"] == "signals[0]"
        assert "params.day: signal has no param 'x'" in failed["reason"]
        assert podium.wait("good", 1)["status"] == "SUCCEEDED"
        listed = podium.client.get("/api/v1/signals", params={"name": "partition_landed"})
        assert [s["seq"] for s in listed.json()["signals"]] == [1]
        assert count_instances(podium.db, "bad") == 0

        info = podium.client.get("/api/v1/workflows/bad").json()
        (shown,) = info["trigger_failures"]
        assert shown["trigger"] == "signals[0]" and shown["version"] == 1
        assert shown["reason"] == failed["reason"]
        assert datetime.fromisoformat(shown["at"]).timestamp() == pytest.approx(time.time(), abs=30)
        assert shown["signals"] == [
            {"name": "partition_landed", "seq": 1, "params": {"partition": 7}}
        ]
        assert podium.client.get("/api/v1/workflows/good").json()["trigger_failures"] == []
        listing = podium.client.get("/api/v1/workflows/bad/trigger-failures").json()
        assert listing["trigger_failures"] == [shown]
        missing = podium.client.get("/api/v1/workflows/nope/trigger-failures")
        assert missing.status_code == 404

        # ... and in the event stream, delivered to the sink.
        deadline = time.monotonic() + 20
        while True:
            lines = [json.loads(x) for x in sink.read_text().splitlines()] if sink.exists() else []
            published = [e for e in lines if e["topic"] == "trigger.failed"]
            if published or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        (event,) = published
        assert event["key"] == "bad"
        assert event["payload"]["workflow_id"] == "bad"
        assert event["payload"]["trigger"] == "signals[0]"
        assert event["payload"]["reason"] == failed["reason"]
        assert event["payload"]["signals"][0]["seq"] == 1


def test_an_emitted_signal_that_fails_a_start_is_recorded(podium: Podium) -> None:
    podium.push(SIGNALLED.format(wf="consumer").replace("signal.partition", "signal.nope"))
    podium.push(
        """
id: producer
steps:
  - id: write
    type: noop
    emits: [{name: partition_landed, params: {partition: 3}}]
"""
    )
    assert podium.wait("producer", podium.run("producer"))["status"] == "SUCCEEDED"
    with podium.db.read() as conn:
        (failure,) = store_failures.list_trigger_failures(conn, "consumer")
        assert conn.execute(sa.select(sa.func.count()).select_from(signals)).scalar_one() == 1
    assert failure.trigger == "signals[0]" and "signal has no param 'nope'" in failure.reason


def test_a_cron_tick_that_cannot_start_is_recorded_and_the_others_fire(db: Database) -> None:
    clock = Clock(epoch("2026-06-01T12:00:30+00:00"))
    push(
        db,
        "id: needs_day\ntrigger: {cron: '0 * * * *'}\n"
        "params: {day: {type: int, required: true}}\nsteps: [{id: a, type: noop}]\n",
        clock.at,
    )
    push(db, "id: hourly\ntrigger: {cron: '0 * * * *'}\nsteps: [{id: a, type: noop}]\n", clock.at)
    scheduler = Scheduler(db, clock=clock)
    clock.at = epoch("2026-06-01T13:00:01+00:00")
    assert scheduler.run_once() == 1
    assert (count_instances(db, "needs_day"), count_instances(db, "hourly")) == (0, 1)
    with db.read() as conn:
        (failure,) = store_failures.list_trigger_failures(conn, "needs_day")
    assert failure.trigger == "cron" and failure.version == 1
    assert failure.at == clock.at
    assert "param 'day' is required" in failure.reason
    assert failure.detail["scheduled_at"] == epoch("2026-06-01T13:00:00+00:00")
    (event,) = events(db, "trigger.failed")
    assert event["key"] == "needs_day" and event["trigger"] == "cron"
    assert event["reason"] == failure.reason
    assert event["scheduled_at"] == epoch("2026-06-01T13:00:00+00:00")


def test_only_the_last_failures_of_each_trigger_are_kept(db: Database) -> None:
    start = epoch("2026-06-01T12:00:30+00:00")
    clock = Clock(start)
    push(
        db,
        "id: broken\ntrigger: {cron: '* * * * *', signals: [[{name: go}]]}\n"
        "params: {day: {type: int, required: true}}\nsteps: [{id: a, type: noop}]\n",
        clock.at,
    )
    scheduler = Scheduler(db, clock=clock)
    for minute in range(1, 26):
        clock.at = start + 60 * minute
        scheduler.run_once()
    keep = store_failures.KEEP_PER_TRIGGER
    with db.transaction() as conn:
        store_failures.record_trigger_failure(
            conn,
            store_failures.TriggerFailure("broken", "signals[0]", 1, clock.at, "no day", {}),
        )
    with db.read() as conn:
        stored = conn.execute(
            sa.select(trigger_failures.c.trigger, sa.func.count())
            .where(trigger_failures.c.workflow_id == "broken")
            .group_by(trigger_failures.c.trigger)
        ).all()
        newest = store_failures.list_trigger_failures(conn, "broken", per_trigger=3)
        cron_only = store_failures.list_trigger_failures(conn, "broken", trigger="cron")
    assert dict(stored) == {"cron": keep, "signals[0]": 1}
    assert [(f.trigger, f.detail.get("scheduled_at")) for f in newest] == [
        ("signals[0]", None),
        ("cron", start - 30 + 60 * 25),
        ("cron", start - 30 + 60 * 24),
        ("cron", start - 30 + 60 * 23),
    ]
    # The newest 20 ticks are the ones kept, oldest dropped first.
    assert [f.detail["scheduled_at"] for f in cron_only] == [
        start - 30 + 60 * minute for minute in range(25, 25 - keep, -1)
    ]
    # Every failure was published, even those no longer kept.
    assert len(events(db, "trigger.failed")) == 26


def test_info_shows_a_cron_failure_with_its_tick(podium: Podium) -> None:
    podium.push(
        "id: needs_day\ntrigger: {cron: '0 0 1 1 *'}\n"
        "params: {day: {type: int, required: true}}\nsteps: [{id: a, type: noop}]\n"
    )
    new_year = datetime(datetime.now(UTC).year + 1, 1, 1, tzinfo=UTC)
    # The server's own scheduler waits for New Year; this one is already there.
    Scheduler(podium.db, clock=Clock(new_year.timestamp() + 30)).run_once()
    info = podium.client.get("/api/v1/workflows/needs_day").json()
    (failure,) = info["trigger_failures"]
    assert failure["trigger"] == "cron" and "param 'day' is required" in failure["reason"]
    assert datetime.fromisoformat(failure["scheduled_at"]) == new_year
    assert "signals" not in failure
