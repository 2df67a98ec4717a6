"""Assets through the real CLI and a real server: ``podium asset put/list/rm/rewrap``,
``podium keys add``, and ``assets: [{name, file}]`` shipped by ``podium push``."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import httpx

from .conftest import Cli

FLOW = """\
id: shipped
steps:
  - id: read
    type: script
    assets:
      - {name: shipped-cfg, file: conf/app.cfg}
      - creds
    outputs: [cfg, creds]
    script: |
      cfg=$(sha256sum "$PODIUM_ASSETS/shipped-cfg" | cut -d" " -f1)
      creds=$(sha256sum "$PODIUM_ASSETS/creds" | cut -d" " -f1)
      printf '{"cfg": "%s", "creds": "%s"}' "$cfg" "$creds" > "$PODIUM_OUTPUTS"
"""


def ok(result: Any) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)
    return str(result.stdout)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_assets_through_the_cli(server_cli: Cli, tmp_path: Path) -> None:
    cli = server_cli
    marker = uuid.uuid4().hex
    creds = f"password={marker}\n".encode()
    (tmp_path / "creds.txt").write_bytes(creds)
    said = ok(cli("asset", "put", "creds", str(tmp_path / "creds.txt")))
    assert said.startswith(f"stored asset creds ({len(creds)} bytes, owner ")

    flow_dir = tmp_path / "flow"
    (flow_dir / "conf").mkdir(parents=True)
    cfg = f"threads = 4\nsecret = {marker}\n".encode()
    (flow_dir / "conf" / "app.cfg").write_bytes(cfg)
    (flow_dir / "shipped.yaml").write_text(FLOW)
    ok(cli("push", str(flow_dir / "shipped.yaml")))

    listed = ok(cli("asset", "list", "--json"))
    assert marker not in listed
    rows = {a["name"]: a for a in json.loads(listed)["assets"]}
    assert set(rows) == {"creds", "shipped-cfg"}
    assert rows["shipped-cfg"]["size"] == len(cfg)
    table = ok(cli("asset", "list"))
    assert "shipped-cfg" in table and marker not in table

    # The stored version names the asset; the file's path and content stayed with the CLI.
    token = (tmp_path / "server-home" / "admin.token").read_text().strip()
    stored = httpx.get(
        f"{cli.server}/api/v1/workflows/shipped/versions/1",
        headers={"Authorization": f"Bearer {token}"},
    ).json()["yaml"]
    assert "shipped-cfg" in stored and "app.cfg" not in stored and marker not in stored

    def run_and_check() -> None:
        doc = json.loads(ok(cli("run", "shipped", "--wait", "--json")))
        (step,) = doc["steps"]
        assert step["outputs"] == {"cfg": sha(cfg), "creds": sha(creds)}

    run_and_check()

    old_key = rows["creds"]["key_id"]
    key_file = tmp_path / "server-home" / "master.key"
    added = json.loads(ok(cli("keys", "add", "--file", str(key_file), "--json")))
    assert added["key_id"] != old_key and added["file"] == str(key_file)
    rewrapped = json.loads(ok(cli("asset", "rewrap", "--json")))
    assert rewrapped == {
        "primary_key_id": added["key_id"],
        "rewrapped": 2,
        "total": 2,
        "params_rewrapped": 0,
    }
    assert "re-wrapped 0 of 2 assets and 0 sealed secret params" in ok(cli("asset", "rewrap"))
    run_and_check()

    assert ok(cli("asset", "rm", "creds")).strip() == "removed asset creds"
    names = [a["name"] for a in json.loads(ok(cli("asset", "list", "--json")))["assets"]]
    assert names == ["shipped-cfg"]
    gone = cli("asset", "rm", "creds")
    assert gone.returncode == 1 and "no asset 'creds'" in gone.stderr
    failed = cli("run", "shipped", "--wait")
    assert failed.returncode == 1
    assert "asset 'creds' does not exist" in failed.stdout


def test_push_refuses_a_missing_asset_file_and_pushes_nothing(
    server_cli: Cli, tmp_path: Path
) -> None:
    (tmp_path / "shipped.yaml").write_text(FLOW)
    refused = server_cli("push", str(tmp_path / "shipped.yaml"))
    assert refused.returncode == 2, refused.stderr
    assert "steps[0].assets[0].file: asset file 'conf/app.cfg' not found" in refused.stderr
    assert json.loads(ok(server_cli("asset", "list", "--json"))) == {"assets": []}
    bad = server_cli("asset", "put", "../x", str(tmp_path / "shipped.yaml"))
    assert bad.returncode == 2 and "bad asset name '../x'" in bad.stderr
