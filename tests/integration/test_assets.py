"""Encrypted assets through the API and the engine: stored sealed, in clear only in the
attempt's ``assets/`` while its job runs and nowhere after, readable only by jobs of their
owner, and re-wrapped under a new master key while old and new instances keep reading them."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from podium.control.assets import AssetUnavailable, assets_for_launch
from podium.control.keys import MasterKeys
from podium.control.workflows import load_files
from podium.definition.assets import MAX_ASSET_BYTES
from podium.store import assets as store_assets
from podium.store.schema import metadata
from podium.vault import add_key
from tests.integration.test_jobs_run_as import temporary_os_user
from tests.support import Podium, bearer, running_podium

OCTETS = {"Content-Type": "application/octet-stream"}


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The master key file of the API and the worker of this test (one fresh key)."""
    path = tmp_path / "keys" / "master.key"
    add_key(path)
    monkeypatch.delenv("PODIUM_MASTER_KEY", raising=False)
    monkeypatch.setenv("PODIUM_MASTER_KEY_FILE", str(path))
    return path


@pytest.fixture
def vault(key_file: Path, db_url: str, tmp_path: Path) -> Iterator[Podium]:
    with running_podium(db_url, tmp_path / "data") as podium:
        yield podium


def put(podium: Podium, name: str, content: bytes, **kwargs: Any) -> dict[str, Any]:
    response = podium.client.put(f"/api/v1/assets/{name}", content=content, **kwargs)
    assert response.status_code == 200, response.text
    return dict(response.json())


def reader(workflow_id: str, asset: str, gate: Path | None = None, owner: str = "") -> str:
    """A workflow whose step records the sha256 and mode of its asset; with ``gate``, it says
    ``ready`` there and waits for ``go`` before it ends."""
    wait = (
        f'      touch "{gate}/ready"\n      while [ ! -e "{gate}/go" ]; do sleep 0.05; done\n'
        if gate is not None
        else ""
    )
    return (
        f"id: {workflow_id}\n" + (f"owner: {owner}\n" if owner else "") + "steps:\n"
        "  - id: use\n"
        "    type: script\n"
        f"    assets: [{asset}]\n"
        "    outputs: [sha, mode, where]\n"
        "    script: |\n"
        f'      sha=$(sha256sum "$PODIUM_ASSETS/{asset}" | cut -d" " -f1)\n'
        f'      mode=$(stat -c %a "$PODIUM_ASSETS/{asset}")\n'
        + wait
        + '      printf \'{"sha": "%s", "mode": "%s", "where": "%s"}\' '
        '"$sha" "$mode" "$PODIUM_ASSETS" > "$PODIUM_OUTPUTS"\n'
    )


def files_holding(root: Path, needle: bytes) -> set[Path]:
    """Every regular file under ``root`` whose bytes hold ``needle``."""
    found = set()
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path = Path(directory, name)
            try:
                if not stat.S_ISREG(path.lstat().st_mode):
                    continue
                if needle in path.read_bytes():
                    found.add(path)
            except FileNotFoundError:
                continue  # removed while we walked (a WAL checkpoint, a finished job)
    return found


def rows_holding(podium: Podium, needle: bytes) -> list[str]:
    """Every table of the database with a row whose text or bytes hold ``needle``."""
    found = []
    with podium.db.read() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                for value in row:
                    raw = value if isinstance(value, bytes) else repr(value).encode()
                    if needle in raw:
                        found.append(table.name)
    return found


def wait_for(path: Path, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.02)


