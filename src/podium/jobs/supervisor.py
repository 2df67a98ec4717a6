"""Waiting for running jobs to end, and ending those that overrun or are cancelled.

One supervisor thread per worker process watches every job the worker is responsible for,
whether the worker started it or found it running after a restart. It sleeps in one
``select`` over pidfds (one per job) and a wake-up pipe, with a timeout for the nearest
deadline, so a worker with a thousand idle jobs costs nothing. Closing the supervisor leaves
the jobs running: they belong to the attempt, not to the worker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from podium.jobs import procfs
from podium.jobs.base import JobExit
from podium.jobs.layout import CONTAINER_FILE, EXIT_FILE
from podium.jobs.outcome import collect, record_exit_status
from podium.jobs.process import SHIM_RECORD_S, kill_stragglers, signal_group
from podium.vault import Redactor

logger = logging.getLogger(__name__)

OnExit = Callable[[str, JobExit, str | None], None]
"""``on_exit(attempt_id, job_exit, reason)``; reason is "timeout", "cancelled:<why>" or None."""

POLL_INTERVAL_S = 0.2
"""Only used for jobs whose pidfd could not be opened (old kernels, seccomp)."""


MAX_WAIT_S = 60.0
"""The longest the supervisor sleeps while it watches jobs with deadlines or pending kills."""


@dataclass
class _Watch:
    attempt_id: str
    pid: int
    pid_start: int
    attempt_dir: Path
    outputs: tuple[str, ...]
    deadline: float | None
    on_exit: OnExit
    redactor: Redactor | None = None
    pidfd: int | None = None
    reason: str | None = None
    kill_stragglers_at: float | None = None
    kill_all_at: float | None = None
    polled: bool = False


class Supervisor:
    """Calls each watched job's ``on_exit`` exactly once, from its own daemon thread."""

    def __init__(self, grace_s: float = 5.0) -> None:
        self.grace_s = grace_s
        self._lock = threading.Lock()
        self._incoming: list[_Watch] = []
        self._cancels: list[tuple[str, str]] = []
        self._active: set[str] = set()
        self._stopping = False
        self._pipe_closed = False
        self._watches: dict[str, _Watch] = {}  # owned by the supervisor thread
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._run, name="podium-job-supervisor", daemon=True)
        self._thread.start()

    def watch(
        self,
        attempt_id: str,
        pid: int,
        pid_start: int,
        attempt_dir: Path,
        outputs: Sequence[str],
        deadline: float | None,
        on_exit: OnExit,
        redactor: Redactor | None = None,
    ) -> None:
        """Watch a job until it ends; ``deadline`` is wall-clock epoch seconds (or None).

        The job may be our child or one found after a restart; if it has already ended,
        ``on_exit`` is called at once. A second watch of the same attempt is ignored.
        ``redactor`` masks secrets in the job's files once it ended, before they are read.
        """
        item = _Watch(
            attempt_id, pid, pid_start, attempt_dir, tuple(outputs), deadline, on_exit, redactor
        )
        with self._lock:
            if self._stopping:
                raise RuntimeError("this supervisor is closed")
            if attempt_id in self._active:
                logger.warning(
                    "attempt %s is already watched",
                    attempt_id,
                    extra={"event": "job_watch_duplicate", "attempt_id": attempt_id},
                )
                return
            self._active.add(attempt_id)
            self._incoming.append(item)
        self._wake()

    def cancel(self, attempt_id: str, why: str) -> bool:
        """Stop a watched job (SIGTERM, SIGKILL after the grace period); its on_exit gets the
        reason ``"cancelled:<why>"``. False when this supervisor does not watch the attempt."""
        with self._lock:
            if self._stopping or attempt_id not in self._active:
                return False
            self._cancels.append((attempt_id, why))
        self._wake()
        return True

    def watching(self) -> int:
        """How many jobs have been watched but not yet reported."""
        with self._lock:
            return len(self._active)

    def close(self) -> None:
        """Stop watching; the jobs keep running and another supervisor can re-attach to them."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
        self._wake()
        if threading.current_thread() is not self._thread:  # on_exit may close its supervisor
            self._thread.join()

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # The supervisor thread.

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            self._release()

    def _release(self) -> None:
        """The thread owns the pidfds, the selector and the pipe, so it alone closes them."""
        for item in self._watches.values():
            if item.pidfd is not None:
                os.close(item.pidfd)
        self._watches.clear()
        self._selector.close()
        with self._lock:
            self._pipe_closed = True
            os.close(self._wake_r)
            os.close(self._wake_w)

    def _loop(self) -> None:
        while True:
            timeout = self._next_timeout()
            for key, _ in self._selector.select(timeout):
                if self._stopping:  # closed, possibly by an on_exit callback: report no more
                    return
                if key.fd == self._wake_r:
                    self._drain_wake_pipe()
                else:
                    self._guarded(key.data, self._finish)
            with self._lock:
                if self._stopping:
                    return
                incoming, self._incoming = self._incoming, []
                cancels, self._cancels = self._cancels, []
            for item in incoming:
                self._guarded(item, self._add)
            for attempt_id, why in cancels:
                self._cancel(attempt_id, why)
            for item in list(self._watches.values()):
                if item.attempt_id in self._watches:
                    self._guarded(item, self._check_timers)

    def _add(self, item: _Watch) -> None:
        self._watches[item.attempt_id] = item
        try:
            item.pidfd = os.pidfd_open(item.pid)
        except ProcessLookupError:
            self._finish(item)
            return
        except OSError:
            item.polled = True
        # The pidfd names whatever process holds the pid now; make sure it is still our job.
        if not procfs.is_running(item.pid, item.pid_start):
            self._finish(item)
            return
        if item.pidfd is not None:
            try:
                self._selector.register(item.pidfd, selectors.EVENT_READ, item)
            except OSError:
                item.polled = True

    def _cancel(self, attempt_id: str, why: str) -> None:
        target = self._watches.get(attempt_id)
        if target is not None:
            self._guarded(target, lambda found: self._stop(found, f"cancelled:{why}"))

    def _check_timers(self, item: _Watch) -> None:
        if item.polled and not procfs.is_running(item.pid, item.pid_start):
            self._finish(item)
            return
        now = time.monotonic()
        if item.reason is None and item.deadline is not None and time.time() >= item.deadline:
            self._stop(item, "timeout")
        elif item.kill_stragglers_at is not None and now >= item.kill_stragglers_at:
            item.kill_stragglers_at = None
            item.kill_all_at = now + SHIM_RECORD_S
            if _owns_group(item):
                kill_stragglers(item.pid)
        elif item.kill_all_at is not None and now >= item.kill_all_at:
            item.kill_all_at = None
            if _owns_group(item):
                signal_group(item.pid, signal.SIGKILL)

    def _stop(self, item: _Watch, reason: str) -> None:
        """SIGTERM now; the SIGKILL is a timer, so one stubborn job never blocks the others."""
        if item.reason is not None:
            return
        item.reason = reason
        logger.info(
            "stopping attempt %s: %s",
            item.attempt_id,
            reason,
            extra={"event": "job_stopping", "attempt_id": item.attempt_id, "reason": reason},
        )
        if _owns_group(item):
            signal_group(item.pid, signal.SIGTERM)
        item.kill_stragglers_at = time.monotonic() + self.grace_s

    def _finish(self, item: _Watch) -> None:
        if self._watches.pop(item.attempt_id, None) is None:
            return
        if item.pidfd is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(item.pidfd)
            os.close(item.pidfd)
            item.pidfd = None
        try:
            self._clean_up_after(item)
        except Exception:
            logger.exception(
                "cleaning up after attempt %s failed",
                item.attempt_id,
                extra={"event": "job_cleanup_failed", "attempt_id": item.attempt_id},
            )
        try:
            job_exit = collect(item.attempt_dir, item.outputs, item.redactor)
        except Exception as exc:
            job_exit = JobExit(None, None, {}, f"cannot read the job's result: {exc}", "")
        try:
            item.on_exit(item.attempt_id, job_exit, item.reason)
        except Exception:
            logger.exception(
                "on_exit failed for attempt %s",
                item.attempt_id,
                extra={"event": "job_on_exit_failed", "attempt_id": item.attempt_id},
            )
        finally:
            with self._lock:
                self._active.discard(item.attempt_id)

    def _clean_up_after(self, item: _Watch) -> None:
        recorded = (item.attempt_dir / EXIT_FILE).exists()
        if (item.reason is not None or not recorded) and _owns_group(item):
            # Before reaping, while the shim's pid still pins the group id: whatever the
            # job left behind after a kill, or after its shim died without recording, goes.
            signal_group(item.pid, signal.SIGKILL)
        status = _reap(item.pid)
        if status is not None and not recorded and os.WIFSIGNALED(status):
            record_exit_status(item.attempt_dir, 128 + os.WTERMSIG(status))
        if (item.attempt_dir / CONTAINER_FILE).exists():
            # The runner of a container job died before removing its container.
            from podium.jobs import container  # the Docker client, only when there is one

            container.remove_leftover(item.attempt_dir)

    def _guarded(self, item: _Watch, action: Callable[[_Watch], None]) -> None:
        """One job's trouble is logged and never stops the thread that watches all the others."""
        try:
            action(item)
        except Exception:
            logger.exception(
                "supervising attempt %s failed",
                item.attempt_id,
                extra={"event": "job_supervision_failed", "attempt_id": item.attempt_id},
            )

    def _next_timeout(self) -> float | None:
        wall, mono = time.time(), time.monotonic()
        waits: list[float] = []
        for item in self._watches.values():
            if item.polled:
                waits.append(POLL_INTERVAL_S)
            if item.reason is None and item.deadline is not None:
                waits.append(item.deadline - wall)
            for at in (item.kill_stragglers_at, item.kill_all_at):
                if at is not None:
                    waits.append(at - mono)
        # Capped: a deadline far away (or one a clock jump made absurd) is looked at again
        # later rather than handed to select(), which refuses what does not fit its clock.
        return min(max(0.0, min(waits)), MAX_WAIT_S) if waits else None

    def _wake(self) -> None:
        with self._lock, contextlib.suppress(OSError):  # a full pipe already wakes the thread
            if not self._pipe_closed:
                os.write(self._wake_w, b"\0")

    def _drain_wake_pipe(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_r, 4096):
                pass


def _owns_group(item: _Watch) -> bool:
    """Whether signalling process group ``item.pid`` can only reach this job's processes.

    True while the shim lives (or is our unreaped zombie), and when its pid is free: Linux
    never reuses a pid that still names a process group. False once the pid is someone else's.
    """
    stat = procfs.read_stat(item.pid)
    return stat is None or stat.start_time == item.pid_start


def _reap(pid: int) -> int | None:
    """The wait status of our own child (so no zombie stays), None for anyone else's process."""
    try:
        reaped, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return status if reaped == pid else None
