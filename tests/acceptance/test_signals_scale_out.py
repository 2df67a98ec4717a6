"""Two ``podium worker`` replicas on PostgreSQL: each signal starts its trigger once."""

from __future__ import annotations

import collections
import concurrent.futures
import time
from pathlib import Path

import httpx
import pytest

from podium.credentials import ServerAuth
from tests.support import free_port, fresh_pg_url

from .test_durability import podium_process, wait_healthy, wait_instance

pytestmark = pytest.mark.slow

EMITTER = """
id: emitter
concurrency: 50
steps:
  - id: a
    type: script
    script: "true"
    emits: [{name: tick, params: {n: "${ run.instance_id }", side: a}}]
  - id: b
    type: script
    script: "true"
    emits: [{name: tick, params: {n: "${ run.instance_id }", side: b}}]
"""

CONSUMER = """
id: consumer
concurrency: 100
trigger: {signals: [[{name: tick}]]}
params: {n: "${ signal.n }", side: "${ signal.side }"}
steps: [{id: use, type: noop}]
"""

PAIR = """
id: pair
concurrency: 100
trigger: {signals: [[{name: left, match: {k: 1}}, {name: right, match: {k: 1}}]]}
steps: [{id: use, type: noop}]
"""


def test_each_signal_starts_its_trigger_once_across_two_workers(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "podium.log"
    data = str(tmp_path / "data")
    with (
        fresh_pg_url() as db_url,
        podium_process(["api", "--db", db_url, "--port", str(port)], tmp_path / "a", log) as api,
        podium_process(["worker", "--db", db_url], tmp_path / "w1", log, PODIUM_DATA_DIR=data),
        podium_process(["worker", "--db", db_url], tmp_path / "w2", log, PODIUM_DATA_DIR=data),
        httpx.Client(base_url=url, timeout=30, auth=ServerAuth(url)) as client,
    ):
        wait_healthy(url, api)
        for yaml in (EMITTER, CONSUMER, PAIR):
            client.post("/api/v1/workflows", json={"yaml": yaml}).raise_for_status()
        started = [client.post("/api/v1/workflows/emitter/instances", json={}) for _ in range(20)]
        assert all(r.status_code == 201 for r in started), started[0].text
        emitters = [r.json()["instance_id"] for r in started]

        def announce(name: str) -> None:
            httpx.post(
                f"{url}/api/v1/signals",
                json={"name": name, "params": {"k": 1}},
                timeout=30,
                auth=ServerAuth(url),
            ).raise_for_status()

        # Halves of the pair trigger announced at once from many clients: a slot keeps
        # the newest signal, so up to 30 sets complete; none may use a signal twice.
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(announce, ["left", "right"] * 30))
        for iid in emitters:
            assert wait_instance(client, "emitter", iid, timeout_s=60)["status"] == "SUCCEEDED"
        deadline = time.monotonic() + 60
        while True:
            listed = client.get("/api/v1/workflows/consumer/instances?limit=1000").json()
            if len(listed["instances"]) >= 40 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        consumers = [
            wait_instance(client, "consumer", i["instance_id"], timeout_s=60)
            for i in listed["instances"]
        ]
        listed_pairs = client.get("/api/v1/workflows/pair/instances?limit=1000").json()
        pairs = [
            wait_instance(client, "pair", i["instance_id"], timeout_s=60)
            for i in listed_pairs["instances"]
        ]
        signals = client.get("/api/v1/signals?name=tick&limit=1000").json()["signals"]
    assert len(signals) == 40  # 20 emitters x 2 steps
    seen = collections.Counter((c["params"]["n"], c["params"]["side"]) for c in consumers)
    assert len(consumers) == 40 and set(seen.values()) == {1}
    assert set(seen) == {(iid, side) for iid in emitters for side in ("a", "b")}
    used = [(s["name"], s["seq"]) for p in pairs for s in p["trigger"]["signals"]]
    assert 1 <= len(pairs) <= 30
    assert len(used) == 2 * len(pairs) and len(set(used)) == len(used)
