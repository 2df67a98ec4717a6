"""1,000 steps waiting on one tag with limit 10, on a real server: time until all finish,
and the time from a permit's release to the next waiter's start (median, p95).

The steps are ``sleep`` steps (no process), so the hand-over is the engine's alone.
Permits go first come first served and the limit stays 10, so the k-th step to start
(k > 10) was let in by the (k-10)-th to end. Two figures, from the server's own step
timestamps: from the end of that step's sleep (when its timer fell due) to the next start,
which is what a user sees, and from the transaction that released the permit to the next
start (zero when the next in line starts in that same transaction). Prints a table.

    python benchmarks/tag_limits.py [--steps 1000] [--limit 10] [--pg-url URL] [--no-pg]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import drop_pg_database, fresh_pg_database, podium, print_table, ts, wait_done

PER_INSTANCE = 20
SLEEP_S = 0.05


def flow_yaml(workflow_id: str) -> str:
    lines = [f"id: {workflow_id}", "concurrency: 1000", f"step_concurrency: {PER_INSTANCE}"]
    lines.append("steps:")
    for i in range(PER_INSTANCE):
        lines.append(f"  - {{id: s{i}, type: sleep, seconds: {SLEEP_S}, tags: [bench]}}")
    return "\n".join(lines) + "\n"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(db: str, steps: int, limit: int) -> dict[str, str]:
    with (
        tempfile.TemporaryDirectory() as home,
        podium(db, Path(home)) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        wf = f"tagged_{uuid.uuid4().hex[:6]}"
        client.put("/api/v1/tags/bench", json={"limit": 0}).raise_for_status()
        client.post("/api/v1/workflows", json={"yaml": flow_yaml(wf)}).raise_for_status()
        ids = [
            client.post(f"/api/v1/workflows/{wf}/instances", json={}).json()["instance_id"]
            for _ in range(steps // PER_INSTANCE)
        ]
        while client.get("/api/v1/tags/bench").json()["waiting"] < len(ids) * PER_INSTANCE:
            time.sleep(0.1)  # every step is in line before the first permit is handed out
        began = time.time()
        client.put("/api/v1/tags/bench", json={"limit": limit}).raise_for_status()
        docs = [wait_done(client, wf, iid, timeout_s=600) for iid in ids]
        assert all(d["status"] == "SUCCEEDED" for d in docs), [d["status"] for d in docs]
        all_steps = [s for d in docs for s in d["steps"]]  # type: ignore[attr-defined]
    starts = sorted(ts(s["started_at"]) for s in all_steps)
    ends = sorted(ts(s["ended_at"]) for s in all_steps)
    # In the engine: from the transaction that ended a step to the start of the next one.
    engine = [(starts[k] - ends[k - limit]) * 1000 for k in range(limit, len(starts))]
    # As a user sees it: from the moment a step's sleep was over (its start plus the sleep,
    # when its timer fell due) to the next start: timer wake-up and commit included.
    seen = [(starts[k] - starts[k - limit] - SLEEP_S) * 1000 for k in range(limit, len(starts))]
    total = max(ends) - began
    ideal = len(all_steps) * SLEEP_S / limit
    return {
        "steps": str(len(all_steps)),
        "all finished (s)": f"{total:.2f}",
        "ideal at the limit (s)": f"{ideal:.2f}",
        "step end -> next start, median (ms)": f"{statistics.median(seen):.1f}",
        "step end -> next start, p95 (ms)": f"{percentile(seen, 0.95):.1f}",
        "permit release -> next start in the engine, median (ms)": (
            f"{statistics.median(engine):.1f}"
        ),
        "permit release -> next start in the engine, p95 (ms)": (f"{percentile(engine, 0.95):.1f}"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "PODIUM_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    results = {"SQLite": measure("sqlite", args.steps, args.limit)}
    if not args.no_pg:
        db = fresh_pg_database(args.pg_url)
        try:
            results["PostgreSQL"] = measure(db, args.steps, args.limit)
        finally:
            drop_pg_database(args.pg_url, db)
    print_table(f"Tag limit {args.limit}, {args.steps} sleep steps of {SLEEP_S}s", results)


if __name__ == "__main__":
    main()
