"""Expression language benchmark: prints figures; never asserts.

E1: evaluations per second of a typical parameter expression, parse cached
    (``${ dates.add(start, days=n) }``), straight on a Template and through ``resolve``.
E2: resolving the params of a 100-step workflow (5 params a step: literals, text
    interpolation, typed values, a small code block), cold (parsing) and warm (cached).

    python benchmarks/expr_bench.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from podium.expr import Namespace, Template, resolve
from podium.expr.resolve import parse_code, parse_template


def rate(work: Callable[[], Any], seconds: float) -> float:
    """Calls per second of ``work``, measured for about ``seconds``."""
    count = 0
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        for _ in range(100):
            work()
        count += 100
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - started)


def workflow_params(steps: int) -> list[dict[str, Any]]:
    return [
        {
            "day": "${ run.date }",
            "out_path": f"/data/out/{index}/" + "${ run.date }/part-${ n }.parquet",
            "retries": 3,
            "window": "${ dates.between(dates.add(run.date, days=-n), run.date) }",
            "batch": {"code": "total = 0\nfor d in plan.dates:\n    total += 1\nreturn total * n"},
        }
        for index in range(steps)
    ]


def scope() -> dict[str, Any]:
    return {
        "start": 20240101,
        "n": 7,
        "run": Namespace({"date": 20240315, "workflow_id": "bench"}, name="run", member="field"),
        "plan": Namespace({"dates": [20240101, 20240102, 20240103]}, name="plan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    values = scope()
    text = "${ dates.add(start, days=n) }"
    template = Template.parse(text)
    direct = rate(lambda: template.evaluate(values), args.seconds)
    cached = rate(lambda: resolve(text, values), args.seconds)
    print(f"E1  {text}")
    print(f"    Template.evaluate (parsed once)  {direct:>10,.0f} evaluations/s")
    print(f"    resolve (LRU parse cache)        {cached:>10,.0f} evaluations/s")

    params = workflow_params(100)
    parse_template.cache_clear()
    parse_code.cache_clear()
    started = time.perf_counter()
    for p in params:
        resolve(p, values)
    cold_ms = (time.perf_counter() - started) * 1000
    repeats = 20
    started = time.perf_counter()
    for _ in range(repeats):
        for p in params:
            resolve(p, values)
    warm_ms = (time.perf_counter() - started) * 1000 / repeats
    print("E2  params of a 100-step workflow (5 params a step, 400 expressions)")
    print(f"    cold (parse + evaluate)          {cold_ms:>10.2f} ms")
    print(
        f"    warm (cached parses)             {warm_ms:>10.2f} ms  ({warm_ms * 10:.1f} µs a step)"
    )


if __name__ == "__main__":
    main()
