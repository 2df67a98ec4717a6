"""Container jobs on a real dockerd: the runner under the shim, the supervisor, the cleanup."""

from __future__ import annotations

import gc
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import docker
import pytest

from podium.definition import load_workflow
from podium.errors import PodiumError
from podium.jobs import JobExit, JobSpec, LaunchFailed, Supervisor, container, launch, procfs
from podium.jobs.container import container_name
from tests.docker_support import busybox_image, podium_containers, require_docker
from tests.integration.test_jobs_run_as import temporary_os_user

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    client = require_docker()
    yield client
    client.close()
    container.close_clients()


@pytest.fixture(scope="module")
def image(client: docker.DockerClient) -> str:
    return busybox_image(client)


class Ended:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.exit: JobExit | None = None
        self.reason: str | None = None

    def __call__(self, attempt_id: str, job_exit: JobExit, reason: str | None) -> None:
        self.exit, self.reason = job_exit, reason
        self.event.set()

    def wait(self, timeout_s: float = 30) -> JobExit:
        assert self.event.wait(timeout_s), "the job did not end"
        assert self.exit is not None
        return self.exit


@pytest.fixture
def supervisor() -> Iterator[Supervisor]:
    with Supervisor(grace_s=5.0) as sup:
        yield sup


def spec_of(
    tmp_path: Path,
    step_type: str,
    config: Mapping[str, Any],
    *,
    script: str = "",
    params: Mapping[str, Any] | None = None,
    outputs: tuple[str, ...] = (),
) -> JobSpec:
    attempt_id = f"test-{os.getpid()}-{time.monotonic_ns()}"
    return JobSpec(
        attempt_id,
        step_type,
        script,
        params or {},
        tmp_path / attempt_id,
        env={"PODIUM_STEP_ID": "s"},
        outputs=outputs,
        config=config,
    )


def start(supervisor: Supervisor, spec: JobSpec, deadline: float | None = None) -> Ended:
    ended = Ended()
    launched = launch(spec)
    supervisor.watch(
        spec.attempt_id,
        launched.pid,
        launched.pid_start,
        spec.attempt_dir,
        spec.outputs,
        deadline,
        ended,
    )
    return ended


def read_log(attempt_dir: Path) -> str:
    return (attempt_dir / "log").read_text(encoding="utf-8") if attempt_dir.exists() else ""


