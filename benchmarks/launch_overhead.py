"""Launch overhead per job kind: from a step's start (its ``started_at``) to the first thing
its job does (the job returns ``time.time()`` at once as the output ``first``).

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
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import drop_pg_database, fresh_pg_database, podium, print_table, ts, wait_done

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


def overhead_ms(client: httpx.Client, kind: JobKind, repeat: int, directory: Path) -> list[float]:
    wf = f"launch_{kind.name}_{uuid.uuid4().hex[:6]}"
    pushed = client.post("/api/v1/workflows", json={"yaml": workflow_yaml(wf, kind, directory)})
    pushed.raise_for_status()
    figures = []
    for _ in range(repeat + 1):  # the first run warms up caches and imports
        iid = client.post(f"/api/v1/workflows/{wf}/instances", json={}).json()["instance_id"]
        doc = wait_done(client, wf, iid)
        assert doc["status"] == "SUCCEEDED", doc
        step = doc["steps"][0]  # type: ignore[index]
        figures.append((float(step["outputs"]["first"]) - ts(str(step["started_at"]))) * 1000)
    return figures[1:]


def measure(db: str, repeat: int) -> dict[str, str]:
    with (
        tempfile.TemporaryDirectory() as home,
        podium(db, Path(home)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        results = {}
        for kind in JOB_KINDS:
            figures = overhead_ms(client, kind, repeat, Path(home))
            label = f"{kind.name}: step start to job start (ms)"
            results[f"{label}, median"] = f"{statistics.median(figures):.0f}"
            results[f"{label}, min-max"] = f"{min(figures):.0f}-{max(figures):.0f}"
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--pg-url", help="also measure on PostgreSQL (a server database URL)")
    args = parser.parse_args()
    results = {"SQLite": measure("sqlite", args.repeat)}
    if args.pg_url:
        db = fresh_pg_database(args.pg_url)
        try:
            results["PostgreSQL"] = measure(db, args.repeat)
        finally:
            drop_pg_database(args.pg_url, db)
    print_table("Launch overhead per job kind", results)


if __name__ == "__main__":
    main()