def test_an_asset_is_in_clear_only_in_its_attempt_while_the_job_runs(
    vault: Podium, tmp_path: Path
) -> None:
    podium = vault
    marker = f"marker-{uuid.uuid4().hex}".encode()
    content = b"user=etl\npassword=" + marker + b"\n"
    stored = put(podium, "creds", content, headers=OCTETS)
    assert stored["size"] == len(content) and stored["owner"] == "tester" and stored["created"]
    assert marker not in str(stored).encode()

    gate = tmp_path / "gate"
    gate.mkdir()
    podium.push(reader("vaulted", "creds", gate))
    iid = podium.run("vaulted")
    wait_for(gate / "ready")

    # While it runs: the plaintext is in the attempt's assets/ and nowhere else.
    holding = files_holding(tmp_path, marker)
    assert len(holding) == 1, holding
    (found,) = holding
    assert found.name == "creds" and found.parent.name == "assets"
    assert stat.S_IMODE(found.stat().st_mode) == 0o600
    assert stat.S_IMODE(found.parent.stat().st_mode) == 0o700
    attempt_dir = found.parent.parent
    assert (attempt_dir / "pid").exists()
    assert rows_holding(podium, marker) == []
    with podium.db.read() as conn:
        sealed = store_assets.sealed_assets(conn, ["creds"])["creds"].sealed
    assert sealed.startswith(b"PSV1") and marker not in sealed

    (gate / "go").touch()
    doc = podium.wait("vaulted", iid)
    assert doc["status"] == "SUCCEEDED", doc
    outputs = podium.steps(doc)["use"]["outputs"]
    assert outputs["sha"] == hashlib.sha256(content).hexdigest()
    assert outputs["mode"] == "600" and outputs["where"] == str(attempt_dir / "assets")

    # After: nowhere (data dir, logs, events file, database file and rows).
    assert not (attempt_dir / "assets").exists()
    assert (attempt_dir / "log").exists()
    assert files_holding(tmp_path, marker) == set()
    assert rows_holding(podium, marker) == []


def test_rotation_rewraps_every_asset_and_old_and_new_instances_read_theirs(
    vault: Podium, key_file: Path, tmp_path: Path
) -> None:
    podium = vault
    first = b"first secret " + uuid.uuid4().bytes
    second = b"second secret " + uuid.uuid4().bytes
    old_key = put(podium, "one", first)["key_id"]
    put(podium, "two", second)
    gate = tmp_path / "gate"
    gate.mkdir()
    podium.push(
        "id: rotated\nsteps:\n"
        f"  - {{id: hold, type: script, script: 'while [ ! -e {gate}/go ]; do sleep 0.05; done'}}\n"
        "  - id: use\n"
        "    type: script\n"
        "    depends_on: [hold]\n"
        "    assets: [one]\n"
        "    outputs: [sha]\n"
        "    script: |\n"
        '      sum=$(sha256sum "$PODIUM_ASSETS/one" | cut -d" " -f1)\n'
        '      printf \'{"sha": "%s"}\' "$sum" > "$PODIUM_OUTPUTS"\n'
    )
    before = podium.run("rotated")  # started under the old key; reads its asset after it

    new_key = add_key(key_file)
    assert new_key != old_key
    # Between adding the key and re-wrapping: the old key still opens, the new one seals.
    podium.push(reader("direct", "one"))
    between = podium.wait("direct", podium.run("direct"))
    assert podium.steps(between)["use"]["outputs"]["sha"] == hashlib.sha256(first).hexdigest()
    assert put(podium, "three", b"sealed under the new key")["key_id"] == new_key

    done = podium.client.post("/api/v1/assets/rewrap")
    assert done.status_code == 200, done.text
    assert done.json() == {
        "primary_key_id": new_key,
        "rewrapped": 2,
        "total": 3,
        "params_rewrapped": 0,
    }
    listed = podium.client.get("/api/v1/assets").json()["assets"]
    assert {a["name"]: a["key_id"] for a in listed} == {n: new_key for n in ("one", "two", "three")}
    again = podium.client.post("/api/v1/assets/rewrap").json()
    assert again == {"primary_key_id": new_key, "rewrapped": 0, "total": 3, "params_rewrapped": 0}

    # The old key goes; every asset still opens.
    lines = key_file.read_text().splitlines()
    kept = [line for line in lines if not line.startswith(f"{old_key} ")]
    assert len(kept) == len(lines) - 1
    replacement = key_file.with_name("master.key.new")
    fd = os.open(replacement, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, ("\n".join(kept) + "\n").encode())
    os.close(fd)
    os.replace(replacement, key_file)

    after = podium.run("rotated")
    (gate / "go").touch()
    for iid in (before, after):
        doc = podium.wait("rotated", iid)
        assert doc["status"] == "SUCCEEDED", doc
        assert podium.steps(doc)["use"]["outputs"]["sha"] == hashlib.sha256(first).hexdigest()
    opened = assets_for_launch(podium.db, MasterKeys(), "tester", ["one", "two"])
    assert opened == {"one": first, "two": second}


def _user(podium: Podium, name: str, role: str, groups: list[str] | None = None) -> dict[str, str]:
    body = {"name": name, "role": role, "groups": groups or []}
    made = podium.client.post("/api/v1/users", json=body)
    assert made.status_code == 201, made.text
    token = podium.client.post("/api/v1/tokens", json={"name": "t", "user": name})
    assert token.status_code == 201, token.text
    return bearer(token.json()["token"])


