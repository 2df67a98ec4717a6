"""Secret params end to end: a param declared ``secret: true`` reaches the job, and is shown
nowhere: not in the instance's status, its steps' params and outputs, the timeline, the event
stream, the log (while the job runs and after), the rendered script, the executed notebook,
a foreach's iterations or a subworkflow; the database and the data directory never hold it
once the job ended, and the job's params file is gone. Real SQLite and PostgreSQL, real jobs,
real Papermill."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podium.vault import add_key
from tests.integration.test_assets import files_holding, rows_holding, wait_for
from tests.integration.test_notebooks import code_cell, push_file, write_notebook
from tests.support import Podium, running_podium

pytestmark = pytest.mark.slow

CHILD = """
id: child
params:
  token: {type: str}
steps:
  - id: echo
    type: script
    outputs: [sha]
    script: |
      echo "child got $PODIUM_PARAM_TOKEN"
      sum=$(printf %s "$PODIUM_PARAM_TOKEN" | sha256sum | cut -d" " -f1)
      printf '{"sha": "%s"}' "$sum" > "$PODIUM_OUTPUTS"
"""


def parent(gate: Path) -> str:
    return f"""
id: vaulted
params:
  db_password: {{type: str, secret: true, required: true}}
  user: etl
  dsn: "pg://${{ user }}:${{ db_password }}@db/sales"
steps:
  - id: use
    type: script
    outputs: [sha, echoed, mode]
    script: |
      echo "env says $PODIUM_PARAM_DB_PASSWORD"
      echo "inline says ${{ db_password }}"
      echo "dsn says $PODIUM_PARAM_DSN"
      mode=$(stat -c %a "$PODIUM_PARAMS")
      grep -q "$PODIUM_PARAM_DB_PASSWORD" "$PODIUM_PARAMS" && echo "params file has it"
      echo "waiting for the gate (this line is longer than the secret, which is masked whole)"
      touch "{gate}/ready"
      while [ ! -e "{gate}/go" ]; do sleep 0.05; done
      sum=$(printf %s "$PODIUM_PARAM_DB_PASSWORD" | sha256sum | cut -d" " -f1)
      printf '{{"sha": "%s", "echoed": "%s", "mode": "%s"}}' \\
        "$sum" "$PODIUM_PARAM_DB_PASSWORD" "$mode" > "$PODIUM_OUTPUTS"
  - id: nb
    type: notebook
    depends_on: [use]
    path: notebooks/peek.ipynb
    outputs: [length]
  - id: fan
    depends_on: [use]
    foreach:
      over: {{n: [1, 2]}}
      steps:
        - id: each
          type: script
          params: {{note: "${{ n }}:${{ db_password }}"}}
          script: echo "iteration $PODIUM_PARAM_NOTE"
  - id: sub
    depends_on: [use]
    subworkflow:
      workflow: child
      params: {{token: "${{ db_password }}"}}
  - id: fail
    depends_on: [nb, fan, sub]
    type: script
    script: |
      echo "about to fail with ${{ db_password }}"
      echo "the password ${{ db_password }} was refused" >&2
      exit 3
