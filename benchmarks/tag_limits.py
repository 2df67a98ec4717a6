"""1,000 steps waiting on one tag with limit 10, on a real server: time until all finish,
and the hand-over from one step's end to the next waiter's start (median, p95).

Each step is a ``script`` job that appends its own start and end (``$EPOCHREALTIME``) to a
trace file around a 0.05 s sleep, so the hand-over is measured on the jobs' clock, never on
the server's timestamps: from the moment a job was done to the moment the next one ran, which
includes the end noticed, the permit passed on and committed, and the next process started.
Permits go first come first served and the limit stays 10, so the k-th job to start (k > 10)
was let in by the (k-10)-th to end. "All finished" is on the client's clock, from sending the
new limit to seeing every instance ended (``observe.py``). Prints a table.

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

from podium.credentials import ServerAuth

sys.path.insert(0, str(Path(__file__).resolve().parent))
from observe import all_seen_done, start
from run import drop_pg_database, fresh_pg_database, podium, print_table

PER_INSTANCE = 20
SLEEP_S = 0.05


def flow_yaml(workflow_id: str, trace: Path) -> str:
    lines = [f"id: {workflow_id}", "concurrency: 1000", f"step_concurrency: {PER_INSTANCE}"]
    lines.append("steps:")
    script = (
        f'echo "start $EPOCHREALTIME" >> {trace}; sleep {SLEEP_S}; '
        f'echo "end $EPOCHREALTIME" >> {trace}'
    )
    for i in range(PER_INSTANCE):
        lines.append(f"  - {{id: s{i}, type: script, script: '{script}', tags: [bench]}}")
    return "\n".join(lines) + "\n"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(db: str, steps: int, limit: int) -> dict[str, str]:
    with (
        tempfile.TemporaryDirectory() as home,
        podium(db, Path(home)) as url,
        httpx.Client(base_url=url, timeout=60, auth=ServerAuth(url)) as client,
    ):
        wf = f"tagged_{uuid.uuid4().hex[:6]}"
        trace = Path(home) / "trace"
        client.put("/api/v1/tags/bench", json={"limit": 0}).raise_for_status()
        client.post("/api/v1/workflows", json={"yaml": flow_yaml(wf, trace)}).raise_for_status()
        count = steps // PER_INSTANCE
        for _ in range(count):
            start(client, wf)
        while client.get("/api/v1/tags/bench").json()["waiting"] < count * PER_INSTANCE:
            time.sleep(0.1)  # every step is in line before the first permit is handed out
        sent = time.time()
        client.put("/api/v1/tags/bench", json={"limit": limit}).raise_for_status()
        seen, rows = all_seen_done(client, wf, count, since=sent, timeout_s=600)
        assert all(r["status"] == "SUCCEEDED" for r in rows), [r["status"] for r in rows]
        lines = [line.split() for line in trace.read_text().splitlines()]
    starts = sorted(float(at) for kind, at in lines if kind == "start")
    ends = sorted(float(at) for kind, at in lines if kind == "end")
    handover = [(starts[k] - ends[k - limit]) * 1000 for k in range(limit, len(starts))]
    ideal = len(starts) * SLEEP_S / limit
    return {
        "steps": str(len(starts)),
        "limit sent to all ends seen (s)": f"{seen - sent:.2f}",
        "ideal at the limit, sleeps alone (s)": f"{ideal:.2f}",
        "a job's end -> the next job's start, median (ms)": f"{statistics.median(handover):.1f}",
        "a job's end -> the next job's start, p95 (ms)": f"{percentile(handover, 0.95):.1f}",
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
    print_table(f"Tag limit {args.limit}, {args.steps} script steps of {SLEEP_S}s", results)


if __name__ == "__main__":
    main()
