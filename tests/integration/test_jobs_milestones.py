"""``podium.job.milestone`` through real processes, and reading milestones back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from podium import job
from podium.jobs import JobSpec, Supervisor, collect
from podium.jobs.layout import MILESTONES_FILE
from podium.jobs.process import job_environment
from tests.integration.test_jobs import run, spec


@pytest.fixture
def supervisor() -> Iterator[Supervisor]:
    with Supervisor(grace_s=1.0) as sup:
        yield sup


def test_python_job_records_milestones(tmp_path: Path, supervisor: Supervisor) -> None:
    script = """
from podium.job import milestone
milestone("started")
milestone("loaded 10 rows")
milestone("x" * 5000)
"""
    before = time.time()
    result = run(supervisor, spec(tmp_path, script, step_type="python"))
    assert result.succeeded, result.log_tail
    assert [text for _, text in result.milestones] == ["started", "loaded 10 rows", "x" * 1000]
    times = [at for at, _ in result.milestones]
    assert times == sorted(times)
    assert before <= times[0] <= time.time()


def test_a_failed_job_keeps_its_milestones(tmp_path: Path, supervisor: Supervisor) -> None:
    script = """
from podium.job import milestone
milestone("half way")
raise SystemExit(3)
"""
    result = run(supervisor, spec(tmp_path, script, step_type="python"))
    assert result.error == "exit code 3"
    assert [text for _, text in result.milestones] == ["half way"]


def test_a_script_job_writes_milestones_itself(tmp_path: Path, supervisor: Supervisor) -> None:
    script = """
echo "{\\"at\\": $(date +%s), \\"text\\": \\"from bash\\"}" >> "$PODIUM_MILESTONES"
echo "not json" >> "$PODIUM_MILESTONES"
echo '{"at": "noon", "text": "bad time"}' >> "$PODIUM_MILESTONES"
echo '["a list"]' >> "$PODIUM_MILESTONES"
"""
    result = run(supervisor, spec(tmp_path, script))
    assert result.succeeded, result.log_tail
    assert [text for _, text in result.milestones] == ["from bash"]


def test_a_job_without_milestones_has_none(tmp_path: Path, supervisor: Supervisor) -> None:
    result = run(supervisor, spec(tmp_path, "echo quiet"))
    assert result.milestones == ()


def test_collect_caps_the_milestones(tmp_path: Path) -> None:
    lines = [json.dumps({"at": 1.5 + n, "text": f"m{n}"}) for n in range(150)]
    (tmp_path / MILESTONES_FILE).parent.mkdir()
    (tmp_path / MILESTONES_FILE).write_text("\n".join(lines) + "\n")
    (tmp_path / "exit").write_text("0\n")
    result = collect(tmp_path, ())
    assert len(result.milestones) == 100
    assert result.milestones[0] == (1.5, "m0")
    assert result.milestones[-1] == (100.5, "m99")


def test_collect_reads_milestones_of_a_vanished_job(tmp_path: Path) -> None:
    (tmp_path / MILESTONES_FILE).parent.mkdir()
    (tmp_path / MILESTONES_FILE).write_text(json.dumps({"at": 2, "text": "before"}) + "\n")
    result = collect(tmp_path, ())
    assert result.vanished
    assert result.milestones == ((2.0, "before"),)


def test_milestone_outside_a_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PODIUM_MILESTONES", raising=False)
    with pytest.raises(job.NotInJob, match="PODIUM_MILESTONES"):
        job.milestone("nowhere")


def test_milestone_appends_json_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / MILESTONES_FILE
    path.parent.mkdir()
    monkeypatch.setenv("PODIUM_MILESTONES", str(path))
    job.milestone("one")
    job.milestone("día [two]")
    with pytest.raises(TypeError, match="string"):
        job.milestone(3)  # type: ignore[arg-type]
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    assert [e["text"] for e in entries] == ["one", "día [two]"]
    assert all(isinstance(e["at"], float) for e in entries)


def test_job_environment_names_the_milestones_file(tmp_path: Path) -> None:
    job_spec: JobSpec = spec(tmp_path, "true")
    env = job_environment(job_spec)
    assert env["PODIUM_MILESTONES"] == str(job_spec.attempt_dir / MILESTONES_FILE)
