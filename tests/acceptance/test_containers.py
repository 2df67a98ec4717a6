"""Container steps through the real ``podium`` CLI and server, on a real dockerd."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from podium.credentials import ServerAuth
from tests.docker_support import busybox_image, podium_containers, require_docker
from tests.support import free_port

from .conftest import Cli
from .test_durability import podium_process, wait_healthy, wait_instance

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    client = require_docker()
    yield client
    client.close()


@pytest.fixture(scope="module")
def image(client: docker.DockerClient) -> str:
    return busybox_image(client)


def push(cli: Cli, tmp_path: Path, yaml_text: str) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    pushed = cli("push", str(path))
    assert pushed.returncode == 0, pushed.stderr


def test_container_step_runs_with_params_outputs_and_logs(
    server_cli: Cli, tmp_path: Path, image: str
) -> None:
    push(
        server_cli,
        tmp_path,
        f"""
id: boxed
params: {{who: world}}
steps:
  - id: greet
    type: container
    image: {image}
    command: [sh, -c, 'echo "hello $PODIUM_PARAM_WHO"; echo "{{\\"n\\": 7}}" > "$PODIUM_OUTPUTS"']
    params: {{who: "${{ who }}"}}
    outputs: [n]
    resources: {{cpu: 0.5, memory: 64m}}
  - id: check
    depends_on: [greet]
    type: script
    container: {{image: {image}}}
    params: {{n: "${{ greet.n }}"}}
    script: |
      echo "got $PODIUM_PARAM_N"
""",
    )
    run = server_cli("run", "boxed", "--wait", "--json", timeout_s=120)
    assert run.returncode == 0, run.stderr + run.stdout
    doc = json.loads(run.stdout)
    assert doc["status"] == "SUCCEEDED", doc
    instance_id = str(doc["instance_id"])
    assert "hello world" in server_cli("logs", "boxed", instance_id, "greet").stdout
    assert "got 7" in server_cli("logs", "boxed", instance_id, "check").stdout


def test_stop_removes_the_running_container(
    server_cli: Cli, tmp_path: Path, image: str, client: docker.DockerClient
) -> None:
    push(
        server_cli,
        tmp_path,
        f"id: stopped\nsteps:\n  - id: long\n    type: container\n    image: {image}\n"
        "    command: [sh, -c, 'echo up; sleep 120']\n",
    )
    instance_id = server_cli("run", "stopped").stdout.strip()
    deadline = time.monotonic() + 30
    while "up" not in server_cli("logs", "stopped", instance_id, "long").stdout:
        assert time.monotonic() < deadline, "the container did not start"
        time.sleep(0.2)
    assert podium_containers(client)
    stopped = server_cli("stop", "stopped", instance_id)
    assert stopped.returncode == 0, stopped.stderr
    deadline = time.monotonic() + 30
    while True:
        doc = json.loads(server_cli("status", "stopped", instance_id, "--json").stdout)
        if doc["status"] == "STOPPED" and not podium_containers(client):
            break
        assert time.monotonic() < deadline, (doc["status"], podium_containers(client))
        time.sleep(0.2)


def container_starts(client: docker.DockerClient, since: float) -> list[str]:
    events = client.events(
        since=int(since), until=int(time.time()) + 1, decode=True, filters={"event": "start"}
    )
    return [
        e["Actor"]["Attributes"].get("name", "")
        for e in events
        if e.get("Type") == "container"
        and e["Actor"]["Attributes"].get("name", "").startswith("podium-")
    ]


def test_worker_killed_mid_container_job_reattaches_and_runs_it_once(
    tmp_path: Path, image: str, client: docker.DockerClient
) -> None:
    home = tmp_path / "home"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["server", "--port", str(port)]
    log = tmp_path / "server.log"
    yaml_text = (
        f"id: crashbox\nsteps:\n  - id: work\n    type: container\n    image: {image}\n"
        "    command: [sh, -c, 'echo run >> /podium/work/runs; sleep 4; "
        'echo "{\\"runs\\": $(cat /podium/work/runs | wc -l)}" > $PODIUM_OUTPUTS\']\n'
        "    outputs: [runs]\n"
    )
    started_at = time.time() - 1
    api = httpx.Client(base_url=url, timeout=10, auth=ServerAuth(url))
    with podium_process(args, home, log) as first:
        wait_healthy(url, first)
        api.post("/api/v1/workflows", json={"yaml": yaml_text}).raise_for_status()
        iid = api.post("/api/v1/workflows/crashbox/instances", json={}).json()["instance_id"]
        deadline = time.monotonic() + 30
        while not (running := podium_containers(client)):
            assert time.monotonic() < deadline, "the container did not start"
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert podium_containers(client), "the container must outlive the killed worker"
    with podium_process(args, home, log) as second:
        wait_healthy(url, second)
        doc = wait_instance(api, "crashbox", iid, timeout_s=60)
    api.close()
    assert doc["status"] == "SUCCEEDED", doc
    steps: list[dict[str, object]] = doc["steps"]  # type: ignore[assignment]
    (step,) = steps
    assert step["attempts"] == 1
    assert step["outputs"] == {"runs": 1}
    assert container_starts(client, started_at).count(running[0]) == 1
    assert not podium_containers(client)
