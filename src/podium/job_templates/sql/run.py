"""The ``sql`` template: run one query, hand back what it returned.

Outputs: ``rows`` (the row count), ``columns`` (their names), ``result`` (the first
``sample`` rows as objects) and, with ``save``, ``file`` (the path of the saved result).
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import decimal
import os
import sys
import uuid
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


SAVE_FORMATS = ("csv", "parquet")


def json_safe(value: Any) -> Any:
    """A value JSON can hold: dates, decimals, uuids and bytes become text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, datetime.date | datetime.time | decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def run_duckdb(query: str, database: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    import duckdb

    with duckdb.connect(database) as conn:
        cursor = conn.execute(query)
        if cursor.description is None:
            return [], []
        columns = [d[0] for d in cursor.description]
        return columns, cursor.fetchall()


def run_sqlalchemy(query: str, url: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.exec_driver_sql(query)
            if not result.returns_rows:
                return [], []
            return list(result.keys()), [tuple(row) for row in result]
    finally:
        engine.dispose()


def save(columns: list[str], rows: list[tuple[Any, ...]], kind: str) -> Path:
    folder = Path(os.environ.get("PODIUM_ARTIFACTS") or ".")
    folder.mkdir(parents=True, exist_ok=True)
    step = os.environ.get("PODIUM_STEP_ID", "result")
    csv_path = folder / f"{step}.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows([[json_safe(v) for v in row] for row in rows])
    if kind == "csv":
        return csv_path.resolve()
    import duckdb

    parquet_path = folder / f"{step}.parquet"
    with duckdb.connect() as conn:
        source = str(csv_path).replace("'", "''")
        target = str(parquet_path).replace("'", "''")
        conn.execute(
            f"COPY (SELECT * FROM read_csv_auto('{source}')) TO '{target}' (FORMAT parquet)"
        )
    csv_path.unlink()
    return parquet_path.resolve()


def main() -> None:
    query: str = param("query")
    url: str | None = param("url", default=None)
    sample: int = param("sample", default=20)
    kind: str | None = param("save", default=None)
    if kind is not None and kind not in SAVE_FORMATS:
        fail(f"sql: save must be one of {', '.join(SAVE_FORMATS)}, not {kind!r}")
    try:
        if not url or url.startswith("duckdb://"):
            database = (url or "duckdb:///:memory:").removeprefix("duckdb:///") or ":memory:"
            print(f"sql: running on DuckDB ({database})")
            columns, rows = run_duckdb(query, database)
        else:
            print(f"sql: running on {url.split('://', 1)[0]}")
            columns, rows = run_sqlalchemy(query, url)
    except Exception as exc:  # the database's own message is what the user needs
        fail(f"sql: the query failed: {type(exc).__name__}: {exc}")
    print(f"sql: {len(rows)} row(s)")
    set_output("rows", len(rows))
    set_output("columns", columns)
    set_output(
        "result", [dict(zip(columns, json_safe(list(r)), strict=True)) for r in rows[:sample]]
    )
    if kind is not None:
        path = save(columns, rows, kind)
        print(f"sql: saved {path}")
        set_output("file", str(path))


if __name__ == "__main__":
    main()
