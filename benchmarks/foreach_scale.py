"""One foreach of 100,000 ``noop`` iterations on a real server: time to SUCCEEDED, the
server's peak memory, and how long ``podium status`` of that instance takes. Prints a table.
Times are on the client's clock, from sending the start to seeing the end (``observe.py``).

    python benchmarks/foreach_scale.py [--iterations 100000] [--pg-url URL] [--no-pg]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from podium.credentials import ServerAuth

sys.path.insert(0, str(Path(__file__).resolve().parent))
from observe import run_to_end
from run import FOREACH_YAML, drop_pg_database, fresh_pg_database, podium, print_table


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(db: str, iterations: int) -> dict[str, str]:
    procs: list[subprocess.Popen[bytes]] = []
    with (
        tempfile.TemporaryDirectory() as home,
        podium(db, Path(home), procs) as url,
        httpx.Client(base_url=url, timeout=60, auth=ServerAuth(url)) as client,
    ):
        wf = f"scale_{uuid.uuid4().hex[:6]}"
        client.post(
            "/api/v1/workflows", json={"yaml": FOREACH_YAML.format(wf=wf, n=iterations)}
        ).raise_for_status()
        took, doc = run_to_end(client, wf, timeout_s=1800)
        assert doc["status"] == "SUCCEEDED", doc["status"]
        iid = doc["instance_id"]
        status_s = []
        for _ in range(5):
            started = time.perf_counter()
            client.get(f"/api/v1/workflows/{wf}/instances/{iid}").raise_for_status()
            status_s.append(time.perf_counter() - started)
        # The engine runs in the server (SQLite) or in the worker (PostgreSQL): the last one.
        memory = peak_rss_mb(procs[-1].pid)
    return {
        "iterations": f"{iterations:,}",
        "start sent to SUCCEEDED seen (s)": f"{took:.1f}",
        "iterations per second": f"{iterations / took:,.0f}",
        "engine process peak memory (MB)": f"{memory:.0f}",
        "status of that instance (ms, median of 5)": f"{statistics.median(status_s) * 1000:.0f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=100_000)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "PODIUM_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    results = {"SQLite": measure("sqlite", args.iterations)}
    if not args.no_pg:
        db = fresh_pg_database(args.pg_url)
        try:
            results["PostgreSQL"] = measure(db, args.iterations)
        finally:
            drop_pg_database(args.pg_url, db)
    print_table("foreach at scale", results)


if __name__ == "__main__":
    main()
