"""Crash and scale-out: real ``podium`` processes killed with SIGKILL mid-run."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from podium.credentials import ServerAuth
from tests.support import TERMINAL, free_port, fresh_pg_url

pytestmark = pytest.mark.slow


@contextmanager
def podium_process(
    args: list[str], home: Path, log: Path, **env: str
) -> Iterator[subprocess.Popen[bytes]]:
    full_env = {**os.environ, "PODIUM_HOME": str(home), "PODIUM_LEASE_SECONDS": "3", **env}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "podium.cli.main", *args], env=full_env, stdout=out, stderr=out
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError("server did not become healthy")


def chain_yaml(workflow_id: str, steps: int, out: Path, seconds: float) -> str:
    body = [f"id: {workflow_id}", "steps:"]
    for i in range(steps):
        body += [
            f"  - id: s{i}",
            "    type: script",
            f'    script: sleep {seconds}; echo "$PODIUM_INSTANCE_ID s{i}" >> {out}',
        ]
        if i:
            body.append(f"    depends_on: [s{i - 1}]")
    return "\n".join(body) + "\n"


def wait_instance(client: httpx.Client, wf: str, iid: int, timeout_s: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            doc = client.get(f"/api/v1/workflows/{wf}/instances/{iid}").json()
        except httpx.HTTPError:
            time.sleep(0.2)
            continue
        if doc["status"] in TERMINAL:
            return dict(doc)
        time.sleep(0.1)
    raise AssertionError(f"{wf}/{iid} did not finish in {timeout_s}s")


def running_step(client: httpx.Client, wf: str, iid: int) -> int:
    doc = client.get(f"/api/v1/workflows/{wf}/instances/{iid}").json()
    return sum(1 for s in doc["steps"] if s["status"] == "SUCCEEDED")


def test_server_killed_mid_run_loses_and_repeats_nothing(tmp_path: Path) -> None:
    out = tmp_path / "lines"
    home = tmp_path / "home"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server_args = ["server", "--port", str(port)]
    log = tmp_path / "server.log"
    client = httpx.Client(base_url=url, timeout=10, auth=ServerAuth(url))
    with podium_process(server_args, home, log) as first:
        wait_healthy(url, first)
        client.post(
            "/api/v1/workflows", json={"yaml": chain_yaml("crash", 20, out, 1)}
        ).raise_for_status()
        iid = client.post("/api/v1/workflows/crash/instances", json={}).json()["instance_id"]
        while running_step(client, "crash", iid) < 4:
            time.sleep(0.1)
        time.sleep(0.5)  # mid-step: a job is running
        first.send_signal(signal.SIGKILL)
        first.wait()
    lines_at_kill = out.read_text().splitlines()
    time.sleep(1.5)  # the running job finishes while no engine is up
    with podium_process(server_args, home, log) as second:
        wait_healthy(url, second)
        doc = wait_instance(client, "crash", iid, timeout_s=120)
        # A second kill, right after a restart, while work is being taken over.
        second.send_signal(signal.SIGKILL)
        second.wait()
    assert doc["status"] == "SUCCEEDED", doc
    lines = out.read_text().splitlines()
    assert lines == [f"{iid} s{i}" for i in range(20)], lines
    assert 4 <= len(lines_at_kill) < 20
    steps = {s["id"]: s for s in doc["steps"]}  # type: ignore[attr-defined]
    assert all(s["attempts"] == 1 for s in steps.values())
    client.close()


def test_scale_out_two_workers_one_killed(tmp_path: Path) -> None:
    out = tmp_path / "lines"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "podium.log"
    with fresh_pg_url() as db_url:
        with (
            podium_process(
                ["api", "--db", db_url, "--port", str(port)], tmp_path / "api", log
            ) as api,
            podium_process(
                ["worker", "--db", db_url],
                tmp_path / "w1",
                log,
                PODIUM_DATA_DIR=str(tmp_path / "data"),
            ) as w1,
            podium_process(
                ["worker", "--db", db_url],
                tmp_path / "w2",
                log,
                PODIUM_DATA_DIR=str(tmp_path / "data"),
            ) as w2,
            httpx.Client(base_url=url, timeout=30, auth=ServerAuth(url)) as client,
        ):
            wait_healthy(url, api)
            client.post(
                "/api/v1/workflows", json={"yaml": chain_yaml("wide", 10, out, 0.2)}
            ).raise_for_status()
            ids = [
                client.post("/api/v1/workflows/wide/instances", json={}).json()["instance_id"]
                for _ in range(50)
            ]
            deadline = time.monotonic() + 60
            while len(out.read_text().splitlines() if out.exists() else []) < 100:
                assert time.monotonic() < deadline
                time.sleep(0.1)
            w1.send_signal(signal.SIGKILL)
            w1.wait()
            docs = [wait_instance(client, "wide", iid, timeout_s=180) for iid in ids]
            assert w2.poll() is None
        assert all(d["status"] == "SUCCEEDED" for d in docs), [d["status"] for d in docs]
        lines = collections.Counter(out.read_text().splitlines())
        expected = {f"{iid} s{i}" for iid in ids for i in range(10)}
        assert set(lines) == expected
        assert all(count == 1 for count in lines.values()), [k for k, c in lines.items() if c > 1]
        engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as conn:
            workers = (
                conn.execute(sa.text("SELECT DISTINCT worker_id FROM attempts")).scalars().all()
            )
            retries = (
                conn.execute(sa.text("SELECT detail FROM timeline WHERE event = 'step.retry'"))
                .scalars()
                .all()
            )
        engine.dispose()
        assert len(workers) == 2, workers
        # A second attempt is allowed only where the killed worker died between claiming an
        # attempt and starting its job: that attempt never ran (each line is there once).
        for detail in retries:
            message = (detail if isinstance(detail, dict) else json.loads(detail))["error"][
                "message"
            ]
            assert "died before the job started" in message, message


def test_instances_finish_while_the_api_is_down(tmp_path: Path) -> None:
    out = tmp_path / "lines"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "podium.log"
    api_args = ["api", "--db", "", "--port", str(port)]
    with fresh_pg_url() as db_url:
        api_args[2] = db_url
        with (
            podium_process(["worker", "--db", db_url], tmp_path / "w", log),
            httpx.Client(base_url=url, timeout=30, auth=ServerAuth(url)) as client,
        ):
            with podium_process(api_args, tmp_path / "api", log) as api:
                wait_healthy(url, api)
                client.post(
                    "/api/v1/workflows", json={"yaml": chain_yaml("headless", 4, out, 0.5)}
                ).raise_for_status()
                iid = client.post("/api/v1/workflows/headless/instances", json={}).json()[
                    "instance_id"
                ]
                while not out.exists():
                    time.sleep(0.05)
                api.send_signal(signal.SIGKILL)
                api.wait()
            # No API at all now: the worker carries on alone.
            deadline = time.monotonic() + 30
            while len(out.read_text().splitlines()) < 4:
                assert time.monotonic() < deadline, out.read_text()
                time.sleep(0.1)
            with podium_process(api_args, tmp_path / "api", log) as api:
                wait_healthy(url, api)
                doc = wait_instance(client, "headless", iid, timeout_s=30)
    assert doc["status"] == "SUCCEEDED"
    assert out.read_text().splitlines() == [f"{iid} s{i}" for i in range(4)]


def test_a_second_engine_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = free_port()
    with podium_process(["server", "--port", str(port)], home, tmp_path / "first.log") as first:
        wait_healthy(f"http://127.0.0.1:{port}", first)
        second = subprocess.run(
            [sys.executable, "-m", "podium.cli.main", "server", "--port", str(free_port())],
            env={**os.environ, "PODIUM_HOME": str(home)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert first.poll() is None
    assert second.returncode == 1
    assert "another Podium engine already runs on" in second.stderr


def test_a_secret_stays_hidden_when_the_engine_dies_while_its_job_runs(tmp_path: Path) -> None:
    """The job outlives a SIGKILLed server; the next server takes the attempt over, opens the
    instance's sealed params with the same master key and masks the job's files when it ends."""
    secret = f"kill9-{os.urandom(12).hex()}"
    gate = tmp_path / "gate"
    gate.mkdir()
    home = tmp_path / "home"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server_args = ["server", "--port", str(port)]
    log = tmp_path / "server.log"
    client = httpx.Client(base_url=url, timeout=10, auth=ServerAuth(url))
    workflow = (
        "id: hidden\nparams:\n  pw: {type: str, secret: true, required: true}\nsteps:\n"
        "  - id: wait\n    type: script\n    outputs: [echo]\n    script: |\n"
        '      echo "started with $PODIUM_PARAM_PW"\n'
        f'      touch "{gate}/ready"\n'
        f'      while [ ! -e "{gate}/go" ]; do sleep 0.05; done\n'
        '      echo "ended with ${ pw }"\n'
        '      printf \'{"echo": "%s"}\' "$PODIUM_PARAM_PW" > "$PODIUM_OUTPUTS"\n'
    )
    with podium_process(server_args, home, log) as first:
        wait_healthy(url, first)
        client.post("/api/v1/workflows", json={"yaml": workflow}).raise_for_status()
        started = client.post("/api/v1/workflows/hidden/instances", json={"params": {"pw": secret}})
        iid = started.json()["instance_id"]
        deadline = time.monotonic() + 30
        while not (gate / "ready").exists():
            assert time.monotonic() < deadline, "the job did not start"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
    (gate / "go").touch()  # the job ends while no engine is up
    with podium_process(server_args, home, log) as second:
        wait_healthy(url, second)
        doc = wait_instance(client, "hidden", iid, timeout_s=60)
        logs = client.get(f"/api/v1/workflows/hidden/instances/{iid}/steps/wait/logs").json()
    assert doc["status"] == "SUCCEEDED", doc
    step = doc["steps"][0]  # type: ignore[index]
    assert step["attempts"] == 1 and set(step["outputs"]["echo"]) == {"*"}
    assert "started with *" in logs["text"] and "ended with *" in logs["text"]
    held = [
        path
        for path in tmp_path.rglob("*")
        if path.is_file() and not path.is_symlink() and secret.encode() in path.read_bytes()
    ]
    assert held == [], held
    client.close()


def _forward(listener: socket.socket, target: tuple[str, int], stop: threading.Event) -> None:
    """A TCP forwarder to PostgreSQL: the database "comes back" when it starts accepting."""

    def pipe(a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                b.sendall(data)
        for end in (a, b):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    opened: list[socket.socket] = []
    pipes: list[threading.Thread] = []
    listener.settimeout(0.2)
    while not stop.is_set():
        try:
            client, _ = listener.accept()
        except TimeoutError:
            continue
        server = socket.create_connection(target)
        opened += [client, server]
        for a, b in ((client, server), (server, client)):
            pipes.append(threading.Thread(target=pipe, args=(a, b), daemon=True))
            pipes[-1].start()
    for end in opened:
        with contextlib.suppress(OSError):
            end.shutdown(socket.SHUT_RDWR)
    for thread in pipes:
        thread.join(timeout=5)
    for end in opened:
        end.close()


def test_a_worker_started_while_postgresql_is_down_waits_for_it(tmp_path: Path) -> None:
    port = free_port()
    with fresh_pg_url() as real_url:
        url = real_url.replace("127.0.0.1:5432", f"127.0.0.1:{port}")
        assert url != real_url, "the test expects PostgreSQL on 127.0.0.1:5432"
        log = tmp_path / "worker.log"
        with podium_process(["worker", "--db", url], tmp_path / "w", log) as worker:
            deadline = time.monotonic() + 20
            while "waiting for the database" not in log.read_text(errors="replace"):
                assert worker.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            stop = threading.Event()
            listener = socket.create_server(("127.0.0.1", port))
            thread = threading.Thread(
                target=_forward, args=(listener, ("127.0.0.1", 5432), stop), daemon=True
            )
            thread.start()
            try:
                engine = sa.create_engine(real_url)
                try:
                    deadline = time.monotonic() + 30
                    while True:
                        with engine.connect() as conn:
                            started = conn.execute(sa.text("SELECT count(*) FROM workers")).scalar()
                        if started:
                            break
                        assert worker.poll() is None, log.read_text()
                        assert time.monotonic() < deadline, log.read_text()
                        time.sleep(0.2)
                finally:
                    engine.dispose()
                assert worker.poll() is None
                assert "Traceback" not in log.read_text()
            finally:
                stop.set()
                thread.join()
                listener.close()


def test_a_worker_gives_up_on_a_database_that_never_answers_with_a_clear_error(
    tmp_path: Path,
) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    log = tmp_path / "worker.log"
    with podium_process(
        ["worker", "--db", url], tmp_path / "w", log, PODIUM_DB_WAIT_SECONDS="2"
    ) as worker:
        assert worker.wait(timeout=30) == 1
    text = log.read_text()
    assert "waiting for the database" in text
    assert "did not answer for 2 s" in text and "PODIUM_DB_WAIT_SECONDS" in text
    assert "Traceback" not in text
