"""Jobs outlive their worker; the supervisor re-attaches, enforces deadlines and cancels."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from podium.jobs import (
    AlreadyLaunched,
    JobExit,
    JobSpec,
    Launched,
    Probe,
    ProbeState,
    Supervisor,
    kill_group,
    launch,
    probe,
)
from podium.jobs.procfs import read_stat


class Exits:
    def __init__(self) -> None:
        self.results: dict[str, tuple[JobExit, str | None]] = {}
        self.calls: dict[str, int] = {}
        self._done: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def __call__(self, attempt_id: str, job_exit: JobExit, reason: str | None) -> None:
        self.results[attempt_id] = (job_exit, reason)
        self.calls[attempt_id] = self.calls.get(attempt_id, 0) + 1
        self._event(attempt_id).set()

    def _event(self, attempt_id: str) -> threading.Event:
        with self._lock:
            return self._done.setdefault(attempt_id, threading.Event())

    def wait(self, attempt_id: str, timeout_s: float = 5.0) -> tuple[JobExit, str | None]:
        assert self._event(attempt_id).wait(timeout_s), f"{attempt_id} did not end"
        return self.results[attempt_id]


def job(tmp_path: Path, script: str, attempt_id: str = "a1") -> JobSpec:
    return JobSpec(attempt_id, "script", script, {}, tmp_path / attempt_id)


def gone(pid: int) -> bool:
    """Gone or a zombie: the container's init may not reap orphans."""
    stat = read_stat(pid)
    return stat is None or not stat.alive


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 3.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def wait_for_probe(attempt_dir: Path, state: ProbeState) -> Probe:
    wait_for(lambda: probe(attempt_dir).state is state, f"probe {state}")
    return probe(attempt_dir)


WAIT_FOR_GO = 'while [ ! -e go ]; do sleep 0.01; done\necho "released"\n'


def test_job_survives_the_worker_and_a_new_supervisor_reattaches(tmp_path: Path) -> None:
    attempt_dir = tmp_path / "a1"
    worker_code = textwrap.dedent(f"""
        import json, time
        from pathlib import Path
        from podium.jobs import JobSpec, launch
        launched = launch(JobSpec("a1", "script", {WAIT_FOR_GO + "exit 7"!r}, {{}}, Path({str(attempt_dir)!r})))
        print(json.dumps([launched.pid, launched.pid_start]), flush=True)
        time.sleep(60)
    """)
    with subprocess.Popen([sys.executable, "-c", worker_code], stdout=subprocess.PIPE) as worker:
        assert worker.stdout is not None
        pid, pid_start = json.loads(worker.stdout.readline())
        worker.kill()  # SIGKILL: the worker gets no chance to clean anything up
        worker.wait()

    found = wait_for_probe(attempt_dir, ProbeState.RUNNING)
    assert (found.pid, found.pid_start) == (pid, pid_start)
    with pytest.raises(AlreadyLaunched):
        launch(job(tmp_path, "echo twice"))

    exits = Exits()
    with Supervisor() as restarted:
        restarted.watch("a1", pid, pid_start, attempt_dir, (), None, exits)
        (attempt_dir / "work" / "go").touch()
        job_exit, reason = exits.wait("a1")
        assert restarted.watching() == 0
    assert (job_exit.exit_code, job_exit.error, reason) == (7, "exit code 7", None)
    assert "released" in job_exit.log_tail
    assert exits.calls == {"a1": 1}


def test_closing_the_supervisor_leaves_the_job_running(tmp_path: Path) -> None:
    spec = job(tmp_path, WAIT_FOR_GO)
    launched = launch(spec)
    first_exits, second_exits = Exits(), Exits()
    first = Supervisor()
    first.watch("a1", launched.pid, launched.pid_start, spec.attempt_dir, (), None, first_exits)
    first.close()
    assert probe(spec.attempt_dir, launched.pid, launched.pid_start).state is ProbeState.RUNNING

    with Supervisor() as second:
        second.watch(
            "a1", launched.pid, launched.pid_start, spec.attempt_dir, (), None, second_exits
        )
        (spec.attempt_dir / "work" / "go").touch()
        job_exit, _ = second_exits.wait("a1")
    assert job_exit.succeeded
    assert first_exits.calls == {}
    assert read_stat(launched.pid) is None  # our child, reaped: no zombie left behind


def test_probe_says_vanished_when_the_shim_was_killed(tmp_path: Path) -> None:
    spec = job(tmp_path, "sleep 30")
    launched = launch(spec)
    wait_for_probe(spec.attempt_dir, ProbeState.RUNNING)
    os.killpg(launched.pid, signal.SIGKILL)
    wait_for(lambda: gone(launched.pid), "the shim to die")
    assert probe(spec.attempt_dir).state is ProbeState.VANISHED

    exits = Exits()
    with Supervisor() as sup:  # the worker that reaps its child learns the signal
        sup.watch("a1", launched.pid, launched.pid_start, spec.attempt_dir, (), None, exits)
        job_exit, reason = exits.wait("a1")
    assert (job_exit.exit_code, job_exit.signal, reason) == (None, 9, None)
    assert job_exit.error == "killed by signal 9 (SIGKILL)"


