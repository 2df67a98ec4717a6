"""A thread that dies takes its process down instead of leaving it half alive: recorded, shown
by /api/v1/health as 503, and the process stopped (leases released, jobs handed over)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from podium import threads
from podium.jobs.supervisor import Supervisor
from tests.support import running_podium


def test_the_job_supervisor_thread_dying_stops_the_process_and_fails_health(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)  # restored after
    monkeypatch.setattr(threads, "_dead", {})
    stopped = threading.Event()
    threads.stop_on_thread_death(stopped.set)

    def overflow(self: Supervisor) -> float:
        raise OverflowError("timeout is too large")  # what select() raised for an endless deadline

    monkeypatch.setattr(Supervisor, "_next_timeout", overflow)
    with running_podium(db_url, tmp_path / "data") as podium:
        assert stopped.wait(10), "the process was not told to stop"
        assert threads.dead() == {"podium-job-supervisor": "OverflowError: timeout is too large"}
        health = podium.client.get("/api/v1/health")
        assert health.status_code == 503
        assert health.json()["status"] == "failing"
        assert health.json()["dead_threads"] == ["podium-job-supervisor"]


def test_a_thread_that_ends_with_system_exit_is_not_a_death(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    monkeypatch.setattr(threads, "_dead", {})
    stopped = threading.Event()
    threads.stop_on_thread_death(stopped.set)

    def leave() -> None:
        raise SystemExit(0)

    thread = threading.Thread(target=leave)
    thread.start()
    thread.join()
    assert not stopped.is_set() and threads.dead() == {}
