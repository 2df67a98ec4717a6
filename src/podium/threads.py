"""No thread dies silently: a Podium process that loses one stops, so its work is taken over.

A thread of the engine, the job supervisor, the scheduler or the event publisher that ends with
an exception is recorded here (``/api/v1/health`` then answers 503 naming it) and, in a
``podium`` process, stops that process the way SIGTERM does: its leases are released and its
running jobs handed over, then it exits with status 70 for its service manager to restart it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("podium.threads")

EXIT_STATUS = 70
"""The status a process exits with after one of its threads died (EX_SOFTWARE)."""

_lock = threading.Lock()
_dead: dict[str, str] = {}


def dead() -> dict[str, str]:
    """The threads that died in this process, with why."""
    with _lock:
        return dict(_dead)


def record_death(name: str, error: BaseException | None) -> None:
    with _lock:
        _dead[name] = f"{type(error).__name__}: {error}" if error is not None else "ended"


def stop_on_thread_death(stop: Callable[[], None]) -> None:
    """From now on, a thread that dies of an exception is logged, recorded and ``stop``\\ s the
    process (called once)."""
    stopped = threading.Event()

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "a thread"
        record_death(name, args.exc_value)
        try:
            log.critical(
                f"thread {name} died; stopping this process so that its work is taken over",
                exc_info=(args.exc_type, args.exc_value, args.exc_traceback),  # type: ignore[arg-type]
                extra={"event": "thread.died", "thread_name": name},
            )
        finally:
            if not stopped.is_set():
                stopped.set()
                stop()

    threading.excepthook = hook
