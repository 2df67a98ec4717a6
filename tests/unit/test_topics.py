"""Every kind of event the engine writes is a Topic, and docs/events.md lists each one."""

from __future__ import annotations

import re
from pathlib import Path

from podium.engine.topics import Topic

EVENTS_DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_every_topic_is_documented() -> None:
    first_cells = [
        line.split("|")[1] for line in EVENTS_DOC.read_text().splitlines() if line.startswith("| `")
    ]
    listed = {name for cell in first_cells for name in re.findall(r"`([a-z_]+\.[a-z_]+)`", cell)}
    assert {t.value for t in Topic} - listed == set()


def test_a_topic_is_stored_as_its_plain_name() -> None:
    assert Topic.STEP_STATUS.value == "step.status"
    assert str(Topic.TRIGGER_FAILED) == "trigger.failed"
