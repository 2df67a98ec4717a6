"""Status reads while the engine is busy: how many a second the API serves, and how long they take.

A real ``podium server`` (SQLite) and, when PostgreSQL is reachable, a ``podium api`` plus one
``podium worker``. The engine is kept busy by instances of a chain of ``script`` steps started
all along; meanwhile client processes (each with threads of its own) read the status of one
instance in a loop for a fixed time: first an instance that has ended (what a UI or a
dashboard looks at most), then one that is running (a step that sleeps), each its own row. Every latency is taken on the client's clock, from sending
the request to having the whole answer; a 429 (shed) counts as shed, not as a read.

    python benchmarks/status_reads.py [--seconds 10] [--processes 4] [--threads 8] [--wrk]

The Python clients spend about 0.6 ms of CPU on a read, on the same 2 cores as the server.
With ``--wrk`` (Debian's ``wrk``, a load generator in C: ``apt-get install wrk``) the same
number of connections (processes x threads) is driven by it instead, which leaves the cores to
the server: the server's capacity rather than the clients'. Its latencies are on its clock.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
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


RUNNING_YAML = """\
id: {wf}
steps:
  - {{id: a, type: script, script: "true"}}
  - {{id: b, type: script, script: "sleep 600", depends_on: [a]}}
"""


def wrk_figures(
    which: str, url: str, token: str, path: str, seconds: float, connections: int
) -> dict[str, str]:
    """The same figures, taken by wrk over ``connections`` kept-alive connections."""
    wrk = shutil.which("wrk")
    assert wrk, "--wrk needs wrk: apt-get install wrk"
    done = subprocess.run(
        [wrk, "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-H",
         f"Authorization: Bearer {token}", url + path],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    out = done.stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    shed = int(non_2xx.group(1)) if non_2xx else 0
    percent = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    return {
        f"{which} instance: status reads a second, engine busy": f"{(total - shed) / seconds:.0f}",
        f"{which} instance: latency p50 (ms)": _ms(percent["50"]),
        f"{which} instance: latency p99 (ms)": _ms(percent["99"]),
        f"{which} instance: shed (429) a second": f"{shed / seconds:.0f}",
    }


def _ms(text: str) -> str:
    """wrk's ``53.43ms``, ``1.20s`` or ``950.00us``, in ms."""
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return f"{float(number) * {'us': 0.001, 'ms': 1.0, 's': 1000.0}[unit]:.1f}"


def measure(
    db: str, seconds: float, processes: int, threads: int, every: float, use_wrk: bool = False
) -> dict[str, str]:
    figures: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as home, podium(db, Path(home)) as url:
        token = token_for(url)
        assert token
        client = httpx.Client(base_url=url, timeout=30, auth=ServerAuth(url))
        wf = f"busy_{uuid.uuid4().hex[:6]}"
        client.post("/api/v1/workflows", json={"yaml": chain_yaml(wf, 10, "script")})
        first = client.post(f"/api/v1/workflows/{wf}/instances", json={}).json()["instance_id"]
        slow = f"slow_{uuid.uuid4().hex[:6]}"
        client.post("/api/v1/workflows", json={"yaml": RUNNING_YAML.format(wf=slow)})
        running = client.post(f"/api/v1/workflows/{slow}/instances", json={}).json()
        busy = threading.Event()

        def keep_busy() -> None:  # the engine runs jobs all along
            while not busy.is_set():
                client.post(f"/api/v1/workflows/{wf}/instances", json={})
                time.sleep(every)

        feeder = threading.Thread(target=keep_busy, daemon=True)
        feeder.start()
        time.sleep(1.0)
        paths = {
            "ended": f"/api/v1/workflows/{wf}/instances/{first}",
            "running": f"/api/v1/workflows/{slow}/instances/{running['instance_id']}",
        }
        assert client.get(paths["ended"]).json()["status"] == "SUCCEEDED"
        assert client.get(paths["running"]).json()["status"] == "IN_PROGRESS"
        for which, path in paths.items():
            if use_wrk:
                figures.update(wrk_figures(which, url, token, path, seconds, processes * threads))
                continue
            with concurrent.futures.ProcessPoolExecutor(
                processes, mp_context=multiprocessing.get_context("spawn")
            ) as pool:
                runs = [
                    pool.submit(reader, url, token, path, seconds, threads)
                    for _ in range(processes)
                ]
                latencies = [ms for run in runs for ms in run.result()]
            figures.update(_figures(which, latencies, seconds))
        busy.set()
        feeder.join()
        client.post(f"/api/v1/workflows/{slow}/instances/{running['instance_id']}/stop")
        client.close()
    figures["clients (processes x threads)"] = (
        f"wrk, {processes * threads} connections" if use_wrk else f"{processes} x {threads}"
    )
    figures["engine load: a 10-step script chain started every"] = f"{every:g} s"
    return figures


def _figures(which: str, latencies: list[float], seconds: float) -> dict[str, str]:
    served = sorted(ms for ms in latencies if ms >= 0)
    shed = sum(1 for ms in latencies if ms < 0)
    p99 = served[int(len(served) * 0.99) - 1] if served else float("nan")
    return {
        f"{which} instance: status reads a second, engine busy": f"{len(served) / seconds:.0f}",
        f"{which} instance: latency p50 (ms)": (
            f"{statistics.median(served):.1f}" if served else "-"
        ),
        f"{which} instance: latency p99 (ms)": f"{p99:.1f}",
        f"{which} instance: shed (429) a second": f"{shed / seconds:.0f}",
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
    parser.add_argument("--wrk", action="store_true", help="drive the load with wrk (in C)")
    args = parser.parse_args()
    figures = (args.seconds, args.processes, args.threads, args.every, args.wrk)
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