def test_a_job_reads_only_the_assets_of_whom_it_runs_as(vault: Podium) -> None:
    podium = vault
    _user(podium, "alice", "operator", ["data-eng"])
    put(podium, "admins-only", b"tester's")
    put(podium, "alices", b"alice's", params={"owner": "alice"})
    put(podium, "teams", b"the team's", params={"owner": "data-eng"})

    for asset, expected in (("alices", b"alice's"), ("teams", b"the team's")):
        podium.push(reader(f"read-{asset}", asset, owner="alice"))
        doc = podium.wait(f"read-{asset}", podium.run(f"read-{asset}"))
        assert doc["status"] == "SUCCEEDED" and doc["run_as"] == "alice", doc
        assert podium.steps(doc)["use"]["outputs"]["sha"] == hashlib.sha256(expected).hexdigest()

    podium.push(reader("steal", "admins-only", owner="alice"))
    doc = podium.wait("steal", podium.run("steal"))
    assert doc["status"] == "FAILED", doc
    error = podium.steps(doc)["use"]["error"]["message"]
    assert "asset 'admins-only' is owned by 'tester'" in error
    assert "run as 'alice'" in error and "--owner alice" in error
    assert not list(podium.data_dir.rglob("assets"))  # nothing was written

    podium.push(reader("missing", "nowhere"))
    doc = podium.wait("missing", podium.run("missing"))
    error = podium.steps(doc)["use"]["error"]["message"]
    assert doc["status"] == "FAILED" and "asset 'nowhere' does not exist" in error


def test_who_may_store_list_and_remove_assets(vault: Podium) -> None:
    podium = vault
    marker = uuid.uuid4().hex.encode()
    put(podium, "admins", b"secret " + marker)
    vera = _user(podium, "vera", "viewer")
    otto = _user(podium, "otto", "operator")

    refused = podium.client.put("/api/v1/assets/mine", content=b"x", headers=vera)
    assert refused.status_code == 403, refused.text
    assert "needs the operator role" in refused.json()["error"]["message"]

    listed = podium.client.get("/api/v1/assets", headers=vera)
    assert listed.status_code == 200 and marker not in listed.content
    (row,) = listed.json()["assets"]
    assert set(row) == {
        "name",
        "owner",
        "size",
        "key_id",
        "created_by",
        "created_at",
        "updated_at",
    }
    assert row["name"] == "admins" and row["size"] == len(b"secret " + marker)
    read = podium.client.get("/api/v1/assets/admins")
    assert read.status_code in (404, 405) and marker not in read.content

    mine = podium.client.put("/api/v1/assets/ottos", content=b"otto's", headers=otto)
    assert mine.status_code == 200 and mine.json()["owner"] == "otto", mine.text
    for response in (
        podium.client.put("/api/v1/assets/admins", content=b"mine now", headers=otto),
        podium.client.delete("/api/v1/assets/admins", headers=otto),
        podium.client.put(
            "/api/v1/assets/gift", content=b"x", params={"owner": "vera"}, headers=otto
        ),
    ):
        assert response.status_code == 403, response.text
        assert "needs the admin role" in response.json()["error"]["message"]
    assert (
        "replace asset 'admins', which 'tester' owns"
        in podium.client.put("/api/v1/assets/admins", content=b"mine now", headers=otto).json()[
            "error"
        ]["message"]
    )
    assert podium.client.delete("/api/v1/assets/ottos", headers=otto).status_code == 200
    assert podium.client.delete("/api/v1/assets/admins").status_code == 200
    gone = podium.client.delete("/api/v1/assets/admins")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "asset_not_found"
    assert podium.client.get("/api/v1/assets").json() == {"assets": []}

    rewrap = podium.client.post("/api/v1/assets/rewrap", headers=otto)
    assert rewrap.status_code == 403 and "needs the admin role" in rewrap.text

    bad = podium.client.put("/api/v1/assets/-dash", content=b"x")
    assert bad.status_code == 400 and "bad asset name" in bad.json()["error"]["message"]
    big = podium.client.put("/api/v1/assets/big", content=b"\0" * (MAX_ASSET_BYTES + 1))
    assert big.status_code == 400, big.text
    assert f"at most {MAX_ASSET_BYTES} bytes" in big.json()["error"]["message"]
    exact = podium.client.put("/api/v1/assets/big", content=b"\0" * MAX_ASSET_BYTES)
    assert exact.status_code == 200 and exact.json()["size"] == MAX_ASSET_BYTES

    actions = [
        e["action"]
        for e in podium.client.get("/api/v1/audit", params={"limit": 100}).json()["entries"]
    ]
    assert {"asset.put", "asset.delete"} <= set(actions)


