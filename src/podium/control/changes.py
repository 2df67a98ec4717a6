"""In-process news that a cron trigger changed, so a scheduler in the same process looks
again at once (other processes hear it through PostgreSQL's NOTIFY)."""

from __future__ import annotations

import threading
from collections.abc import Callable

_listeners: list[Callable[[], None]] = []
_lock = threading.Lock()


def subscribe(listener: Callable[[], None]) -> None:
    with _lock:
        _listeners.append(listener)


def unsubscribe(listener: Callable[[], None]) -> None:
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def announce() -> None:
    """Call after the transaction that changed a trigger has committed."""
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener()
