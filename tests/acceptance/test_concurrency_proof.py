"""The concurrency proof: limits in several dimensions hold exactly under two workers.

One ``podium api`` and two ``podium worker`` processes on PostgreSQL run three workflows
whose steps carry tag ``db`` (limit 2) under their own ``step_concurrency``. Every job
writes when it started and ended; the overlaps are computed from those times.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from podium.credentials import ServerAuth
from tests.support import free_port, fresh_pg_url, job_spans, max_overlap

from .test_durability import podium_process, wait_healthy, wait_instance

pytestmark = pytest.mark.slow

SECONDS = 0.5
# workflow -> (step_concurrency, [tags of each step])
FLOWS: dict[str, tuple[int, list[list[str]]]] = {
    "ingest": (1, [["db"]] * 4),
    "report": (2, [["db"], ["db"], [], []]),
    "train": (3, [["db"], ["db", "gpu"], ["db"], [], [], []]),
}
RUNS_EACH = 4


def flow_yaml(workflow_id: str, step_concurrency: int, tags: list[list[str]], out: Path) -> str:
    lines = [f"id: {workflow_id}", f"step_concurrency: {step_concurrency}", "steps:"]
    for index, step_tags in enumerate(tags):
        key = f"$PODIUM_WORKFLOW_ID/$PODIUM_INSTANCE_ID/s{index}/{'+'.join(step_tags) or '-'}"
        lines += [
            f"  - id: s{index}",
            "    type: script",
            f"    tags: [{', '.join(step_tags)}]",
            "    script: |",
            f'      echo "start {key} $(date +%s.%N)" >> {out}',
            f"      sleep {SECONDS}",
            f'      echo "end {key} $(date +%s.%N)" >> {out}',
        ]
    return "\n".join(lines) + "\n"


def _start(url: str, workflow_id: str) -> int:
    response = httpx.post(
        f"{url}/api/v1/workflows/{workflow_id}/instances",
        json={},
        timeout=30,
        auth=ServerAuth(url),
    )
    response.raise_for_status()
    return int(response.json()["instance_id"])


def _wait_for_workers(db_url: str, count: int) -> None:
    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    deadline = time.monotonic() + 30
    try:
        while True:
            with engine.connect() as conn:
                running = conn.execute(
                    sa.text("SELECT count(*) FROM workers WHERE stopped_at IS NULL")
                ).scalar_one()
            if running >= count:
                return
            assert time.monotonic() < deadline, f"{running} of {count} workers started"
            time.sleep(0.1)
    finally:
        engine.dispose()


def test_limits_hold_across_two_workers(tmp_path: Path) -> None:
    out = tmp_path / "spans"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "podium.log"
    data = str(tmp_path / "data")
    with fresh_pg_url() as db_url:
        with (
            podium_process(
                ["api", "--db", db_url, "--port", str(port)], tmp_path / "a", log
            ) as api,
            podium_process(["worker", "--db", db_url], tmp_path / "w1", log, PODIUM_DATA_DIR=data),
            podium_process(["worker", "--db", db_url], tmp_path / "w2", log, PODIUM_DATA_DIR=data),
            httpx.Client(base_url=url, timeout=30, auth=ServerAuth(url)) as client,
        ):
            wait_healthy(url, api)
            client.put("/api/v1/tags/db", json={"limit": 2}).raise_for_status()
            for workflow_id, (limit, tags) in FLOWS.items():
                yaml = flow_yaml(workflow_id, limit, tags, out)
                client.post("/api/v1/workflows", json={"yaml": yaml}).raise_for_status()
            _wait_for_workers(db_url, 2)
            began = time.time()
            # One start at a time: both workers wake for each and race for it, so the work
            # spreads over both (a worker that starts an instance runs what follows in it
            # and hands permits on itself; only new work is up for grabs).
            started = []
            for wf in list(FLOWS) * RUNS_EACH:
                started.append((wf, _start(url, wf)))
                time.sleep(0.3)
            docs = [wait_instance(client, wf, iid, timeout_s=120) for wf, iid in started]
            wall = time.time() - began
        assert [d["status"] for d in docs] == ["SUCCEEDED"] * len(docs)
        engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as conn:
            workers = conn.execute(
                sa.text("SELECT worker_id, count(*) FROM attempts GROUP BY worker_id")
            ).all()
            left = conn.execute(sa.text("SELECT count(*) FROM permits")).scalar_one()
        engine.dispose()
    print(f"jobs per worker: {sorted(n for _, n in workers)}")
    assert len(workers) == 2, "both workers ran jobs"
    assert left == 0, "every permit was given back"

    found = job_spans(out)
    expected = sum(len(tags) for _, tags in FLOWS.values()) * RUNS_EACH
    assert len(found) == expected
    db = [span for key, span in found.items() if "db" in key.split("/")[3].split("+")]
    # The tag limit: never above 2, and reached.
    assert max_overlap(db) == 2
    # Each instance's step_concurrency: never above it, and reached where the tag allows.
    for workflow_id, (limit, _) in FLOWS.items():
        for _, iid in [s for s in started if s[0] == workflow_id]:
            mine = [span for key, span in found.items() if key.startswith(f"{workflow_id}/{iid}/")]
            assert max_overlap(mine) <= limit, (workflow_id, iid, max_overlap(mine), limit)
    train = [span for key, span in found.items() if key.startswith("train/")]
    assert max_overlap(train) >= 3
    # Not serialised below the limits: the db steps took about their work divided by 2.
    first, last = min(s for s, _ in db), max(e for _, e in db)
    bound = len(db) * SECONDS / 2
    print(
        f"db steps: {len(db)}, busy {last - first:.2f}s for a bound of {bound:.2f}s; wall {wall:.2f}s"
    )
    assert last - first < bound * 1.5, (last - first, bound)


def test_a_killed_server_keeps_permits_and_the_line(tmp_path: Path) -> None:
    """SIGKILL the server while one step holds the only permit and five wait: after the
    restart every step runs once, one at a time, in the order they asked."""
    out = tmp_path / "spans"
    home = tmp_path / "home"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["server", "--port", str(port)]
    log = tmp_path / "server.log"
    yaml = flow_yaml("serial", 6, [["db"]] * 6, out)
    with httpx.Client(base_url=url, timeout=10, auth=ServerAuth(url)) as client:
        with podium_process(args, home, log) as first:
            wait_healthy(url, first)
            client.put("/api/v1/tags/db", json={"limit": 1}).raise_for_status()
            client.post("/api/v1/workflows", json={"yaml": yaml}).raise_for_status()
            iid = client.post("/api/v1/workflows/serial/instances", json={}).json()["instance_id"]
            while len(out.read_text().splitlines() if out.exists() else []) < 3:
                time.sleep(0.05)  # the second step is running, four wait
            first.send_signal(signal.SIGKILL)
            first.wait()
        with podium_process(args, home, log) as second:
            wait_healthy(url, second)
            doc = wait_instance(client, "serial", iid, timeout_s=60)
            view = client.get("/api/v1/tags/db").json()
    assert doc["status"] == "SUCCEEDED", doc
    assert (view["in_use"], view["waiting"]) == (0, 0)
    found = job_spans(out)
    assert len(found) == 6
    assert max_overlap(list(found.values())) == 1
    order = [key.split("/")[2] for key, _ in sorted(found.items(), key=lambda kv: kv[1][0])]
    assert order == [f"s{i}" for i in range(6)]
    assert all(s["attempts"] == 1 for s in doc["steps"])  # type: ignore[attr-defined]