def wait_for(condition: Any, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_params_in_outputs_out_env_and_limits(
    tmp_path: Path, image: str, supervisor: Supervisor, client: docker.DockerClient
) -> None:
    command = (
        'echo "day=$PODIUM_PARAM_DAY greeting=$GREETING step=$PODIUM_STEP_ID"; '
        'cat "$PODIUM_PARAMS"; echo; pwd; '
        'echo "{\\"rows\\": $PODIUM_PARAM_DAY}" > "$PODIUM_OUTPUTS"; sleep 5'
    )
    config = {
        "image": image,
        "command": ["sh", "-c", command],
        "env": {"GREETING": "hi"},
        "resources": {"cpu": 0.5, "memory": "64m"},
    }
    spec = spec_of(tmp_path, "container", config, params={"day": 3}, outputs=("rows",))
    ended = start(supervisor, spec)
    name = container_name(spec.attempt_id)
    wait_for(lambda: name in podium_containers(client))
    host = client.api.inspect_container(name)["HostConfig"]
    assert host["NanoCpus"] == 500_000_000
    assert host["Memory"] == 64 * 1024 * 1024
    assert host["PidsLimit"] == 1024  # always, so a fork bomb stops in its container
    job_exit = ended.wait()
    assert job_exit.error is None, job_exit
    assert job_exit.outputs == {"rows": 3}
    log = read_log(spec.attempt_dir)
    assert "day=3 greeting=hi step=s" in log
    assert '{"day": 3}' in log
    assert "/podium/work" in log
    assert name not in podium_containers(client)


def test_log_is_streamed_while_the_container_runs(
    tmp_path: Path, image: str, supervisor: Supervisor, client: docker.DockerClient
) -> None:
    config = {"image": image, "command": ["sh", "-c", "echo first; sleep 3; echo second"]}
    spec = spec_of(tmp_path, "container", config)
    ended = start(supervisor, spec)
    wait_for(lambda: "first" in read_log(spec.attempt_dir))
    assert "second" not in read_log(spec.attempt_dir)
    assert ended.wait().error is None
    assert read_log(spec.attempt_dir).splitlines()[-1] == "second"


def test_a_failing_container_fails_the_step(
    tmp_path: Path, image: str, supervisor: Supervisor
) -> None:
    config = {"image": image, "command": ["sh", "-c", "echo broken >&2; exit 3"]}
    job_exit = start(supervisor, spec_of(tmp_path, "container", config)).wait()
    assert job_exit.exit_code == 3
    assert "broken" in job_exit.log_tail


@pytest.mark.parametrize("how", ["cancel", "timeout"])
def test_stop_and_timeout_remove_the_container(
    tmp_path: Path, image: str, supervisor: Supervisor, client: docker.DockerClient, how: str
) -> None:
    config = {"image": image, "command": ["sh", "-c", "echo up; sleep 60"]}
    spec = spec_of(tmp_path, "container", config)
    ended = start(supervisor, spec, deadline=time.time() + 2 if how == "timeout" else None)
    wait_for(lambda: "up" in read_log(spec.attempt_dir))
    if how == "cancel":
        assert supervisor.cancel(spec.attempt_id, "stopped by a test")
    job_exit = ended.wait(timeout_s=20)
    assert job_exit.signal == signal.SIGTERM
    assert ended.reason == ("timeout" if how == "timeout" else "cancelled:stopped by a test")
    assert container_name(spec.attempt_id) not in podium_containers(client)


def test_a_runner_that_died_leaves_no_container(
    tmp_path: Path, image: str, supervisor: Supervisor, client: docker.DockerClient
) -> None:
    config = {"image": image, "command": ["sh", "-c", "echo up; sleep 60"]}
    spec = spec_of(tmp_path, "container", config)
    ended = start(supervisor, spec)
    wait_for(lambda: "up" in read_log(spec.attempt_dir))
    shim = int((spec.attempt_dir / "pid").read_text().split()[0])
    runner = next(pid for pid in procfs.group_members(shim) if pid != shim)
    os.kill(runner, signal.SIGKILL)  # no chance to remove its container
    job_exit = ended.wait()
    assert job_exit.signal == signal.SIGKILL
    assert container_name(spec.attempt_id) not in podium_containers(client)


def test_script_step_in_a_container(tmp_path: Path, image: str, supervisor: Supervisor) -> None:
    script = 'echo "in $(pwd) as $PODIUM_PARAM_WHO"\necho \'{"ok": true}\' > "$PODIUM_OUTPUTS"\n'
    config = {"container": {"image": image, "env": {"MODE": "test"}}}
    spec = spec_of(tmp_path, "script", config, script=script, params={"who": "me"}, outputs=("ok",))
    job_exit = start(supervisor, spec).wait()
    assert job_exit.error is None, job_exit
    assert job_exit.outputs == {"ok": True}
    assert "in /podium/work as me" in job_exit.log_tail


def test_script_in_a_container_stops_at_the_first_failure(
    tmp_path: Path, image: str, supervisor: Supervisor
) -> None:
    config = {"container": {"image": image}}
    spec = spec_of(tmp_path, "script", config, script="false\necho not reached\n")
    job_exit = start(supervisor, spec).wait()
    assert job_exit.exit_code == 1
    assert "not reached" not in job_exit.log_tail


def test_python_step_needs_python_in_the_image(
    tmp_path: Path, image: str, supervisor: Supervisor
) -> None:
    spec = spec_of(tmp_path, "python", {"container": {"image": image}}, script="print(1)\n")
    job_exit = start(supervisor, spec).wait()
    assert job_exit.exit_code == 127
    assert "neither python3 nor python" in job_exit.log_tail


def test_missing_image_is_a_launch_failure_with_the_fix(tmp_path: Path, image: str) -> None:
    spec = spec_of(tmp_path, "container", {"image": "podium-test-no-such-image:1"})
    with pytest.raises(LaunchFailed, match="docker import"):
        launch(spec)
    assert not spec.attempt_dir.exists()


def test_unreachable_docker_is_a_launch_failure_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    spec = spec_of(tmp_path, "container", {"image": "anything"})
    with pytest.raises(LaunchFailed, match="start the Docker daemon"):
        launch(spec)


def test_a_dead_dockers_socket_is_a_launch_failure_that_leaks_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dockerd died and left its socket file: nobody listens (a leaked client socket would
    be an error here, under ``filterwarnings = error``)."""
    path = tmp_path / "dead-docker.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as left_behind:
        left_behind.bind(str(path))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    spec = spec_of(tmp_path, "container", {"image": "anything"})
    with pytest.raises(LaunchFailed, match="nothing answers on"):
        launch(spec)
    gc.collect()


def test_a_container_runs_as_the_job_user_hardened_read_only_and_offline(
    tmp_path: Path, image: str, supervisor: Supervisor, client: docker.DockerClient
) -> None:
    script = (
        'echo "uid=$(id -u) gid=$(id -g)"\n'
        "touch /podium/work/mine\n"
        "if touch /planted 2>/dev/null; then echo WROTE_ROOTFS; fi\n"
        "touch /tmp/scratch && echo TMP_OK\n"
        'cat "$PODIUM_ASSETS/key"; echo\n'
        'echo \'{"ok": true}\' > "$PODIUM_OUTPUTS"\n'
        "sleep 3\n"
    )
    options = {"image": image, "read_only": True, "network": "none"}
    with temporary_os_user() as user:
        spec = replace(
            spec_of(tmp_path, "script", {"container": options}, script=script, outputs=("ok",)),
            run_as=user,
            assets={"key": b"s3cret"},
        )
        ended = start(supervisor, spec)
        name = container_name(spec.attempt_id)
        wait_for(lambda: name in podium_containers(client))
        inspected = client.api.inspect_container(name)
        job_exit = ended.wait()
        assert job_exit.error is None, job_exit.log_tail
        assert (spec.attempt_dir / "work" / "mine").stat().st_uid == user.uid
    assert inspected["Config"]["User"] == f"{user.uid}:{user.gid}"
    host = inspected["HostConfig"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["CapDrop"] == ["ALL"]
    assert host["ReadonlyRootfs"] is True
    assert host["NetworkMode"] == "none"
    assert "/tmp" in host["Tmpfs"]
    assert job_exit.outputs == {"ok": True}
    log = read_log(spec.attempt_dir)
    assert f"uid={user.uid} gid={user.gid}" in log
    assert "TMP_OK" in log and "s3cret" in log
    assert "WROTE_ROOTFS" not in log
    assert not (spec.attempt_dir / "assets").exists()


def test_containers_drop_capabilities_by_default(
    tmp_path: Path, image: str, supervisor: Supervisor, client: docker.DockerClient
) -> None:
    config = {"image": image, "command": ["sh", "-c", "sleep 2"], "read_only": True}
    spec = spec_of(tmp_path, "container", config)
    ended = start(supervisor, spec)
    name = container_name(spec.attempt_id)
    wait_for(lambda: name in podium_containers(client))
    inspected = client.api.inspect_container(name)
    assert ended.wait().error is None
    assert inspected["Config"]["User"] == f"{os.getuid()}:{os.getgid()}"
    assert "no-new-privileges" in inspected["HostConfig"]["SecurityOpt"]
    assert inspected["HostConfig"]["CapDrop"] == ["ALL"]
    assert inspected["HostConfig"]["ReadonlyRootfs"] is True
    assert inspected["HostConfig"]["NetworkMode"] != "none"


def test_bad_hardening_options_fail_the_launch(tmp_path: Path, image: str) -> None:
    config = {"container": {"image": image, "network": "host"}}
    with pytest.raises(LaunchFailed, match="network one of bridge, none"):
        launch(spec_of(tmp_path, "script", config, script="true"))


def _one_step(body: str) -> str:
    return f"id: w\nsteps:\n  - {{id: a, {body}}}\n"


def test_read_only_and_network_are_validated() -> None:
    wf = load_workflow(
        _one_step(
            "type: script, script: 'true', container: {image: x, read_only: true, network: none}"
        )
    )
    options = wf.steps[0].container
    assert options is not None and options.read_only is True and options.network == "none"
    step = load_workflow(_one_step("type: container, image: x, read_only: true, network: bridge"))
    assert step.steps[0].read_only is True and step.steps[0].network == "bridge"
    bad = {
        "type: container, image: x, network: host": "bad network 'host': give 'none'",
        "type: script, script: 'true', container: {image: x, read_only: 'yes'}": "bad read_only",
        "type: script, script: 'true', read_only: true": "key 'read_only' does not apply",
    }
    for body, message in bad.items():
        with pytest.raises(PodiumError, match=message):
            load_workflow(_one_step(body))


def test_the_operators_limits_apply_to_a_step_that_names_none(
    tmp_path: Path,
    image: str,
    supervisor: Supervisor,
    client: docker.DockerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PODIUM_CONTAINER_PIDS", "64")
    monkeypatch.setenv("PODIUM_CONTAINER_CPU", "0.25")
    monkeypatch.setenv("PODIUM_CONTAINER_MEMORY", "32m")
    config = {"image": image, "command": ["sh", "-c", "sleep 3"]}
    spec = spec_of(tmp_path, "container", config)
    ended = start(supervisor, spec)
    name = container_name(spec.attempt_id)
    wait_for(lambda: name in podium_containers(client))
    host = client.api.inspect_container(name)["HostConfig"]
    assert (host["PidsLimit"], host["NanoCpus"], host["Memory"]) == (64, 250_000_000, 32 << 20)
    assert ended.wait().error is None
    monkeypatch.setenv("PODIUM_CONTAINER_PIDS", "lots")
    refused = spec_of(tmp_path / "again", "container", config)
    with pytest.raises(LaunchFailed, match="PODIUM_CONTAINER_PIDS must be a whole number"):
        launch(refused)