"""


@pytest.fixture
def secret_podium(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Podium, Path]]:
    key_file = tmp_path / "keys" / "master.key"
    add_key(key_file)
    monkeypatch.delenv("PODIUM_MASTER_KEY", raising=False)
    monkeypatch.setenv("PODIUM_MASTER_KEY_FILE", str(key_file))
    events = tmp_path / "events.jsonl"
    with running_podium(db_url, tmp_path / "data", event_sinks=[f"file://{events}"]) as podium:
        yield podium, events


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    directory = tmp_path / "flows"
    (directory / "notebooks").mkdir(parents=True)
    write_notebook(
        directory / "notebooks" / "peek.ipynb",
        code_cell("db_password = ''", "parameters"),
        code_cell("print('notebook sees', db_password)"),
        code_cell("from podium.job import set_output\nset_output('length', len(db_password))"),
    )
    return directory


def log_of(podium: Podium, iid: int, step: str, **params: Any) -> dict[str, Any]:
    response = podium.client.get(
        f"/api/v1/workflows/vaulted/instances/{iid}/steps/{step}/logs", params=params
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_secret_param_reaches_its_jobs_and_is_shown_nowhere(
    secret_podium: tuple[Podium, Path], flows: Path, tmp_path: Path
) -> None:
    podium, events = secret_podium
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    needle = secret.encode()
    gate = tmp_path / "gate"
    gate.mkdir()
    podium.push(CHILD)
    push_file(podium, flows, parent(gate))

    refused = podium.client.post(
        "/api/v1/workflows/vaulted/instances", json={"params": {"db_password": 42}}
    )
    assert refused.status_code == 400
    assert "must be of type str, not int" in refused.text and "42" not in refused.text

    dry = podium.client.post(
        "/api/v1/workflows/vaulted/dry-run", json={"params": {"db_password": secret}}
    )
    assert dry.status_code == 200, dry.text
    assert dry.json()["params"]["db_password"] == "[secret]"
    assert secret not in dry.text

    iid = podium.run("vaulted", {"db_password": secret})
    wait_for(gate / "ready")

    # While the job runs: the value is only in its attempt directory (params file, script,
    # log), and the log as the API serves it is masked.
    attempt_dirs = {p.parent for p in files_holding(tmp_path / "data", needle)}
    assert len(attempt_dirs) <= 2, attempt_dirs  # the attempt and its io/
    holding = files_holding(tmp_path, needle)
    assert holding and all("attempts" in p.parts for p in holding), holding
    assert {p.name for p in holding} <= {"params.json", "script", "log"}, holding
    assert rows_holding(podium, needle) == []
    running = log_of(podium, iid, "use")
    assert "env says " in running["text"] and secret not in running["text"]
    assert "params file has it" in running["text"]
    status = podium.status("vaulted", iid)
    assert status["params"]["db_password"] == "[secret]"
    assert status["params"]["user"] == "etl"
    assert status["params"]["dsn"].startswith("pg://etl:*") and secret not in json.dumps(status)

    (gate / "go").touch()
    doc = podium.wait("vaulted", iid)
    assert doc["status"] == "FAILED", doc
    steps = podium.steps(doc)

    # The jobs received the real value.
    assert steps["use"]["outputs"]["sha"] == hashlib.sha256(needle).hexdigest()
    assert steps["use"]["outputs"]["mode"] == "600"
    assert steps["nb"]["outputs"]["length"] == len(secret)
    assert steps["sub"]["outputs"]["echo"]["sha"] == hashlib.sha256(needle).hexdigest()
    assert steps["fan"]["status"] == "SUCCEEDED"

    # What is shown hides it: outputs, step params, errors, logs, notebook, child instances.
    assert set(steps["use"]["outputs"]["echoed"]) == {"*"}
    assert "exit code 3" in steps["fail"]["error"]["message"]
    assert "the password *" in json.dumps(steps["fail"]["error"])
    shown = json.dumps(doc)
    assert secret not in shown
    for step in ("use", "nb", "fail"):
        log = log_of(podium, iid, step)
        assert log["complete"] is False or log["text"] == ""
        assert secret not in log["text"]
    assert "inline says *" in log_of(podium, iid, "use")["text"]
    assert "notebook sees *" in log_of(podium, iid, "nb")["text"]
    iteration = log_of(podium, iid, "fan.each", iteration=1)
    assert iteration["text"].startswith("iteration 2:*") and secret not in iteration["text"]
    for fmt in ("ipynb", "html"):
        notebook = podium.client.get(
            f"/api/v1/workflows/vaulted/instances/{iid}/steps/nb/notebook", params={"format": fmt}
        )
        assert notebook.status_code == 200 and "notebook sees" in notebook.text
        assert secret not in notebook.text
        if fmt == "html":  # the job's HTML runs no script, on the API's origin or any
            assert notebook.headers["content-security-policy"].startswith("sandbox;")
    child = podium.client.get("/api/v1/workflows/child/instances/1")
    assert child.status_code == 200 and child.json()["params"]["token"].startswith("*")
    child_log = podium.client.get("/api/v1/workflows/child/instances/1/steps/echo/logs")
    assert "child got *" in child_log.json()["text"] and secret not in child_log.text
    timeline = podium.client.get(f"/api/v1/workflows/vaulted/instances/{iid}/timeline")
    assert timeline.status_code == 200 and secret not in timeline.text

    # Nowhere at rest: no row, no file (data dir, logs, notebook, events file, SQLite file).
    podium.settle()
    assert events.exists() and "vaulted" in events.read_text()
    assert rows_holding(podium, needle) == []
    assert files_holding(tmp_path, needle) == set()
    assert not list((tmp_path / "data").rglob("params.json"))

    # A restart with a new secret: sealed again, and the job gets the new one.
    newer = f"n3wer-{uuid.uuid4().hex}"
    restarted = podium.client.post(
        f"/api/v1/workflows/vaulted/instances/{iid}/restart",
        json={"from": "use", "params": {"db_password": newer}},
    )
    assert restarted.status_code == 200, restarted.text
    wait_for(gate / "ready")
    doc = podium.wait("vaulted", iid)
    sha = podium.steps(doc)["use"]["outputs"]["sha"]
    assert sha == hashlib.sha256(newer.encode()).hexdigest()
    podium.settle()
    for value in (needle, newer.encode()):
        assert rows_holding(podium, value) == []
        assert files_holding(tmp_path, value) == set()


def test_secret_declarations_are_checked_at_push(secret_podium: tuple[Podium, Path]) -> None:
    podium, _ = secret_podium
    with_default = (
        "id: leaky\nparams:\n  pw: {type: str, secret: true, default: hunter22}\n"
        "steps:\n  - {id: a, type: noop}\n"
    )
    response = podium.client.post("/api/v1/workflows", json={"yaml": with_default})
    assert response.status_code == 400
    assert "a secret param has no default" in response.text
    assert "hunter22" not in response.text
    not_bool = "id: odd\nparams:\n  pw: {secret: yes please}\nsteps:\n  - {id: a, type: noop}\n"
    response = podium.client.post("/api/v1/workflows", json={"yaml": not_bool})
    assert response.status_code == 400 and "secret must be true or false" in response.text


def test_what_a_job_prints_of_its_assets_is_masked(
    secret_podium: tuple[Podium, Path], tmp_path: Path
) -> None:
    podium, _ = secret_podium
    password = f"pa55-{uuid.uuid4().hex}"
    content = f"user=etl\npassword={password}\n".encode()
    stored = podium.client.put("/api/v1/assets/creds", content=content)
    assert stored.status_code == 200, stored.text
    gate = tmp_path / "gate"
    gate.mkdir()
    podium.push(
        "id: printer\nsteps:\n"
        "  - id: leak\n"
        "    type: script\n"
        "    assets: [creds]\n"
        "    outputs: [line, sha]\n"
        "    script: |\n"
        '      cat "$PODIUM_ASSETS/creds"\n'
        '      echo "and that was the whole file, printed by a careless job, line by line"\n'
        f'      touch "{gate}/ready"\n'
        f'      while [ ! -e "{gate}/go" ]; do sleep 0.05; done\n'
        '      line=$(grep password "$PODIUM_ASSETS/creds")\n'
        '      sum=$(sha256sum "$PODIUM_ASSETS/creds" | cut -d" " -f1)\n'
        '      printf \'{"line": "%s", "sha": "%s"}\' "$line" "$sum" > "$PODIUM_OUTPUTS"\n'
    )
    iid = podium.run("printer")
    wait_for(gate / "ready")
    logs = "/api/v1/workflows/printer/instances/1/steps/leak/logs"
    running = podium.client.get(logs).json()["text"]
    assert "user=etl" not in running and password not in running and "****" in running
    (gate / "go").touch()
    doc = podium.wait("printer", iid)
    assert doc["status"] == "SUCCEEDED", doc
    outputs = podium.steps(doc)["leak"]["outputs"]
    assert outputs["sha"] == hashlib.sha256(content).hexdigest()  # the job read it whole
    assert set(outputs["line"]) == {"*"}
    after = podium.client.get(logs).json()["text"]
    assert password not in after and "and that was the whole file" in after
    podium.settle()
    assert rows_holding(podium, password.encode()) == []
    assert files_holding(tmp_path, password.encode()) == set()


def test_rotation_rewraps_sealed_params_and_the_run_goes_on_under_the_new_key(
    secret_podium: tuple[Podium, Path], tmp_path: Path
) -> None:
    podium, _ = secret_podium
    key_file = tmp_path / "keys" / "master.key"
    secret = f"r0tate-{uuid.uuid4().hex}"
    gate = tmp_path / "gate"
    gate.mkdir()
    podium.push(
        "id: rotating\nparams:\n  pw: {type: str, secret: true}\nsteps:\n"
        "  - id: loop\n"
        "    params: {prefix: 'p-${ pw }'}\n"
        "    foreach:\n"
        "      over: {n: [1, 2, 3]}\n"
        "      concurrency: 1\n"
        "      steps:\n"
        "        - id: each\n"
        "          type: script\n"
        "          params: {pair: '${ n }/${ prefix }'}\n"
        "          outputs: [sha]\n"
        "          script: |\n"
        f'            while [ ! -e "{gate}/go" ]; do sleep 0.05; done\n'
        '            sum=$(printf %s "$PODIUM_PARAM_PAIR" | sha256sum | cut -d" " -f1)\n'
        '            printf \'{"sha": "%s"}\' "$sum" > "$PODIUM_OUTPUTS"\n'
    )
    iid = podium.run("rotating", {"pw": secret})
    podium.settle()
    new_key = add_key(key_file)
    done = podium.client.post("/api/v1/assets/rewrap")
    assert done.status_code == 200, done.text
    # The instance, its first iteration and the foreach's own params (they hold the secret).
    assert done.json()["params_rewrapped"] == 3, done.json()
    again = podium.client.post("/api/v1/assets/rewrap").json()
    assert again["params_rewrapped"] == 0
    lines = key_file.read_text().splitlines()
    key_file.write_text(
        "\n".join(line for line in lines if not line.startswith("k") or new_key in line) + "\n"
    )
    assert len([line for line in key_file.read_text().splitlines() if line.startswith("k")]) == 1
    (gate / "go").touch()
    doc = podium.wait("rotating", iid)
    assert doc["status"] == "SUCCEEDED", doc
    for n in (1, 2, 3):
        iteration = podium.client.get(
            f"/api/v1/workflows/rotating/instances/{iid}",
            params={"step": "loop", "iteration": n - 1},
        )
        assert iteration.status_code == 200, iteration.text
        outputs = podium.steps(iteration.json())["each"]["outputs"]
        assert outputs["sha"] == hashlib.sha256(f"{n}/p-{secret}".encode()).hexdigest()
    assert rows_holding(podium, secret.encode()) == []
