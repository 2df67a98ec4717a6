"""Status reads while the engine is busy: how many a second the API serves, and how long they take.

A real ``podium server`` (SQLite) and, when PostgreSQL is reachable, a ``podium api`` plus one
``podium worker``. The engine is kept busy by instances of a chain of ``script`` steps started
all along; meanwhile client processes (each with threads of its own) read the status of one
instance in a loop for a fixed time. Every latency is taken on the client's clock, from sending
the request to having the whole answer; a 429 (shed) counts as shed, not as a read.

    python benchmarks/status_reads.py [--seconds 10] [--processes 4] [--threads 8]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

from podium.credentials import ServerAuth, token_for

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import chain_yaml, drop_pg_database, fresh_pg_database, podium, print_table


def reader(url: str, token: str, path: str, seconds: float, threads: int) -> list[float]:
    """One client process: ``threads`` loops of GET ``path``; latencies in ms (-1 for a 429)."""
    found: list[float] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def loop() -> None:
        mine: list[float] = []
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
            while time.monotonic() < stop_at:
                sent = time.perf_counter()
                response = client.get(path)
                took = (time.perf_counter() - sent) * 1000
                mine.append(-1.0 if response.status_code == 429 else took)
        with lock:
            found.extend(mine)

    pool = [threading.Thread(target=loop) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return found


def measure(db: str, seconds: float, processes: int, threads: int, every: float) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as home, podium(db, Path(home)) as url:
        token = token_for(url)
        assert token
        client = httpx.Client(base_url=url, timeout=30, auth=ServerAuth(url))
        wf = f"busy_{uuid.uuid4().hex[:6]}"
        client.post("/api/v1/workflows", json={"yaml": chain_yaml(wf, 10, "script")})
        first = client.post(f"/api/v1/workflows/{wf}/instances", json={}).json()["instance_id"]
        path = f"/api/v1/workflows/{wf}/instances/{first}"
        busy = threading.Event()

        def keep_busy() -> None:  # the engine runs jobs all along
            while not busy.is_set():
                client.post(f"/api/v1/workflows/{wf}/instances", json={})
                time.sleep(every)

        feeder = threading.Thread(target=keep_busy, daemon=True)
        feeder.start()
        time.sleep(1.0)
        with concurrent.futures.ProcessPoolExecutor(
            processes, mp_context=multiprocessing.get_context("spawn")
        ) as pool:
            runs = [
                pool.submit(reader, url, token, path, seconds, threads) for _ in range(processes)
            ]
            latencies = [ms for run in runs for ms in run.result()]
        busy.set()
        feeder.join()
        client.close()
    served = sorted(ms for ms in latencies if ms >= 0)
    shed = sum(1 for ms in latencies if ms < 0)
    p99 = served[int(len(served) * 0.99) - 1] if served else float("nan")
    return {
        "status reads a second, engine busy": f"{len(served) / seconds:.0f}",
        "latency p50 (ms)": f"{statistics.median(served):.1f}" if served else "-",
        "latency p99 (ms)": f"{p99:.1f}",
        "shed (429) a second": f"{shed / seconds:.0f}",
        "clients (processes x threads)": f"{processes} x {threads}",
        "engine load: a 10-step script chain started every": f"{every:g} s",
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "PODIUM_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--every", type=float, default=0.2, help="seconds between busy starts")
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    figures = (args.seconds, args.processes, args.threads, args.every)
    results = {"SQLite": measure("sqlite", *figures)}
    if not args.no_pg:
        db = fresh_pg_database(args.pg_url)
        try:
            results["PostgreSQL"] = measure(db, *figures)
        finally:
            drop_pg_database(args.pg_url, db)
    print_table("Podium status reads", results)


if __name__ == "__main__":
    main()
