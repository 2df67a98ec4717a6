"""Jobs run as the workflow owner's OS user: real users (useradd), real processes, real files.

A root worker switches each job to its user with setpriv inside the shim; the job owns its
working, artifacts, io and assets directories and nothing else of the attempt, and the worker
reads what the job wrote without following its symlinks.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from podium.jobs import (
    JobExit,
    JobSpec,
    LaunchFailed,
    RunAs,
    Supervisor,
    launch,
    os_identity,
    switching_users,
)
from podium.jobs.artifacts import artifact_path, list_artifacts
from podium.jobs.identity import setpriv_prefix
from podium.jobs.layout import ASSETS_DIR, PARAMS_FILE

SHADOW = Path("/etc/shadow")


def need_root() -> None:
    if not switching_users():
        pytest.skip("running jobs as other users needs a root worker (run the tests as root)")
    if shutil.which("useradd") is None or shutil.which("userdel") is None:
        pytest.skip("useradd and userdel are needed to create the test's OS users")


@contextlib.contextmanager
def temporary_os_user(podium_name: str = "alice") -> Iterator[RunAs]:
    """A fresh OS user (``podtest_<random>``, with a home), removed with ``userdel -r``."""
    need_root()
    name = f"podtest_{secrets.token_hex(4)}"
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", name], check=True)
    try:
        yield os_identity(podium_name, name)
    finally:
        subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)


@pytest.fixture(scope="module")
def user() -> Iterator[RunAs]:
    with temporary_os_user() as run_as:
        yield run_as


@pytest.fixture
def attempts() -> Iterator[Path]:
    """Attempt directories where the job's user can reach them (pytest's tmp_path is 0700)."""
    need_root()
    root = Path(tempfile.mkdtemp(prefix="podium-run-as-"))
    root.chmod(0o711)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def interpreter(user: RunAs) -> Iterator[None]:
    """Let the job's user run this Python (often under /root, which is 0700) for the module.

    Only the search bit is added, and only where it is missing; the modes are put back after.
    """
    changed: list[tuple[Path, int]] = []
    for path in _ancestors(Path(sys.executable).resolve()) + _ancestors(Path(sys.prefix)):
        mode = path.stat().st_mode
        if not mode & stat.S_IXOTH:
            changed.append((path, stat.S_IMODE(mode)))
            path.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
    check = [*setpriv_prefix(user), sys.executable, "-c", "import papermill"]
    probe = subprocess.run(check, capture_output=True, text=True, check=False)
    try:
        if probe.returncode != 0:
            pytest.fail(f"the job's user cannot run {sys.executable}: {probe.stderr}")
        yield
    finally:
        for path, mode in reversed(changed):
            path.chmod(mode)


def _ancestors(path: Path) -> list[Path]:
    return [p for p in reversed(path.parents) if p != Path("/")]


class Ended:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.exit: JobExit | None = None

    def __call__(self, attempt_id: str, job_exit: JobExit, reason: str | None) -> None:
        self.exit = job_exit
        self.event.set()

    def wait(self, timeout_s: float = 60) -> JobExit:
        assert self.event.wait(timeout_s), "the job did not end"
        assert self.exit is not None
        return self.exit


@pytest.fixture
def supervisor() -> Iterator[Supervisor]:
    with Supervisor(grace_s=1.0) as sup:
        yield sup


def spec(
    attempts: Path,
    script: str,
    run_as: RunAs | None,
    *,
    step_type: str = "script",
    params: Mapping[str, Any] | None = None,
    outputs: Sequence[str] = (),
    config: Mapping[str, Any] | None = None,
    assets: Mapping[str, bytes] | None = None,
) -> JobSpec:
    attempt_id = f"a{secrets.token_hex(4)}"
    return JobSpec(
        attempt_id=attempt_id,
        step_type=step_type,
        script=script,
        params=params or {},
        attempt_dir=attempts / attempt_id,
        env={"PODIUM_STEP_ID": "s"},
        outputs=outputs,
        config=config or {},
        run_as=run_as,
        assets=assets or {},
    )


def start(supervisor: Supervisor, job_spec: JobSpec) -> Ended:
    ended = Ended()
    launched = launch(job_spec)
    supervisor.watch(
        job_spec.attempt_id,
        launched.pid,
        launched.pid_start,
        job_spec.attempt_dir,
        job_spec.outputs,
        None,
        ended,
    )
    return ended


def run(supervisor: Supervisor, job_spec: JobSpec) -> JobExit:
    return start(supervisor, job_spec).wait()


SCRIPT = r"""
attempt=$(dirname "$PODIUM_ARTIFACTS")
id -un > who
echo "user=$PODIUM_USER env_user=$USER logname=$LOGNAME home=$HOME"
grep -E '^(Uid|Gid|CapEff):' /proc/self/status
for f in exit pid log script; do
    if (echo forged > "$attempt/$f") 2>/dev/null; then echo "WROTE $f"; fi
    if [ -e "$attempt/$f" ] && rm -f "$attempt/$f" 2>/dev/null && [ ! -e "$attempt/$f" ]; then
        echo "REMOVED $f"
    fi
