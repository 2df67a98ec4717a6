"""Launch overhead per job kind: from sending the start of a one-step workflow to the first
thing its job does (the job returns ``time.time()`` at once as the output ``first``), and to
seeing the instance ended. Both on this machine's clock, never from the server's timestamps:
the first includes the start request, the instance's creation and the step's, the second also
the job's end noticed and committed (``observe.py``).

Runs against a real ``podium server`` subprocess (SQLite) and, with ``--pg-url``, a
``podium api`` plus one ``podium worker`` on PostgreSQL. Prints a table; never asserts.
A job kind is one entry in ``JOB_KINDS``: a name and the body of a step whose job returns
``first`` before doing anything else.

    python benchmarks/launch_overhead.py [--repeat 10] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from podium.credentials import ServerAuth

sys.path.insert(0, str(Path(__file__).resolve().parent))
from observe import seen_done, start
from run import drop_pg_database, fresh_pg_database, podium, print_table

from podium.definition import canonical_yaml, load_workflow


@dataclass(frozen=True)
class JobKind:
    name: str
    step: Callable[[Path], dict[str, Any]]
    """The step's body (type and job keys); files it needs go in the given directory."""


def script_step(_: Path) -> dict[str, Any]:
    return {"type": "script", "script": 'echo "{\\"first\\": $EPOCHREALTIME}" > "$PODIUM_OUTPUTS"'}


def notebook_step(directory: Path) -> dict[str, Any]:
    source = "import time\nfirst = time.time()\nfrom podium.job import set_output\n"
    source += "set_output('first', first)"
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": []}
    notebook = {
        "cells": [{**cell, "source": source}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    (directory / "first.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    return {"type": "notebook", "path": "first.ipynb"}


BENCH_IMAGE = "podium-bench-busybox:latest"


def container_step(_: Path) -> dict[str, Any]:
    """A busybox image made locally (``docker import`` of a root filesystem: nothing pulled)."""
    import io
    import tarfile

    import docker
    import docker.errors

    client = docker.from_env()
    try:
        client.images.get(BENCH_IMAGE)
    except docker.errors.ImageNotFound:
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            tar.add("/bin/busybox", arcname="bin/busybox")
            link = tarfile.TarInfo("bin/sh")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        repository, tag = BENCH_IMAGE.split(":")
        client.api.import_image_from_data(archive.getvalue(), repository=repository, tag=tag)
    finally:
        client.close()
    command = 'echo "{\\"first\\": $EPOCHREALTIME}" > "$PODIUM_OUTPUTS"'
    return {"type": "container", "image": BENCH_IMAGE, "command": ["sh", "-c", command]}


JOB_KINDS = [
    JobKind("script", script_step),
    JobKind("notebook", notebook_step),
    JobKind("container", container_step),  # needs dockerd and /bin/busybox (busybox-static)
]


def workflow_yaml(workflow_id: str, kind: JobKind, directory: Path) -> str:
    """The canonical text, as `podium push` sends it (files next to the workflow inlined)."""
    step = {"id": "job", **kind.step(directory), "outputs": ["first"]}
    text = yaml.safe_dump({"id": workflow_id, "steps": [step]}, sort_keys=False)
    return canonical_yaml(load_workflow(text, base_dir=directory))


def overhead_ms(
    client: httpx.Client, kind: JobKind, repeat: int, directory: Path
) -> tuple[list[float], list[float]]:
    """Per run: start sent -> job's first instruction, and start sent -> end seen (ms)."""
    wf = f"launch_{kind.name}_{uuid.uuid4().hex[:6]}"
    pushed = client.post("/api/v1/workflows", json={"yaml": workflow_yaml(wf, kind, directory)})
    pushed.raise_for_status()
    to_job, to_end = [], []
    for _ in range(repeat + 1):  # the first run warms up caches and imports
        sent = time.time()
        iid = start(client, wf)
        seen, doc = seen_done(client, wf, iid, since=sent, timeout_s=120)
        assert doc["status"] == "SUCCEEDED", doc
        first = float(doc["steps"][0]["outputs"]["first"])
        to_job.append((first - sent) * 1000)
        to_end.append((seen - sent) * 1000)
    return to_job[1:], to_end[1:]


def measure(db: str, repeat: int, kinds: list[JobKind]) -> dict[str, str]:
    with (
        tempfile.TemporaryDirectory() as home,
        podium(db, Path(home)) as url,
        httpx.Client(base_url=url, timeout=30, auth=ServerAuth(url)) as client,
    ):
        results = {}
        for kind in kinds:
            to_job, to_end = overhead_ms(client, kind, repeat, Path(home))
            for label, figures in (("job starts", to_job), ("end seen", to_end)):
                key = f"{kind.name}: start sent to {label} (ms)"
                results[f"{key}, median"] = f"{statistics.median(figures):.0f}"
                results[f"{key}, min-max"] = f"{min(figures):.0f}-{max(figures):.0f}"
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--pg-url", help="also measure on PostgreSQL (a server database URL)")
    parser.add_argument(
        "--kinds", default=",".join(k.name for k in JOB_KINDS), help="comma-separated job kinds"
    )
    args = parser.parse_args()
    kinds = [k for k in JOB_KINDS if k.name in args.kinds.split(",")]
    results = {"SQLite": measure("sqlite", args.repeat, kinds)}
    if args.pg_url:
        db = fresh_pg_database(args.pg_url)
        try:
            results["PostgreSQL"] = measure(db, args.repeat, kinds)
        finally:
            drop_pg_database(args.pg_url, db)
    print_table("Launch overhead per job kind", results)


if __name__ == "__main__":
    main()
