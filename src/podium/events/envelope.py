"""What a sink receives: one outbox row as a self-describing JSON object."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from podium.store.outbox import OutboxRow


def envelope(row: OutboxRow) -> dict[str, Any]:
    """``id`` is the outbox id: increasing, and the key consumers de-duplicate on."""
    return {
        "id": row.id,
        "at": datetime.fromtimestamp(row.at, UTC).isoformat(timespec="microseconds"),
        "topic": row.topic,
        "key": row.key,
        "payload": row.payload,
    }


def encode(row: OutboxRow) -> bytes:
    return json.dumps(envelope(row), separators=(",", ":"), sort_keys=False).encode()