def test_a_sealed_blob_moved_to_another_name_does_not_open(vault: Podium) -> None:
    podium = vault
    put(podium, "real", b"the real one")
    put(podium, "decoy", b"a decoy")
    with podium.db.transaction() as conn:
        real = store_assets.sealed_assets(conn, ["real"])["real"]
        store_assets.put_asset(
            conn,
            name="decoy",
            owner="tester",
            size=real.row.size,
            sealed=real.sealed,
            key_id=real.row.key_id,
            by="tester",
            now=time.time(),
        )
    with pytest.raises(AssetUnavailable, match="asset 'decoy' cannot be opened"):
        assets_for_launch(podium.db, MasterKeys(), "tester", ["decoy"])
    assert assets_for_launch(podium.db, MasterKeys(), "tester", ["real"]) == {
        "real": b"the real one"
    }


def test_the_server_never_reads_an_asset_file_named_in_a_definition(vault: Podium) -> None:
    text = (
        "id: shipped\nsteps:\n  - id: a\n    type: script\n    script: 'true'\n"
        "    assets: [{name: cfg, file: /etc/passwd}]\n"
    )
    refused = vault.client.post("/api/v1/workflows", json={"yaml": text})
    assert refused.status_code == 400, refused.text
    (problem,) = refused.json()["error"]["details"]["problems"]
    assert problem["location"] == "steps[0].assets[0]"
    assert "uploaded by the CLI" in problem["message"]
    assert vault.client.get("/api/v1/assets").json() == {"assets": []}


def test_server_load_stores_the_asset_files_a_definition_ships(
    vault: Podium, tmp_path: Path
) -> None:
    podium = vault
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "ca.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    text = reader("loaded", "ca").replace("assets: [ca]", "assets: [{name: ca, file: ca.pem}]")
    (flows / "loaded.yaml").write_text(text)

    load_files(podium.db, [flows], now=time.time())
    (first,) = podium.client.get("/api/v1/assets").json()["assets"]
    load_files(podium.db, [flows], now=time.time() + 5)  # the next start: nothing changed
    assert podium.client.get("/api/v1/assets").json()["assets"] == [first]
    podium.worker.notify()
    doc = podium.wait("loaded", podium.run("loaded"))
    assert doc["status"] == "SUCCEEDED", doc
    expected = hashlib.sha256(b"-----BEGIN CERTIFICATE-----\n").hexdigest()
    assert podium.steps(doc)["use"]["outputs"]["sha"] == expected

    (flows / "ca.pem").write_bytes(b"another certificate\n")
    load_files(podium.db, [flows], now=time.time() + 10)
    (changed,) = podium.client.get("/api/v1/assets").json()["assets"]
    assert changed["updated_at"] != first["updated_at"] and changed["size"] == 20


def test_a_root_worker_hands_the_asset_to_the_jobs_os_user_only(
    key_file: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PODIUM_RUN_UNMAPPED_AS", raising=False)
    data = Path(tempfile.mkdtemp(prefix="podium-assets-"))
    data.chmod(0o711)  # the job's user must reach its attempt directory
    try:
        with temporary_os_user("alice") as alice_os, running_podium(db_url, data) as podium:
            body = {"name": "alice", "role": "operator", "os_user": alice_os.os_user}
            assert podium.client.post("/api/v1/users", json=body).status_code == 201
            put(podium, "alices", b"for alice only", params={"owner": "alice"})
            podium.push(
                "id: owned\nowner: alice\nsteps:\n"
                "  - id: use\n    type: script\n    assets: [alices]\n"
                "    outputs: [owner, text]\n    script: |\n"
                '      owner=$(stat -c %U "$PODIUM_ASSETS/alices")\n'
                '      printf \'{"owner": "%s", "text": "%s"}\' "$owner" '
                '"$(cat "$PODIUM_ASSETS/alices")" > "$PODIUM_OUTPUTS"\n'
            )
            doc = podium.wait("owned", podium.run("owned"))
            assert doc["status"] == "SUCCEEDED", doc
            outputs = podium.steps(doc)["use"]["outputs"]
            # The job read it whole: what it returned is the asset, so it is shown masked.
            assert outputs == {"owner": alice_os.os_user, "text": "*" * len("for alice only")}
            assert not list(data.rglob("assets"))
    finally:
        shutil.rmtree(data, ignore_errors=True)
