from __future__ import annotations

import json
import logging

from podium.logs import JsonFormatter, TextFormatter


def _record() -> logging.LogRecord:
    record = logging.makeLogRecord(
        {"name": "podium.worker", "levelname": "INFO", "msg": "taking over attempt"}
    )
    record.event = "attempt.takeover"
    record.attempt_id = "7-load-1"
    return record


def test_json_lines_carry_the_event_and_the_ids() -> None:
    doc = json.loads(JsonFormatter().format(_record()))
    assert doc["event"] == "attempt.takeover"
    assert doc["attempt_id"] == "7-load-1"
    assert doc["message"] == "taking over attempt"


def test_text_lines_are_compact_for_people() -> None:
    line = TextFormatter().format(_record())
    assert "taking over attempt" in line
    assert "event=attempt.takeover attempt_id=7-load-1" in line