def test_a_job_that_already_ended_is_reported_at_once(tmp_path: Path) -> None:
    spec = job(tmp_path, "echo done")
    launched = launch(spec)
    wait_for_probe(spec.attempt_dir, ProbeState.EXITED)
    exits = Exits()
    with Supervisor() as sup:
        sup.watch("a1", launched.pid, launched.pid_start, spec.attempt_dir, (), None, exits)
        sup.watch("a1", launched.pid, launched.pid_start, spec.attempt_dir, (), None, exits)
        job_exit, _ = exits.wait("a1")
    assert job_exit.succeeded
    assert exits.calls == {"a1": 1}


def _start_and_watch(
    tmp_path: Path, script: str, deadline: float | None, grace_s: float = 1.0
) -> tuple[Supervisor, Exits, JobSpec, Launched]:
    spec = job(tmp_path, script)
    launched = launch(spec)
    exits = Exits()
    sup = Supervisor(grace_s=grace_s)
    sup.watch("a1", launched.pid, launched.pid_start, spec.attempt_dir, (), deadline, exits)
    return sup, exits, spec, launched


def _grandchild(spec: JobSpec) -> int:
    pid_file = spec.attempt_dir / "work" / "grandchild"
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip() != "", "the grandchild")
    return int(pid_file.read_text())


def test_deadline_kills_the_whole_process_group(tmp_path: Path) -> None:
    script = "sleep 1000 &\necho $! > grandchild.tmp && mv grandchild.tmp grandchild\nwait"
    sup, exits, spec, _ = _start_and_watch(tmp_path, script, deadline=time.time() + 0.5)
    with sup:
        grandchild = _grandchild(spec)
        job_exit, reason = exits.wait("a1")
    assert reason == "timeout"
    assert (job_exit.exit_code, job_exit.signal) == (None, signal.SIGTERM)
    assert job_exit.error == "killed by signal 15 (SIGTERM)"
    wait_for(lambda: gone(grandchild), "the grandchild to die")


def test_processes_that_ignore_sigterm_get_sigkill_after_the_grace(tmp_path: Path) -> None:
    script = (
        "trap '' TERM\nsleep 1000 &\necho $! > grandchild.tmp && mv grandchild.tmp grandchild\nwait"
    )
    sup, exits, spec, _ = _start_and_watch(tmp_path, script, time.time() + 0.2, grace_s=0.3)
    with sup:
        grandchild = _grandchild(spec)
        job_exit, reason = exits.wait("a1")
    assert reason == "timeout"
    assert job_exit.error == "killed by signal 9 (SIGKILL)"
    wait_for(lambda: gone(grandchild), "the grandchild to die")


def test_cancel_stops_the_job_and_says_why(tmp_path: Path) -> None:
    sup, exits, spec, launched = _start_and_watch(tmp_path, "sleep 1000", deadline=None)
    with sup:
        wait_for_probe(spec.attempt_dir, ProbeState.RUNNING)
        assert sup.watching() == 1
        assert sup.cancel("a1", "stopped by alice")
        assert not sup.cancel("unknown", "nothing")
        job_exit, reason = exits.wait("a1")
        assert sup.watching() == 0
        assert not sup.cancel("a1", "too late")
    assert reason == "cancelled:stopped by alice"
    assert job_exit.signal == signal.SIGTERM
    assert gone(launched.pid)


def test_kill_group_stops_a_job_and_its_grandchildren(tmp_path: Path) -> None:
    script = "sleep 1000 &\necho $! > grandchild.tmp && mv grandchild.tmp grandchild\nwait"
    spec = job(tmp_path, script)
    launched = launch(spec)
    grandchild = _grandchild(spec)
    kill_group(launched.pid, launched.pid_start, grace_s=1.0)
    assert gone(grandchild)
    exits = Exits()
    with Supervisor() as sup:
        sup.watch("a1", launched.pid, launched.pid_start, spec.attempt_dir, (), None, exits)
        job_exit, _ = exits.wait("a1")
    assert job_exit.signal == signal.SIGTERM
    kill_group(launched.pid, launched.pid_start)  # already gone: harmless


def test_without_pidfds_the_supervisor_falls_back_to_polling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_pidfd(pid: int, flags: int = 0) -> int:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(os, "pidfd_open", no_pidfd)
    sup, exits, spec, _ = _start_and_watch(tmp_path, WAIT_FOR_GO + "exit 4", deadline=None)
    with sup:
        wait_for_probe(spec.attempt_dir, ProbeState.RUNNING)
        (spec.attempt_dir / "work" / "go").touch()
        job_exit, _ = exits.wait("a1")
    assert job_exit.exit_code == 4
