"""Through the engine: an instance records who started it and runs as its workflow's owner;
a root worker runs the owner's jobs as the OS user the owner is mapped to, and refuses the
jobs of an owner mapped to none."""

from __future__ import annotations

import os
import pwd
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_jobs_run_as import temporary_os_user
from tests.support import Podium, bearer, running_podium

WHO = """
id: who
steps:
  - id: a
    type: script
    outputs: [who, podium_user, home]
    script: |
      id -un > mine.txt
      printf '{"who": "%s", "podium_user": "%s", "home": "%s"}' \\
        "$(id -un)" "$PODIUM_USER" "$HOME" > "$PODIUM_OUTPUTS"
"""


@pytest.fixture
def root_podium(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Podium]:
    """A root engine with no login for unmapped owners, its data where other users reach."""
    monkeypatch.delenv("PODIUM_RUN_UNMAPPED_AS", raising=False)
    data = Path(tempfile.mkdtemp(prefix="podium-run-as-"))
    data.chmod(0o711)
    with running_podium(db_url, data) as podium:
        yield podium


def _user(podium: Podium, name: str, *, os_user: str | None = None) -> dict[str, str]:
    body = {"name": name, "role": "operator", "os_user": os_user}
    assert podium.client.post("/api/v1/users", json=body).status_code == 201
    made = podium.client.post("/api/v1/tokens", json={"name": "t", "user": name})
    assert made.status_code == 201, made.text
    return bearer(made.json()["token"])


def test_a_job_runs_as_the_owners_os_user(root_podium: Podium) -> None:
    podium = root_podium
    with temporary_os_user("alice") as alice_os:
        alice = _user(podium, "alice", os_user=alice_os.os_user)
        pushed = podium.client.post("/api/v1/workflows", json={"yaml": WHO}, headers=alice)
        assert pushed.status_code == 201, pushed.text
        # The admin starts it; it still runs as its owner, alice.
        iid = podium.run("who")
        doc = podium.wait("who", iid)

        assert doc["status"] == "SUCCEEDED", doc
        assert doc["started_by"] == "tester" and doc["run_as"] == "alice"
        outputs = podium.steps(doc)["a"]["outputs"]
        assert outputs == {
            "who": alice_os.os_user,
            "podium_user": "alice",
            "home": alice_os.home,
        }
        written = next(podium.data_dir.rglob("work/mine.txt"))
        assert written.read_text().strip() == alice_os.os_user
        assert pwd.getpwuid(written.stat().st_uid).pw_name == alice_os.os_user
        assert written.parent.parent.stat().st_uid == os.getuid()  # the attempt dir: Podium's


def test_the_jobs_of_an_unmapped_owner_are_refused_on_a_root_worker(root_podium: Podium) -> None:
    podium = root_podium
    bob = _user(podium, "bob")
    assert (
        podium.client.post("/api/v1/workflows", json={"yaml": WHO}, headers=bob).status_code == 201
    )
    started = podium.client.post("/api/v1/workflows/who/instances", json={}, headers=bob)
    assert started.status_code == 201, started.text
    doc = podium.wait("who", started.json()["instance_id"])

    assert doc["status"] == "FAILED" and doc["started_by"] == "bob"
    error = podium.steps(doc)["a"]["error"]["message"]
    assert "mapped to no OS user" in error and "podium user os-user bob" in error
    assert not list(podium.data_dir.rglob("work/mine.txt"))  # nothing ran, as root or not


NESTED = """
id: nested
steps:
  - id: each
    foreach:
      over: {n: [1, 2]}
      steps:
        - {id: w, type: script, script: "id -un > /tmp/podium-nested-$PODIUM_INSTANCE_ID-${ n }"}
  - {id: call, subworkflow: {workflow: callee}}
"""

CALLEE = """
id: callee
steps:
  - {id: w, type: script, script: "id -un > /tmp/podium-callee-$PODIUM_INSTANCE_ID"}
"""


def test_iterations_and_subworkflows_run_as_the_instance_they_belong_to(
    root_podium: Podium,
) -> None:
    """A subworkflow runs as its caller, whoever owns the workflow it calls (decision 47)."""
    podium = root_podium
    with temporary_os_user("alice") as alice_os:
        alice = _user(podium, "alice", os_user=alice_os.os_user)
        podium.push(CALLEE)  # the admin's, unmapped: run on its own, it would be refused
        pushed = podium.client.post("/api/v1/workflows", json={"yaml": NESTED}, headers=alice)
        assert pushed.status_code == 201, pushed.text
        iid = podium.run("nested")
        doc = podium.wait("nested", iid)
        written = sorted(Path("/tmp").glob("podium-nested-*")) + sorted(
            Path("/tmp").glob("podium-callee-*")
        )
        try:
            assert doc["status"] == "SUCCEEDED", [(s["id"], s["error"]) for s in doc["steps"]]
            assert len(written) == 3, written
            assert {p.read_text().strip() for p in written} == {alice_os.os_user}
        finally:
            for path in written:
                path.unlink()
