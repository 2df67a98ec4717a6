"""A midnight spike: 10,000 workflows with ``trigger: {cron: "0 0 * * *"}`` and one ``noop``
step, on a real server whose clock (``PODIUM_CLOCK_OFFSET_SECONDS``) stands a few seconds
before midnight UTC. Prints the time from midnight until every instance exists and until
every one SUCCEEDED, and checks that each workflow ran exactly once. Prints a table.

The workflows are pushed first, to a server whose clock is an hour before that midnight
(the push time is printed apart); that server stops and a second one starts on the same
database just before midnight. Every time is what a client sees: this script polls the
database (committed rows only) every 50 ms and notes when the first instance, all instances
and all ends became visible, on its own clock moved by the server's offset; never the
server's timestamps.

    python benchmarks/cron_spike.py [--workflows 10000] [--pg-url URL] [--no-pg]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import sqlalchemy as sa

from podium.credentials import ServerAuth

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import drop_pg_database, free_port, fresh_pg_database, print_table, wait_healthy

BEFORE_MIDNIGHT_S = 10.0
YAML = "id: {wf}\ntrigger: {{cron: '0 0 * * *'}}\nsteps: [{{id: a, type: noop}}]\n"


@contextlib.contextmanager
def server(db: str, home: Path, clock_at: float) -> Iterator[str]:
    """A ``podium server`` (SQLite) or ``podium api`` + ``podium worker`` (PostgreSQL) whose
    clocks read ``clock_at`` now."""
    env = {
        **os.environ,
        "PODIUM_HOME": str(home),
        "PODIUM_LOG_LEVEL": "WARNING",
        "PODIUM_CLOCK_OFFSET_SECONDS": str(clock_at - time.time()),
    }
    port = free_port()
    cli = [sys.executable, "-m", "podium.cli.main"]
    if db.startswith("sqlite"):
        commands = [[*cli, "server", "--db", db, "--port", str(port)]]
    else:
        commands = [[*cli, "api", "--db", db, "--port", str(port)], [*cli, "worker", "--db", db]]
    procs = [subprocess.Popen(c, env=env) for c in commands]
    try:
        wait_healthy(f"http://127.0.0.1:{port}", procs[0], timeout_s=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def push_all(url: str, count: int) -> float:
    started = time.perf_counter()

    def push(chunk: range) -> None:
        with httpx.Client(base_url=url, timeout=60, auth=ServerAuth(url)) as client:
            for i in chunk:
                yaml = YAML.format(wf=f"nightly_{i:05d}")
                client.post("/api/v1/workflows", json={"yaml": yaml}).raise_for_status()

    threads = 8
    chunks = [range(i, count, threads) for i in range(threads)]
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(push, chunks))
    return time.perf_counter() - started


def counts(engine: sa.Engine) -> tuple[int, int]:
    """Instances and SUCCEEDED ones, as committed."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT count(*), sum(CASE WHEN status = 'SUCCEEDED' THEN 1 ELSE 0 END) "
                "FROM instances WHERE parent_pk IS NULL"
            )
        ).one()
    return int(row[0]), int(row[1] or 0)


def measure(db: str, count: int) -> dict[str, str]:
    now = time.time()
    midnight = (now // 86400 + 2) * 86400  # a midnight UTC safely ahead of the real clock
    engine = sa.create_engine(db.replace("postgresql://", "postgresql+psycopg://"))
    with tempfile.TemporaryDirectory() as home:
        with server(db, Path(home), midnight - 3600) as url:
            push_s = push_all(url, count)
        offset = midnight - BEFORE_MIDNIGHT_S - time.time()
        with server(db, Path(home), midnight - BEFORE_MIDNIGHT_S):
            deadline = time.time() + 1800
            first_s = created_s = None
            while time.time() < deadline:
                total, succeeded = counts(engine)
                seen = time.time() + offset - midnight  # the server's clock
                if first_s is None and total > 0:
                    first_s = seen
                if created_s is None and total >= count:
                    created_s = seen
                if succeeded >= count:
                    done_s = seen
                    break
                time.sleep(0.05)
            else:
                raise RuntimeError(f"only {succeeded} of {count} instances SUCCEEDED")
            with engine.connect() as conn:
                per_workflow = conn.execute(
                    sa.text(
                        "SELECT count(*) FROM (SELECT workflow_id, count(*) AS n FROM instances "
                        "WHERE parent_pk IS NULL GROUP BY workflow_id) AS c WHERE n = 1"
                    )
                ).scalar_one()
                fires = conn.execute(sa.text("SELECT count(*) FROM fires")).scalar_one()
    engine.dispose()
    return {
        "workflows": f"{count:,}",
        "push all (8 client threads, s)": f"{push_s:.1f}",
        "midnight to the first instance seen (s)": f"{first_s:.2f}",
        "midnight to all instances seen (s)": f"{created_s:.1f}",
        "midnight to all SUCCEEDED seen (s)": f"{done_s:.1f}",
        "workflows with exactly one instance": f"{per_workflow:,}",
        "fires recorded": f"{fires:,}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workflows", type=int, default=10_000)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "PODIUM_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    results: dict[str, dict[str, str]] = {}
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            results["SQLite"] = measure(f"sqlite:///{tmp}/podium.db", args.workflows)
    if not args.no_pg:
        db = fresh_pg_database(args.pg_url)
        try:
            results["PostgreSQL"] = measure(db, args.workflows)
        finally:
            drop_pg_database(args.pg_url, db)
    print_table("cron spike", results)


if __name__ == "__main__":
    main()
