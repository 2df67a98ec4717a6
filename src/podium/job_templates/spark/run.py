"""The ``spark`` template: a SparkSession for the step's code and/or query.

Outputs: those the code sets with ``set_output``; with ``query``, ``rows`` (the row count),
``columns`` and ``result`` (the first ``sample`` rows as objects).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from podium.job import param, set_output


def fail(message: str) -> NoReturn:
    """End the job with ``message``: in the log, and as the step's error (the attempt's
    ``error`` file, beside ``PODIUM_PARAMS``)."""
    params_file = os.environ.get("PODIUM_PARAMS")
    if params_file:
        with contextlib.suppress(OSError):
            (Path(params_file).parent / "error").write_text(message, encoding="utf-8")
    sys.exit(message)


def session(master: str, conf: dict[str, Any], app_name: str) -> Any:
    try:
        spark_sql = importlib.import_module("pyspark.sql")
    except ImportError as exc:
        fail(
            f"pyspark is not installed on this worker: {exc}; install it where the worker runs "
            "(pip install pyspark) together with a Java runtime (java -version must work)"
        )
    builder = spark_sql.SparkSession.builder.master(master).appName(app_name)
    for key, value in conf.items():
        builder = builder.config(key, str(value))
    return builder.getOrCreate()


def plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if hasattr(value, "asDict"):
        return plain(value.asDict(recursive=True))
    return str(value)


def main() -> None:
    code: str | None = param("code", default=None)
    query: str | None = param("query", default=None)
    if not code and not query:
        fail("spark: give 'code' (PySpark code) or 'query' (Spark SQL), or both")
    master: str = param("master", default="local[*]")
    conf: dict[str, Any] = param("conf", default=None) or {}
    default_name = f"{os.environ.get('PODIUM_WORKFLOW_ID', 'podium')}.{os.environ.get('PODIUM_STEP_ID', 'spark')}"
    app_name: str = param("app_name", default=None) or default_name
    sample: int = param("sample", default=20)
    print(f"spark: starting a session on {master}")
    spark = session(master, conf, app_name)
    try:
        if code:
            namespace = {"spark": spark, "param": param, "set_output": set_output}
            exec(compile(code, "<code>", "exec"), namespace)
        if query:
            frame = spark.sql(query)
            rows = frame.collect()
            set_output("rows", len(rows))
            set_output("columns", list(frame.columns))
            set_output("result", [plain(row.asDict(recursive=True)) for row in rows[:sample]])
            print(f"spark: {len(rows)} row(s)")
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
