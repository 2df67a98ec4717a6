"""A web page cannot drive a loopback server: no DNS rebinding (Host is checked), no form
POST or cross-origin fetch that changes anything. A real ``podium server`` subprocess."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from podium.credentials import ServerAuth
from tests.support import free_port

from .test_durability import podium_process, wait_healthy

pytestmark = pytest.mark.slow


def test_a_loopback_server_refuses_other_hosts_origins_and_forms(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with podium_process(
        ["server", "--port", str(port)], tmp_path / "home", tmp_path / "log"
    ) as proc:
        wait_healthy(url, proc)
        client = httpx.Client(base_url=url, timeout=10, auth=ServerAuth(url))
        pushed = client.post(
            "/api/v1/workflows", json={"yaml": "id: w\nsteps:\n  - {id: a, type: noop}\n"}
        )
        assert pushed.status_code == 201, pushed.text

        rebound = client.get("/api/v1/health", headers={"Host": f"evil.example:{port}"})
        assert rebound.status_code == 421
        assert rebound.json()["error"]["code"] == "misdirected_request"
        for name in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
            assert client.get("/api/v1/health", headers={"Host": name}).status_code == 200

        start = "/api/v1/workflows/w/instances"
        cross = client.post(start, json={}, headers={"Origin": "http://evil.example"})
        assert cross.status_code == 403 and cross.json()["error"]["code"] == "cross_origin"
        for content_type in (
            "application/x-www-form-urlencoded",
            "text/plain",
            "multipart/form-data",
        ):
            form = client.post(start, content=b"a=1", headers={"Content-Type": content_type})
            assert form.status_code == 415, (content_type, form.text)
        stop = client.post(
            "/api/v1/workflows/w/deactivate", headers={"Origin": "http://attacker.test"}
        )
        assert stop.status_code == 403
        listed = client.get("/api/v1/workflows/w/instances").json()["instances"]
        assert listed == []  # nothing was started by the refused requests

        same = client.post(start, json={}, headers={"Origin": url})
        assert same.status_code == 201, same.text
        client.close()