done
if mv "$attempt/pid" "$attempt/pid.moved" 2>/dev/null; then echo "RENAMED pid"; fi
if ln -s /etc/shadow "$attempt/exit.tmp" 2>/dev/null; then echo "PLANTED exit.tmp"; fi
if (echo 0 > "$attempt/exit.tmp") 2>/dev/null; then echo "WROTE exit.tmp"; fi
echo '{"at": 1.5, "text": "halfway"}' >> "$PODIUM_MILESTONES"
echo "{\"who\": \"$(id -un)\", \"day\": $PODIUM_PARAM_DAY}" > "$PODIUM_OUTPUTS"
echo kept > "$PODIUM_ARTIFACTS/report.txt"
echo "params file $(stat -c '%u %a' "$PODIUM_PARAMS")"
"""


def test_a_script_runs_as_the_mapped_user_and_cannot_touch_the_attempt_files(
    attempts: Path, user: RunAs, supervisor: Supervisor
) -> None:
    job_spec = spec(attempts, SCRIPT, user, params={"day": 3}, outputs=("who", "day"))
    job_exit = run(supervisor, job_spec)
    attempt = job_spec.attempt_dir
    assert job_exit.error is None, job_exit.log_tail
    assert job_exit.outputs == {"who": user.os_user, "day": 3}
    assert job_exit.milestones == ((1.5, "halfway"),)
    assert (attempt / "work" / "who").read_text().strip() == user.os_user
    assert (attempt / "work" / "who").stat().st_uid == user.uid
    assert (attempt / "artifacts" / "report.txt").stat().st_uid == user.uid
    log = (attempt / "log").read_text()
    assert f"user=alice env_user={user.os_user} logname={user.os_user} home={user.home}" in log
    uids = next(line for line in log.splitlines() if line.startswith("Uid:")).split()[1:]
    assert uids == [str(user.uid)] * 4  # real, effective, saved and filesystem
    assert "CapEff:\t0000000000000000" in log
    for forged in ("WROTE", "REMOVED", "RENAMED", "PLANTED"):
        assert forged not in log
    assert (attempt / "exit").read_text().strip() == "0"
    assert (attempt / "pid").stat().st_uid == 0
    assert (attempt / "exit").stat().st_uid == 0
    assert not (attempt / "exit.tmp").is_symlink()
    # While the job ran, its params file was its own and 0600; once it ended, it is gone.
    assert f"params file {user.uid} 600" in log
    assert not (attempt / PARAMS_FILE).exists()
    assert stat.S_IMODE(attempt.stat().st_mode) == 0o711


def test_a_python_job_runs_as_the_user_with_podium_job(
    attempts: Path, user: RunAs, supervisor: Supervisor, interpreter: None
) -> None:
    script = (
        "import os\n"
        "from podium import job\n"
        "job.milestone('started')\n"
        "job.set_output('uid', os.getuid())\n"
        "job.set_output('greeting', job.param('greeting'))\n"
        "open('made-by-python', 'w').close()\n"
    )
    job_spec = spec(
        attempts, script, user, step_type="python", params={"greeting": "hi"}, outputs=("uid",)
    )
    job_exit = run(supervisor, job_spec)
    assert job_exit.error is None, job_exit.log_tail
    assert job_exit.outputs == {"uid": user.uid, "greeting": "hi"}
    assert [text for _, text in job_exit.milestones] == ["started"]
    assert (job_spec.attempt_dir / "work" / "made-by-python").stat().st_uid == user.uid


def test_a_notebook_runs_as_the_user(
    attempts: Path, user: RunAs, supervisor: Supervisor, interpreter: None
) -> None:
    cells = [
        {
            "cell_type": "code",
            "metadata": {"tags": ["parameters"]},
            "source": "day = 0",
            "outputs": [],
            "execution_count": None,
        },
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": "import os, pwd\nfrom podium import job\n"
            "job.set_output('who', pwd.getpwuid(os.getuid()).pw_name)\n"
            "job.set_output('day', day)\nprint('ran as', os.getuid())",
        },
    ]
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    config = {"path": "report.ipynb", "notebook": notebook}
    job_spec = spec(
        attempts,
        "",
        user,
        step_type="notebook",
        params={"day": 7},
        outputs=("who",),
        config=config,
    )
    job_exit = run(supervisor, job_spec)
    assert job_exit.error is None, job_exit.log_tail
    assert job_exit.outputs == {"who": user.os_user, "day": 7}
    assert f"ran as {user.uid}" in job_exit.log_tail
    executed = artifact_path(job_spec.attempt_dir, "report.ipynb")
    assert executed is not None and executed.stat().st_uid == user.uid
    assert list_artifacts(job_spec.attempt_dir) == ["report.ipynb"]


def test_a_failing_notebook_reports_its_cell_as_the_user(
    attempts: Path, user: RunAs, supervisor: Supervisor, interpreter: None
) -> None:
    cells: list[dict[str, Any]] = [
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": "1 / 0",
        }
    ]
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    job_spec = spec(
        attempts, "", user, step_type="notebook", config={"path": "x.ipynb", "notebook": notebook}
    )
    job_exit = run(supervisor, job_spec)
    assert job_exit.error is not None
    assert job_exit.error.startswith("cell 1 failed: ZeroDivisionError"), job_exit.error


def test_assets_are_the_users_while_the_job_runs_and_gone_after(
    attempts: Path, user: RunAs, supervisor: Supervisor
) -> None:
    script = (
        'cat "$PODIUM_ASSETS/jars/etl.jar"; echo\n'
        'stat -c "%a %u %n" "$PODIUM_ASSETS" "$PODIUM_ASSETS/jars" "$PODIUM_ASSETS/jars/etl.jar"\n'
        'echo "{\\"key\\": \\"$(cat "$PODIUM_ASSETS/key")\\"}" > "$PODIUM_OUTPUTS"\n'
    )
    assets = {"jars/etl.jar": b"JAR-BYTES", "key": b"s3cret"}
    job_spec = spec(attempts, script, user, outputs=("key",), assets=assets)
    job_exit = run(supervisor, job_spec)
    assert job_exit.error is None, job_exit.log_tail
    assert job_exit.outputs == {"key": "s3cret"}
    assets_dir = job_spec.attempt_dir / ASSETS_DIR
    assert "JAR-BYTES" in job_exit.log_tail
    assert f"700 {user.uid} {assets_dir}\n" in job_exit.log_tail + "\n"
    assert f"700 {user.uid} {assets_dir}/jars\n" in job_exit.log_tail + "\n"
    assert f"600 {user.uid} {assets_dir}/jars/etl.jar" in job_exit.log_tail
    assert not os.path.lexists(assets_dir)


def test_assets_of_a_job_killed_with_its_shim_are_removed_when_collected(
    attempts: Path, user: RunAs, supervisor: Supervisor
) -> None:
    job_spec = spec(attempts, "echo up; sleep 60", user, assets={"key": b"s3cret"})
    ended = start(supervisor, job_spec)
    log = job_spec.attempt_dir / "log"
    for _ in range(200):
        if "up" in log.read_text():
            break
        threading.Event().wait(0.05)
    assert (job_spec.attempt_dir / ASSETS_DIR / "key").exists()
    pid = int((job_spec.attempt_dir / "pid").read_text().split()[0])
    os.killpg(pid, signal.SIGKILL)  # the shim too: it cannot remove the assets
    job_exit = ended.wait()
    assert job_exit.signal == signal.SIGKILL
    assert not os.path.lexists(job_spec.attempt_dir / ASSETS_DIR)


def test_the_worker_does_not_follow_the_jobs_symlinks_or_block_on_its_fifos(
    attempts: Path, user: RunAs, supervisor: Supervisor
) -> None:
    secret = SHADOW.read_text()
    script = (
        'ln -s /etc/shadow "$PODIUM_OUTPUTS"\n'
        'mkfifo "$PODIUM_MILESTONES"\n'
        'ln -s /etc/shadow "$(dirname "$PODIUM_OUTPUTS")/error"\n'
        'ln -s /etc/shadow "$PODIUM_ARTIFACTS/shadow.ipynb"\n'
        'mkdir "$PODIUM_ARTIFACTS/etc"; ln -s /etc "$PODIUM_ARTIFACTS/link"\n'
        'mkfifo "$PODIUM_ARTIFACTS/pipe"; echo fine > "$PODIUM_ARTIFACTS/etc/ok.txt"\n'
        "exit 4\n"
    )
    job_spec = spec(attempts, script, user)
    job_exit = run(
        supervisor,
        job_spec,
    )
    assert job_exit.exit_code == 4
    assert job_exit.error == "exit code 4"
    assert job_exit.outputs == {}
    assert job_exit.milestones == ()
    assert "root:" not in repr(job_exit) and secret not in repr(job_exit)
    assert list_artifacts(job_spec.attempt_dir) == ["etc/ok.txt"]
    assert artifact_path(job_spec.attempt_dir, "shadow.ipynb") is None
    assert artifact_path(job_spec.attempt_dir, "link/shadow") is None
    assert artifact_path(job_spec.attempt_dir, "pipe") is None
    assert artifact_path(job_spec.attempt_dir, "../log") is None


def test_outputs_through_a_symlink_of_a_succeeding_job_are_no_outputs(
    attempts: Path, user: RunAs, supervisor: Supervisor
) -> None:
    job_spec = spec(attempts, 'ln -s /etc/shadow "$PODIUM_OUTPUTS"', user, outputs=("x",))
    job_exit = run(supervisor, job_spec)
    assert job_exit.outputs == {}
    assert job_exit.error == "output 'x' was declared but not returned"


def test_run_as_root_runs_as_root(attempts: Path, supervisor: Supervisor) -> None:
    need_root()
    root = os_identity("admin", "root")
    job_spec = spec(attempts, 'echo "{\\"uid\\": $(id -u)}" > "$PODIUM_OUTPUTS"', root)
    job_exit = run(supervisor, job_spec)
    assert job_exit.error is None, job_exit.log_tail
    assert job_exit.outputs == {"uid": 0}


def test_podium_user_is_set_without_switching(tmp_path: Path, supervisor: Supervisor) -> None:
    """run_as None: as today, no PODIUM_USER; with run_as, the name is in the environment."""
    me = os_identity("bob", "root") if os.geteuid() == 0 else None
    script = 'echo "{\\"user\\": \\"${PODIUM_USER:-none}\\"}" > "$PODIUM_OUTPUTS"'
    plain = run(supervisor, spec(tmp_path, script, None))
    assert plain.outputs == {"user": "none"}
    if me is not None:
        assert run(supervisor, spec(tmp_path, script, me)).outputs == {"user": "bob"}


def test_there_is_no_such_os_user() -> None:
    with pytest.raises(LaunchFailed, match=r"no OS user 'podtest_absent_user'.*'carol'"):
        os_identity("carol", "podtest_absent_user")


@pytest.mark.parametrize("name", ["/etc/passwd", "../x", "a/../b", "a//b", "", "a/", "./a"])
def test_asset_paths_must_stay_in_the_assets_directory(tmp_path: Path, name: str) -> None:
    job_spec = spec(tmp_path, "true", None, assets={name: b"x"})
    with pytest.raises(LaunchFailed, match=r"asset .* cannot be written"):
        launch(job_spec)
    assert not job_spec.attempt_dir.exists()  # refused before the claim


def test_assets_without_switching(tmp_path: Path, supervisor: Supervisor) -> None:
    job_spec = spec(
        tmp_path, 'cat "$PODIUM_ASSETS/conf/app.ini"', None, assets={"conf/app.ini": b"[x]"}
    )
    job_exit = run(supervisor, job_spec)
    assert job_exit.error is None, job_exit.log_tail
    assert job_exit.log_tail == "[x]"
    assert not (job_spec.attempt_dir / ASSETS_DIR).exists()
    assert json.loads(json.dumps(job_exit.outputs)) == {}
