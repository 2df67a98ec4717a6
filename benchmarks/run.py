"""Podium's engine benchmarks: prints a table; never asserts.

W1: one instance of a chain of 100 ``noop`` steps, trigger to SUCCEEDED (ms per step).
W1s: one instance of a chain of 20 ``script`` steps (``true``): the cost of a real process step.
W1k: W1s with a secret param each step prints (sealed, opened, masked in every step's files).
W2: one foreach of 1,000 ``noop`` iterations followed by a join step, trigger to SUCCEEDED.
W3: 200 instances of a 3-step ``noop`` workflow started at once, until all SUCCEEDED.

Each runs against a real ``podium server`` subprocess (SQLite) and, when PostgreSQL is
reachable, a ``podium api`` plus one ``podium worker``. Every time is taken on the client's
clock, from sending the start to seeing the end committed (``observe.py`` says how), never from
the server's own timestamps.

    python benchmarks/run.py [--pg-url postgresql://postgres@127.0.0.1:5432/postgres] [--repeat 5]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg

from podium.credentials import ServerAuth

sys.path.insert(0, str(Path(__file__).resolve().parent))
from observe import all_seen_done, run_to_end, start

ROOT = Path(__file__).resolve().parent.parent


def chain_yaml(workflow_id: str, n: int, step_type: str, *, secret: bool = False) -> str:
    lines = [f"id: {workflow_id}", "step_concurrency: 20"]
    if secret:
        lines += ["params:", "  pw: {type: str, secret: true}"]
    lines.append("steps:")
    for i in range(n):
        lines.append(f"  - id: s{i}")
        lines.append(f"    type: {step_type}")
        if step_type == "script":
            lines.append("    script: 'echo ${ pw }'" if secret else "    script: 'true'")
        if i:
            lines.append(f"    depends_on: [s{i - 1}]")
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return
        time.sleep(0.05)
    raise RuntimeError("server did not become healthy")


@contextlib.contextmanager
def podium(
    db: str, home: Path, procs: list[subprocess.Popen[bytes]] | None = None
) -> Iterator[str]:
    env = {**os.environ, "PODIUM_HOME": str(home), "PODIUM_LOG_LEVEL": "WARNING"}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cli = [sys.executable, "-m", "podium.cli.main"]
    procs = [] if procs is None else procs
    try:
        if db == "sqlite":
            procs.append(subprocess.Popen([*cli, "server", "--port", str(port)], env=env))
        else:
            procs.append(subprocess.Popen([*cli, "api", "--db", db, "--port", str(port)], env=env))
            procs.append(subprocess.Popen([*cli, "worker", "--db", db], env=env))
        wait_healthy(url, procs[0])
        yield url
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def chain(
    client: httpx.Client, n: int, step_type: str, repeat: int, *, secret: bool = False
) -> list[float]:
    """Milliseconds per step, from sending the start to seeing the instance ended; with
    ``secret``, each step prints a secret param (sealed, opened, masked in its log)."""
    wf = f"chain_{step_type}_{uuid.uuid4().hex[:6]}"
    yaml = chain_yaml(wf, n, step_type, secret=secret)
    client.post("/api/v1/workflows", json={"yaml": yaml}).raise_for_status()
    body = {"params": {"pw": uuid.uuid4().hex}} if secret else None
    per_step = []
    for _ in range(repeat):
        took, doc = run_to_end(client, wf, body=body)
        assert doc["status"] == "SUCCEEDED", doc
        per_step.append(took * 1000 / n)
    return per_step


FOREACH_YAML = """
id: {wf}
steps:
  - id: each
    foreach:
      over: {{i: "${{ range({n}) }}"}}
      steps:
        - {{id: work, type: noop}}
  - {{id: join, type: noop, depends_on: [each]}}
"""


def foreach_join(client: httpx.Client, iterations: int, timeout_s: float = 120) -> float:
    wf = f"w2_{uuid.uuid4().hex[:6]}"
    yaml = FOREACH_YAML.format(wf=wf, n=iterations)
    client.post("/api/v1/workflows", json={"yaml": yaml}).raise_for_status()
    took, doc = run_to_end(client, wf, timeout_s=timeout_s)
    assert doc["status"] == "SUCCEEDED", doc
    return took


def fan(client: httpx.Client, instances: int) -> float:
    wf = f"w3_{uuid.uuid4().hex[:6]}"
    client.post("/api/v1/workflows", json={"yaml": chain_yaml(wf, 3, "noop")}).raise_for_status()
    sent = time.time()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: start(client, wf), range(instances)))
    seen, rows = all_seen_done(client, wf, instances, since=sent, timeout_s=120)
    assert all(r["status"] == "SUCCEEDED" for r in rows)
    return seen - sent


def fresh_pg_database(base_url: str) -> str:
    name = f"podium_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return base_url.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(base_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def measure(db: str, repeat: int) -> dict[str, str]:
    with (
        tempfile.TemporaryDirectory() as home,
        podium(db, Path(home)) as url,
        httpx.Client(base_url=url, timeout=30, auth=ServerAuth(url)) as client,
    ):
        chain(client, 20, "noop", 1)  # warm up: plan cache, connections
        w1 = chain(client, 100, "noop", repeat)
        w1s = chain(client, 20, "script", max(1, repeat // 2))
        w1k = chain(client, 20, "script", max(1, repeat // 2), secret=True)
        w2 = statistics.median(foreach_join(client, 1000) for _ in range(3))
        w3 = fan(client, 200)
    return {
        "W1 ms/step, start sent to end seen (median)": f"{statistics.median(w1):.2f}",
        "W1 ms/step (min-max)": f"{min(w1):.2f}-{max(w1):.2f}",
        "W1s script ms/step, start sent to end seen (median)": f"{statistics.median(w1s):.1f}",
        "W1k the same, each step printing a secret param (median)": (
            f"{statistics.median(w1k):.1f}"
        ),
        "W2 foreach 1,000 + join, start sent to end seen (s, median of 3)": f"{w2:.2f}",
        "W3 200 instances, first start sent to all ends seen (s)": f"{w3:.2f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "PODIUM_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    results = {"SQLite": measure("sqlite", args.repeat)}
    if not args.no_pg:
        db = fresh_pg_database(args.pg_url)
        try:
            results["PostgreSQL"] = measure(db, args.repeat)
        finally:
            drop_pg_database(args.pg_url, db)
    print_table("Podium benchmarks", results)


def print_table(title: str, results: dict[str, dict[str, str]]) -> None:
    """The figures as a Markdown table, a column per database, under a line naming the
    machine and the day."""
    print(
        f"# {title}, {time.strftime('%Y-%m-%d')}, {platform.node()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    names = list(results)
    print("| figure | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for key in results[names[0]]:
        print(f"| {key} | " + " | ".join(results[n].get(key, "-") for n in names) + " |")


if __name__ == "__main__":
    main()
