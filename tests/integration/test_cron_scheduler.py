"""The cron scheduler on a real database, driven by a clock the tests move."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from podium.control import changes
from podium.control.identity import caller_named
from podium.control.workflows import push_workflow
from podium.definition import load_workflow
from podium.engine.params import run_namespace
from podium.store import triggers as store_triggers
from podium.store import workflows as store_workflows
from podium.store.database import Database
from podium.store.migrate import upgrade
from podium.store.schema import fires, instances
from podium.timing.schedule import jitter_offset_s
from podium.triggers.scheduler import Scheduler


class Clock:
    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    upgrade(database)
    try:
        yield database
    finally:
        database.dispose()


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def push(db: Database, yaml: str, at: float, *, active: bool = True) -> int:
    return push_workflow(db, load_workflow(yaml), caller_named("t"), active=active, now=at).version


def cron_yaml(wf: str, cron: str, **trigger: str) -> str:
    extra = "".join(f", {k}: {v}" for k, v in trigger.items())
    return f"id: {wf}\ntrigger: {{cron: '{cron}'{extra}}}\nsteps: [{{id: a, type: noop}}]\n"


def run_until(db: Database, scheduler: Scheduler, clock: Clock, until: float) -> None:
    """Let the scheduler sleep from due time to due time, as its thread does."""
    while True:
        with db.read() as conn:
            due = store_triggers.next_trigger_due(conn)
        if due is None or due > until:
            clock.at = until
            scheduler.run_once()
            return
        clock.at = max(clock.at, due)
        scheduler.run_once()


def fired(db: Database, wf: str) -> list[dict[str, Any]]:
    with db.read() as conn:
        rows = conn.execute(
            sa.select(instances.c.instance_id, instances.c.version, instances.c.trigger)
            .where(instances.c.workflow_id == wf, instances.c.parent_pk.is_(None))
            .order_by(instances.c.instance_id)
        ).all()
        recorded = store_triggers.list_fires(conn, wf)
    assert [f for f, _ in recorded] == [r.trigger["scheduled_at"] for r in rows]
    assert [i for _, i in recorded] == [r.instance_id for r in rows]
    return [{"instance_id": r.instance_id, "version": r.version, **r.trigger} for r in rows]


def local_times(db: Database, wf: str, zone: str) -> list[str]:
    tz = ZoneInfo(zone)
    return [
        datetime.fromtimestamp(f["scheduled_at"], UTC).astimezone(tz).isoformat()
        for f in fired(db, wf)
    ]


DST_CASES = [
    # A skipped 02:30 fires once, right after the jump (03:00 EDT).
    (
        "30 2 * * *",
        "America/New_York",
        "2026-03-07T12:00:00-05:00",
        "2026-03-10T12:00:00-04:00",
        ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00", "2026-03-10T02:30:00-04:00"],
    ),
    # A repeated 01:30 fires once, the first time.
    (
        "30 1 * * *",
        "America/New_York",
        "2026-10-31T12:00:00-04:00",
        "2026-11-03T12:00:00-05:00",
        ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00", "2026-11-03T01:30:00-05:00"],
    ),
    # Lord Howe moves by 30 minutes: 02:00-02:30 is skipped in October...
    (
        "15 2 * * *",
        "Australia/Lord_Howe",
        "2026-10-03T12:00:00+10:30",
        "2026-10-05T12:00:00+11:00",
        ["2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"],
    ),
    # ... and 01:30-02:00 happens twice in April.
    (
        "45 1 * * *",
        "Australia/Lord_Howe",
        "2026-04-04T12:00:00+11:00",
        "2026-04-06T12:00:00+10:30",
        ["2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"],
    ),
    # Havana skips midnight itself: 00:00 on 2026-03-08 does not exist.
    (
        "0 0 * * *",
        "America/Havana",
        "2026-03-06T12:00:00-05:00",
        "2026-03-09T12:00:00-04:00",
        ["2026-03-07T00:00:00-05:00", "2026-03-08T01:00:00-04:00", "2026-03-09T00:00:00-04:00"],
    ),
]


@pytest.mark.parametrize(("cron", "zone", "start", "end", "expected"), DST_CASES)
def test_dst_fires_once_per_day(
    db: Database, cron: str, zone: str, start: str, end: str, expected: list[str]
) -> None:
    clock = Clock(epoch(start))
    push(db, cron_yaml("dst", cron, timezone=zone), clock.at)
    scheduler = Scheduler(db, clock=clock)
    run_until(db, scheduler, clock, epoch(end))
    assert local_times(db, "dst", zone) == expected
    assert [f["instance_id"] for f in fired(db, "dst")] == list(range(1, len(expected) + 1))


def test_midnight_skipped_in_havana_exists_in_tzdata() -> None:
    day = datetime(2026, 3, 8, 0, 0, tzinfo=ZoneInfo("America/Havana"))
    # A time in the gap does not survive a round trip through UTC.
    assert day.astimezone(UTC).astimezone(day.tzinfo).hour == 1


def test_a_fire_is_a_normal_start(db: Database) -> None:
    yaml = (
        "id: paris\ntrigger: {cron: '0 0 * * *', timezone: Europe/Paris}\n"
        "params: {day: '${ run.date }', at: '${ run.scheduled_at }', how: '${ run.trigger }'}\n"
        "steps: [{id: a, type: noop}]\n"
    )
    clock = Clock(epoch("2026-06-01T12:00:00+02:00"))
    push(db, yaml, clock.at)
    scheduler = Scheduler(db, clock=clock)
    clock.at = epoch("2026-06-02T00:00:01+02:00")
    assert scheduler.run_once() == 1
    (fire,) = fired(db, "paris")
    assert fire["type"] == "cron"
    assert fire["timezone"] == "Europe/Paris"
    assert fire["cron"] == "0 0 * * *"
    assert fire["scheduled_at"] == epoch("2026-06-02T00:00:00+02:00")
    with db.read() as conn:
        params = conn.execute(sa.select(instances.c.params)).scalar_one()
        work_rows = conn.execute(sa.text("SELECT kind FROM work")).scalars().all()
    assert params == {"day": 20260602, "at": "2026-06-01T22:00:00+00:00", "how": "cron"}
    assert work_rows == ["start"]


def test_run_date_is_the_local_date_of_the_fire() -> None:
    midnight_paris = epoch("2026-06-02T00:00:00+02:00")
    trigger = {"type": "cron", "scheduled_at": midnight_paris, "timezone": "Europe/Paris"}
    run = run_namespace(workflow_id="w", instance_id=1, version=1, trigger=trigger, at=0)
    assert run["date"] == 20260602
    utc = run_namespace(
        workflow_id="w", instance_id=1, version=1, trigger={"scheduled_at": midnight_paris}, at=0
    )
    assert utc["date"] == 20260601


@pytest.mark.parametrize(
    ("catchup", "expected"),
    [
        ("none", ["2026-01-05T00:00:00+00:00"]),
        ("latest", ["2026-01-04T00:00:00+00:00", "2026-01-05T00:00:00+00:00"]),
        (
            "all",
            [f"2026-01-0{d}T00:00:00+00:00" for d in (2, 3, 4)] + ["2026-01-05T00:00:00+00:00"],
        ),
    ],
)
def test_catchup_after_the_scheduler_was_down(
    db: Database, catchup: str, expected: list[str]
) -> None:
    pushed_at = epoch("2026-01-01T12:00:00+00:00")
    push(db, cron_yaml("daily", "0 0 * * *", catchup=catchup), pushed_at)
    # No scheduler ran for the fires of Jan 2, 3 and 4; one starts on Jan 4 at noon.
    clock = Clock(epoch("2026-01-04T12:00:00+00:00"))
    scheduler = Scheduler(db, clock=clock)
    scheduler.run_once()
    run_until(db, scheduler, clock, epoch("2026-01-05T00:00:02+00:00"))
    assert local_times(db, "daily", "UTC") == expected


def test_catchup_all_is_bounded(db: Database) -> None:
    push(db, cron_yaml("minutely", "* * * * *", catchup="all"), epoch("2026-01-01T00:00:30Z"))
    clock = Clock(epoch("2026-01-03T00:00:30Z"))
    Scheduler(db, clock=clock).run_once()
    times = [f["scheduled_at"] for f in fired(db, "minutely")]
    assert len(times) == 100
    assert times[-1] == epoch("2026-01-03T00:00:00Z")
    assert times[0] == epoch("2026-01-02T22:21:00Z")
    with db.read() as conn:
        row = store_triggers.get_cron_trigger(conn, "minutely")
    assert row is not None and row.next_fire_at == epoch("2026-01-03T00:01:00Z")


def test_a_late_pass_is_not_a_missed_fire(db: Database) -> None:
    """Ticks that fall due while the scheduler is running fire even with catchup none."""
    start = epoch("2026-01-01T00:00:30Z")
    push(db, cron_yaml("busy", "* * * * *", catchup="none"), start)
    clock = Clock(start)
    scheduler = Scheduler(db, clock=clock)
    clock.at = epoch("2026-01-01T00:01:40Z")  # 40 s late: a long pass before this one
    scheduler.run_once()
    assert local_times(db, "busy", "UTC") == ["2026-01-01T00:01:00+00:00"]


def test_jitter_is_deterministic_and_within_range(db: Database) -> None:
    offsets = [jitter_offset_s(f"wf{i}", 600.0) for i in range(200)]
    assert offsets == [jitter_offset_s(f"wf{i}", 600.0) for i in range(200)]
    assert all(0 <= o < 600 for o in offsets)
    assert max(offsets) - min(offsets) > 300  # spread, not bunched
    assert jitter_offset_s("wf", 0) == 0
    at = epoch("2026-01-01T12:00:00Z")
    push(db, cron_yaml("jittery", "0 0 * * *", jitter="10m"), at)
    with db.read() as conn:
        row = store_triggers.get_cron_trigger(conn, "jittery")
    assert row is not None
    offset = jitter_offset_s("jittery", 600.0)
    assert row.next_fire_at == epoch("2026-01-02T00:00:00Z")
    assert row.due_at == pytest.approx(row.next_fire_at + offset)
    clock = Clock(row.due_at - 0.5)
    scheduler = Scheduler(db, clock=clock)
    assert scheduler.run_once() == 0
    clock.at = row.due_at
    assert scheduler.run_once() == 1
    (fire,) = fired(db, "jittery")
    assert fire["scheduled_at"] == row.next_fire_at  # run.scheduled_at is the nominal time


def test_deactivate_stops_firing_and_activate_resumes(db: Database) -> None:
    at = epoch("2026-01-01T12:00:00Z")
    push(db, cron_yaml("onoff", "0 * * * *"), at)
    clock = Clock(at)
    scheduler = Scheduler(db, clock=clock)
    run_until(db, scheduler, clock, epoch("2026-01-01T13:00:01Z"))
    assert len(fired(db, "onoff")) == 1
    with db.transaction() as conn:
        store_workflows.set_active_version(conn, "onoff", None, now=clock.at)
        assert store_triggers.get_cron_trigger(conn, "onoff") is None
    run_until(db, scheduler, clock, epoch("2026-01-01T16:00:01Z"))
    assert len(fired(db, "onoff")) == 1
    with db.transaction() as conn:
        store_workflows.set_active_version(conn, "onoff", 1, now=clock.at)
    run_until(db, scheduler, clock, epoch("2026-01-01T17:00:01Z"))
    assert local_times(db, "onoff", "UTC")[1:] == ["2026-01-01T17:00:00+00:00"]


def test_new_active_version_takes_over(db: Database) -> None:
    at = epoch("2026-01-01T12:00:00Z")
    push(db, cron_yaml("evolving", "0 * * * *"), at)
    push(db, cron_yaml("evolving", "30 * * * *"), at, active=False)
    with db.read() as conn:
        row = store_triggers.get_cron_trigger(conn, "evolving")
    assert row is not None and (row.version, row.cron) == (1, "0 * * * *")
    clock = Clock(at)
    scheduler = Scheduler(db, clock=clock)
    run_until(db, scheduler, clock, epoch("2026-01-01T13:10:00Z"))
    with db.transaction() as conn:
        store_workflows.set_active_version(conn, "evolving", 2, now=clock.at)
    push(db, cron_yaml("other", "0 * * * *"), at)  # an unrelated trigger does not interfere
    run_until(db, scheduler, clock, epoch("2026-01-01T14:40:00Z"))
    runs = [(f["version"], f["cron"]) for f in fired(db, "evolving")]
    assert runs == [(1, "0 * * * *"), (2, "30 * * * *"), (2, "30 * * * *")]
    assert local_times(db, "evolving", "UTC") == [
        "2026-01-01T13:00:00+00:00",
        "2026-01-01T13:30:00+00:00",
        "2026-01-01T14:30:00+00:00",
    ]
    # A version without a trigger removes it.
    push(db, "id: evolving\nsteps: [{id: a, type: noop}]\n", clock.at)
    with db.read() as conn:
        assert store_triggers.get_cron_trigger(conn, "evolving") is None


def test_a_tick_already_fired_is_not_fired_again(db: Database) -> None:
    at = epoch("2026-01-01T12:00:00Z")
    push(db, cron_yaml("once", "0 * * * *"), at)
    with db.transaction() as conn:
        conn.execute(
            fires.insert().values(
                workflow_id="once", fire_time=epoch("2026-01-01T13:00:00Z"), created_at=at
            )
        )
    clock = Clock(epoch("2026-01-01T13:00:00Z"))
    assert Scheduler(db, clock=clock).run_once() == 0
    with db.read() as conn:
        row = store_triggers.get_cron_trigger(conn, "once")
    assert row is not None and row.next_fire_at == epoch("2026-01-01T14:00:00Z")


def test_a_spike_is_claimed_in_batches(db: Database) -> None:
    at = epoch("2026-01-01T23:00:00Z")
    for i in range(25):
        push(db, cron_yaml(f"spike{i}", "0 0 * * *"), at)
    clock = Clock(epoch("2026-01-02T00:00:00Z"))
    assert Scheduler(db, clock=clock, batch=10).run_once() == 25
    for i in range(25):
        assert len(fired(db, f"spike{i}")) == 1


def test_scheduler_thread_wakes_when_a_trigger_changes(db: Database) -> None:
    scheduler = Scheduler(db, recheck_s=3600)
    scheduler.start()
    try:
        now = time.time()
        push(db, cron_yaml("soon", "* * * * *"), now)
        with db.read() as conn:
            row = store_triggers.get_cron_trigger(conn, "soon")
        assert row is not None
        # Pretend the last minute's tick is pending: the scheduler, asleep for an hour,
        # must look at once.
        tick = now // 60 * 60
        with db.transaction() as conn:
            conn.execute(
                sa.text("UPDATE cron_triggers SET next_fire_at = :t, due_at = :t"), {"t": tick}
            )
        changes.announce()
        deadline = time.monotonic() + 10
        while not fired(db, "soon"):
            assert time.monotonic() < deadline, "the scheduler did not wake"
            time.sleep(0.05)
    finally:
        scheduler.stop()
