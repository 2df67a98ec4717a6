"""Benchmark figures count from the trigger to the moment a client sees the result committed,
never from the engine's own stamps (docs/decisions.md, 43)."""

from __future__ import annotations

import re
import sys
from datetime import datetime
from pathlib import Path

from tests.support import Podium

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from observe import run_to_end  # noqa: E402


def test_no_benchmark_reads_the_engines_stamps() -> None:
    stamps = re.compile(r"\b(created_at|started_at|ended_at)\b")
    readers = {
        path.name: [
            n for n, line in enumerate(path.read_text().splitlines(), 1) if stamps.search(line)
        ]
        for path in sorted(BENCHMARKS.glob("*.py"))
    }
    assert {name: lines for name, lines in readers.items() if lines} == {}


def test_a_chain_counts_until_its_end_is_visible(podium: Podium) -> None:
    steps = "\n".join(
        f"  - {{id: s{i}, type: noop{f', depends_on: [s{i - 1}]' if i else ''}}}"
        for i in range(100)
    )
    podium.push(f"id: chain\nsteps:\n{steps}\n")
    took, doc = run_to_end(podium.client, "chain")
    assert doc["status"] == "SUCCEEDED"
    stamped = (
        datetime.fromisoformat(doc["ended_at"]) - datetime.fromisoformat(doc["created_at"])
    ).total_seconds()
    # The whole cascade is stamped at the moment its transaction began; a client waits for
    # the start request and the commit on top of it.
    assert took > stamped
