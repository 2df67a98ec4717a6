"""Script and python jobs as real processes: environment, params, outputs, errors, logs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from podium import job
from podium.jobs import (
    AlreadyLaunched,
    JobExit,
    JobSpec,
    LaunchFailed,
    ProbeState,
    Supervisor,
    collect,
    launch,
    log_tail,
    probe,
    read_log,
)


class Exits:
    """An on_exit callback that lets the test wait for each attempt's result."""

    def __init__(self) -> None:
        self._done: dict[str, threading.Event] = {}
        self.results: dict[str, tuple[JobExit, str | None]] = {}
        self.calls = 0

    def __call__(self, attempt_id: str, job_exit: JobExit, reason: str | None) -> None:
        self.calls += 1
        self.results[attempt_id] = (job_exit, reason)
        self._event(attempt_id).set()

    def _event(self, attempt_id: str) -> threading.Event:
        return self._done.setdefault(attempt_id, threading.Event())

    def wait(self, attempt_id: str, timeout_s: float = 5.0) -> tuple[JobExit, str | None]:
        assert self._event(attempt_id).wait(timeout_s), f"{attempt_id} did not end"
        return self.results[attempt_id]


@pytest.fixture
def supervisor() -> Iterator[Supervisor]:
    with Supervisor(grace_s=1.0) as sup:
        yield sup


def spec(
    tmp_path: Path,
    script: str,
    *,
    step_type: str = "script",
    params: Mapping[str, Any] | None = None,
    outputs: Sequence[str] = (),
    attempt_id: str = "a1",
) -> JobSpec:
    return JobSpec(
        attempt_id=attempt_id,
        step_type=step_type,
        script=script,
        params=params or {},
        attempt_dir=tmp_path / "attempts" / attempt_id,
        env={"PODIUM_WORKFLOW_ID": "wf", "PODIUM_STEP_ID": "load", "PODIUM_ATTEMPT": "1"},
        outputs=outputs,
    )


def run(supervisor: Supervisor, job_spec: JobSpec) -> JobExit:
    exits = Exits()
    launched = launch(job_spec)
    supervisor.watch(
        job_spec.attempt_id,
        launched.pid,
        launched.pid_start,
        job_spec.attempt_dir,
        job_spec.outputs,
        None,
        exits,
    )
    job_exit, reason = exits.wait(job_spec.attempt_id)
    assert reason is None
    return job_exit


