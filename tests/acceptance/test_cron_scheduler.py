"""Cron triggers end to end: ``podium cron`` agrees with the scheduler, and replicas fire
each tick once."""

from __future__ import annotations

import json
import math
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from podium.control.identity import caller_named
from podium.control.workflows import push_workflow
from podium.credentials import ServerAuth
from podium.definition import load_workflow
from podium.store import triggers as store_triggers
from podium.store.database import Database
from podium.store.migrate import upgrade
from podium.store.schema import instances
from podium.triggers.scheduler import Scheduler
from tests.support import TERMINAL, free_port, fresh_pg_url
from tests.unit.test_cron_dst_property import engine, every_transition

from .conftest import Cli
from .test_durability import podium_process, wait_healthy

CASES = [
    ("30 2 * * *", "America/New_York", "2026-03-07T12:00:00-05:00", 4),
    ("30 1 * * *", "America/New_York", "2026-10-31T12:00:00-04:00", 4),
    ("15 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00:00+10:30", 3),
    ("45 1 * * *", "Australia/Lord_Howe", "2026-04-04T12:00:00+11:00", 3),
    ("0 0 * * *", "America/Havana", "2026-03-06T12:00:00-05:00", 4),
    # The repeated hour of a fall-back is a real hour: hourly and half-hourly fire in it.
    ("0 * * * *", "America/New_York", "2025-11-02T00:30:00-04:00", 3),
    ("*/30 * * * *", "America/New_York", "2025-11-02T00:30:00-04:00", 5),
    ("*/30 * * * *", "Australia/Lord_Howe", "2026-04-05T01:00:00+11:00", 4),
]


class Clock:
    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


@pytest.mark.parametrize(("cron", "zone", "after", "count"), CASES)
def test_podium_cron_prints_what_the_scheduler_fires(
    cli: Cli, tmp_path: Path, cron: str, zone: str, after: str, count: int
) -> None:
    result = cli(
        "cron", cron, "--timezone", zone, "--after", after, "--count", str(count), "--json"
    )
    assert result.returncode == 0, result.stderr
    printed = [item["utc"] for item in json.loads(result.stdout)["fire_times"]]

    db = Database(f"sqlite:///{tmp_path / 'podium.db'}")
    upgrade(db)
    try:
        clock = Clock(datetime.fromisoformat(after).timestamp())
        yaml = (
            f"id: w\ntrigger: {{cron: '{cron}', timezone: {zone}}}\nsteps: [{{id: a, type: noop}}]"
        )
        push_workflow(db, load_workflow(yaml), caller_named("t"), active=True, now=clock.at)
        scheduler = Scheduler(db, clock=clock)
        for _ in range(count):
            with db.read() as conn:
                row = store_triggers.get_cron_trigger(conn, "w")
            assert row is not None
            clock.at = row.due_at
            assert scheduler.run_once() == 1
        with db.read() as conn:
            fired = [t for t, _ in store_triggers.list_fires(conn, "w")]
    finally:
        db.dispose()
    assert [datetime.fromtimestamp(t, UTC).isoformat() for t in fired] == printed


@pytest.mark.parametrize(("zone", "moment"), list(every_transition()), ids=str)
def test_podium_cron_lists_the_engines_fires_at_every_transition(
    cli: Cli, zone: str, moment: datetime
) -> None:
    after = moment - timedelta(hours=3)
    result = cli(
        "cron", "*/30 * * * *", "--timezone", zone, "--after", after.isoformat(),
        "--count", "14", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    printed = [datetime.fromisoformat(f["utc"]) for f in json.loads(result.stdout)["fire_times"]]
    local = [datetime.fromisoformat(f["local"]) for f in json.loads(result.stdout)["fire_times"]]
    expected = engine("*/30 * * * *", zone, after, moment + timedelta(days=1))[:14]
    assert [t.timestamp() for t in printed] == expected
    assert [t.timestamp() for t in local] == expected


@pytest.mark.slow
def test_two_workers_fire_each_tick_once(tmp_path: Path) -> None:
    """Two worker processes whose clocks stand just before a minute: ``* * * * *`` fires
    once between them; then both restart with their clocks just before the next minute,
    and that tick fires once too."""
    now = time.time()
    boundary = math.ceil(now / 60) * 60 + 60
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "podium.log"

    def env_before(tick: float) -> dict[str, str]:
        return {"PODIUM_CLOCK_OFFSET_SECONDS": str(tick - 3 - time.time())}

    with fresh_pg_url() as db_url, ExitStack() as stack:
        api = stack.enter_context(
            podium_process(
                ["api", "--db", db_url, "--port", str(port)], tmp_path, log, **env_before(boundary)
            )
        )
        wait_healthy(url, api)
        client = stack.enter_context(httpx.Client(base_url=url, timeout=30, auth=ServerAuth(url)))
        yaml = "id: minutely\ntrigger: {cron: '* * * * *'}\nsteps: [{id: a, type: noop}]\n"
        assert client.post("/api/v1/workflows", json={"yaml": yaml}).status_code == 201
        info = client.get("/api/v1/workflows/minutely").json()
        assert info["next_fire_times"][0] == datetime.fromtimestamp(boundary, UTC).isoformat()
        db = Database(db_url)
        stack.callback(db.dispose)

        def fired(count: int) -> tuple[list[tuple[float, int | None]], list[sa.Row[Any]]]:
            deadline = time.monotonic() + 30
            while True:
                with db.read() as conn:
                    fires = store_triggers.list_fires(conn, "minutely")
                    rows = conn.execute(
                        sa.select(instances.c.instance_id, instances.c.status, instances.c.trigger)
                        .where(instances.c.workflow_id == "minutely")
                        .order_by(instances.c.instance_id)
                    ).all()
                if len(fires) >= count and all(r.status in TERMINAL for r in rows):
                    return fires, list(rows)
                assert time.monotonic() < deadline, (fires, rows, log.read_text()[-3000:])
                time.sleep(0.2)

        for tick, count in ((boundary, 1), (boundary + 60, 2)):
            with ExitStack() as workers:
                for name in ("w1", "w2"):
                    workers.enter_context(
                        podium_process(
                            ["worker", "--db", db_url, "--worker-id", f"{name}-{count}"],
                            tmp_path,
                            log,
                            **env_before(tick),
                        )
                    )
                fires, rows = fired(count)
                time.sleep(1.0)  # both schedulers have looked again after the tick
                fires, rows = fired(count)
        assert fires == [(boundary, 1), (boundary + 60, 2)]
        assert [r.trigger["scheduled_at"] for r in rows] == [boundary, boundary + 60]
        assert [r.status for r in rows] == ["SUCCEEDED", "SUCCEEDED"]
