"""``podium info`` lists the fires the scheduler will make, across every DST transition."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from podium.api.app import create_app
from podium.control.identity import caller_named
from podium.control.workflows import push_workflow
from podium.definition import load_workflow
from podium.store.database import Database
from podium.store.migrate import upgrade
from tests.support import InProcessApi, admin_token
from tests.unit.test_cron_dst_property import engine, every_transition


@pytest.fixture
def api(db_url: str) -> Iterator[tuple[Database, InProcessApi]]:
    """The API alone, in this process, with no engine or scheduler to move the trigger on."""
    db = Database(db_url)
    upgrade(db)
    try:
        yield db, InProcessApi(create_app(db), admin_token(db))
    finally:
        db.dispose()


@pytest.mark.parametrize(("zone", "moment"), list(every_transition()), ids=str)
def test_info_lists_what_the_engine_fires(
    api: tuple[Database, InProcessApi], zone: str, moment: datetime
) -> None:
    db, client = api
    pushed_at = moment - timedelta(minutes=61)
    yaml = (
        f"id: w\ntrigger: {{cron: '*/30 * * * *', timezone: {zone}}}\n"
        "steps: [{id: a, type: noop}]\n"
    )
    push_workflow(
        db, load_workflow(yaml), caller_named("t"), active=True, now=pushed_at.timestamp()
    )
    response = client.get("/api/v1/workflows/w")
    assert response.status_code == 200, response.text
    listed = [datetime.fromisoformat(t).timestamp() for t in response.json()["next_fire_times"]]
    expected = engine("*/30 * * * *", zone, pushed_at, moment + timedelta(hours=6))[:5]
    assert listed == expected