def test_script_job_sees_a_clean_environment_and_fresh_work_dir(
    tmp_path: Path, supervisor: Supervisor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKER_SECRET", "do-not-leak")
    script = """
echo "cwd=$(pwd)"
echo "files=$(ls -A | wc -l)"
echo "n=$PODIUM_PARAM_N name=$PODIUM_PARAM_NAME items=$PODIUM_PARAM_ITEMS"
echo "file=$(cat "$PODIUM_PARAMS")"
echo "workflow=$PODIUM_WORKFLOW_ID step=$PODIUM_STEP_ID"
echo "secret=${WORKER_SECRET:-none} lang=$LC_ALL unbuffered=$PYTHONUNBUFFERED"
echo '{"n": 3}' > "$PODIUM_OUTPUTS"
"""
    job_spec = spec(
        tmp_path, script, params={"n": 2, "name": "día", "items": [1, "b"]}, outputs=["n"]
    )
    result = run(supervisor, job_spec)
    assert result == JobExit(0, None, {"n": 3}, None, result.log_tail, result.ended_at)
    assert result.ended_at is not None and abs(result.ended_at - time.time()) < 5
    log = result.log_tail
    assert f"cwd={job_spec.attempt_dir / 'work'}" in log
    assert "files=0" in log
    assert 'n=2 name=día items=[1,"b"]' in log
    assert "workflow=wf step=load" in log
    assert "secret=none lang=C.UTF-8 unbuffered=1" in log
    assert json.loads(log.split("file=")[1].splitlines()[0]) == {
        "n": 2,
        "name": "día",
        "items": [1, "b"],
    }


def test_python_job_reads_params_and_returns_outputs(
    tmp_path: Path, supervisor: Supervisor
) -> None:
    script = """
import os
from podium.job import param, params, set_output
set_output("total", param("n") * 10)
set_output("keys", sorted(params()))
set_output("missing", param("nope", default="fallback"))
print("cwd", os.getcwd())
"""
    job_spec = spec(tmp_path, script, step_type="python", params={"n": 4, "day": "2024-01-01"})
    result = run(supervisor, job_spec)
    assert result.error is None, result.log_tail
    assert result.outputs == {"total": 40, "keys": ["day", "n"], "missing": "fallback"}
    assert f"cwd {job_spec.attempt_dir / 'work'}" in result.log_tail


def test_nonzero_exit_is_an_error_with_the_log_tail(tmp_path: Path, supervisor: Supervisor) -> None:
    result = run(supervisor, spec(tmp_path, "echo 'about to fail'\nexit 3"))
    assert (result.exit_code, result.signal, result.error) == (3, None, "exit code 3")
    assert not result.succeeded
    assert "about to fail" in result.log_tail


@pytest.mark.parametrize("script", ["false\necho not reached", "false | true\necho not reached"])
def test_bash_stops_at_the_first_failure(
    tmp_path: Path, supervisor: Supervisor, script: str
) -> None:
    result = run(supervisor, spec(tmp_path, script))
    assert result.exit_code == 1
    assert "not reached" not in result.log_tail


def test_python_traceback_lands_in_the_log(tmp_path: Path, supervisor: Supervisor) -> None:
    result = run(supervisor, spec(tmp_path, "raise ValueError('boom')", step_type="python"))
    assert result.error == "exit code 1"
    assert "ValueError: boom" in result.log_tail


def test_missing_declared_output_fails_the_step(tmp_path: Path, supervisor: Supervisor) -> None:
    script = "from podium.job import set_output\nset_output('a', 1)"
    job_spec = spec(tmp_path, script, step_type="python", outputs=["a", "rows"])
    result = run(supervisor, job_spec)
    assert result.exit_code == 0
    assert result.outputs == {"a": 1}
    assert result.error == "output 'rows' was declared but not returned"


@pytest.mark.parametrize("content", ["{not json", "[1, 2]"])
def test_outputs_file_must_hold_a_json_object(
    tmp_path: Path, supervisor: Supervisor, content: str
) -> None:
    result = run(supervisor, spec(tmp_path, f"echo '{content}' > \"$PODIUM_OUTPUTS\""))
    assert result.exit_code == 0
    assert result.error is not None
    assert result.error.startswith("PODIUM_OUTPUTS file is not a JSON object: ")


def test_launching_an_attempt_twice_is_refused(tmp_path: Path, supervisor: Supervisor) -> None:
    job_spec = spec(tmp_path, "exit 0")
    first = run(supervisor, job_spec)
    with pytest.raises(AlreadyLaunched):
        launch(job_spec)
    assert first.succeeded
    assert probe(job_spec.attempt_dir).state is ProbeState.EXITED


def test_bad_launches_fail_before_claiming_the_attempt(tmp_path: Path) -> None:
    with pytest.raises(LaunchFailed, match="step type 'ruby'"):
        launch(spec(tmp_path, "puts 1", step_type="ruby"))
    with pytest.raises(LaunchFailed, match="JSON"):
        launch(spec(tmp_path, "exit 0", params={"when": object()}))
    assert probe(tmp_path / "attempts" / "a1").state is ProbeState.NOT_LAUNCHED
    assert not (tmp_path / "attempts" / "a1").exists()


def test_collect_reports_an_attempt_that_recorded_no_status(tmp_path: Path) -> None:
    (tmp_path / "log").write_text("last words\n")
    result = collect(tmp_path, ["x"])
    assert result.vanished
    assert result.error is not None and "without recording an exit status" in result.error
    assert result.log_tail == "last words"


def test_log_is_readable_while_the_job_runs(tmp_path: Path, supervisor: Supervisor) -> None:
    script = """
import pathlib, time
print("first line")
while not pathlib.Path("go").exists():
    time.sleep(0.01)
print("second line")
"""
    job_spec = spec(tmp_path, script, step_type="python")
    exits = Exits()
    launched = launch(job_spec)
    supervisor.watch("a1", launched.pid, launched.pid_start, job_spec.attempt_dir, (), None, exits)
    text, offset = _read_until(job_spec.attempt_dir, 0, "first line")
    assert text == "first line\n"
    assert offset == len(b"first line\n")
    assert probe(job_spec.attempt_dir, launched.pid, launched.pid_start).state is ProbeState.RUNNING
    (job_spec.attempt_dir / "work" / "go").touch()
    exits.wait("a1")
    rest, end = read_log(job_spec.attempt_dir, offset)
    assert (rest, end) == ("second line\n", offset + len(b"second line\n"))
    assert read_log(job_spec.attempt_dir, end) == ("", end)


def _read_until(attempt_dir: Path, offset: int, needle: str) -> tuple[str, int]:
    deadline = time.monotonic() + 3
    text = ""
    while needle not in text:
        assert time.monotonic() < deadline, f"{needle!r} never appeared in the log"
        chunk, offset = read_log(attempt_dir, offset)
        text += chunk
        time.sleep(0.01)
    return text, offset


def test_read_log_does_not_split_a_character(tmp_path: Path) -> None:
    (tmp_path / "log").write_bytes("aé€b".encode())  # 1 + 2 + 3 + 1 bytes
    assert read_log(tmp_path, 0, max_bytes=2) == ("a", 1)
    assert read_log(tmp_path, 1, max_bytes=4) == ("é", 3)
    assert read_log(tmp_path, 3, max_bytes=10) == ("€b", 7)
    assert read_log(tmp_path, 1, max_bytes=1) == ("\ufffd", 2)  # too small to hold it whole
    assert read_log(tmp_path / "nowhere", 5) == ("", 5)


def test_log_tail_keeps_the_last_lines_within_a_size_cap(tmp_path: Path) -> None:
    (tmp_path / "log").write_text("".join(f"line {n}\n" for n in range(100)))
    assert log_tail(tmp_path) == "\n".join(f"line {n}" for n in range(80, 100))
    (tmp_path / "log").write_text("x" * 10_000 + "\nend\n")
    tail = log_tail(tmp_path)
    assert tail.endswith("end") and len(tail) <= 4096


def test_job_module_outside_a_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PODIUM_OUTPUTS", raising=False)
    monkeypatch.delenv("PODIUM_PARAMS", raising=False)
    with pytest.raises(job.NotInJob, match="PODIUM_OUTPUTS"):
        job.set_output("x", 1)
    with pytest.raises(job.NotInJob, match="PODIUM_PARAMS"):
        job.params()


def test_set_output_merges_and_refuses_what_json_cannot_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = tmp_path / "outputs.json"
    monkeypatch.setenv("PODIUM_OUTPUTS", str(outputs))
    outputs.write_text('{"from_bash": true}')
    job.set_output("rows", [1, 2])
    job.set_output("rows", [3])
    with pytest.raises(TypeError, match=r"'when'.*JSON-serialisable"):
        job.set_output("when", object())
    with pytest.raises(TypeError, match="JSON-serialisable"):
        job.set_output("ratio", float("nan"))
    assert json.loads(outputs.read_text()) == {"from_bash": True, "rows": [3]}
