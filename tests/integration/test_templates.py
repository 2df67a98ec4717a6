"""Job templates end to end on both databases: a real DuckDB query, parameters checked at
push, registered templates looked up when each job starts, and the spark template's wiring."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from tests.support import Podium, in_ci

SQL_REPORT = """
id: sql_flow
params:
  low: 2
steps:
  - id: totals
    type: sql
    params:
      query: |
        CREATE TABLE sales AS SELECT * FROM (VALUES ('a', 1), ('b', ${ low }), ('b', 5)) t(k, v);
        SELECT k, sum(v) AS total FROM sales GROUP BY k ORDER BY k
      save: parquet
    outputs: [rows, result]
  - id: check
    type: python
    depends_on: [totals]
    params:
      rows: "${ totals.rows }"
      best: "${ totals.result[-1]['total'] }"
    script: |
      from podium.job import param, set_output
      set_output("line", f"{param('rows')} groups, best {param('best')}")
    outputs: [line]
"""


def _log(podium: Podium, workflow_id: str, iid: int, step: str) -> str:
    response = podium.client.get(
        f"/api/v1/workflows/{workflow_id}/instances/{iid}/steps/{step}/logs"
    )
    return str(response.json()["text"])


def test_a_sql_step_runs_on_duckdb_and_its_rows_are_read_downstream(podium: Podium) -> None:
    podium.push(SQL_REPORT)
    iid = podium.run("sql_flow")
    doc = podium.wait("sql_flow", iid, timeout_s=60)
    assert doc["status"] == "SUCCEEDED", doc
    steps = podium.steps(doc)
    totals = steps["totals"]
    assert totals["outputs"]["rows"] == 2
    assert totals["outputs"]["columns"] == ["k", "total"]
    assert totals["outputs"]["result"] == [{"k": "a", "total": 1}, {"k": "b", "total": 7}]
    saved = Path(totals["outputs"]["file"])
    assert saved.suffix == ".parquet" and saved.is_file()
    assert steps["check"]["outputs"]["line"] == "2 groups, best 7"
    assert "sql: running on DuckDB" in _log(podium, "sql_flow", iid, "totals")


def test_a_sql_step_runs_on_any_sqlalchemy_url(podium: Podium, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data.db'}"
    podium.push(
        f"""
id: sql_sqlite
steps:
  - id: q
    type: sql
    params: {{url: "{url}", query: "SELECT 1 AS one, 'x' AS two", sample: 1}}
"""
    )
    doc = podium.wait("sql_sqlite", podium.run("sql_sqlite"), timeout_s=60)
    assert doc["status"] == "SUCCEEDED", doc
    assert podium.steps(doc)["q"]["outputs"]["result"] == [{"one": 1, "two": "x"}]


def test_a_failing_query_fails_the_step_with_the_database_error(podium: Podium) -> None:
    podium.push("id: sql_bad\nsteps: [{id: q, type: sql, params: {query: SELEC 1}}]")
    doc = podium.wait("sql_bad", podium.run("sql_bad"), timeout_s=60)
    assert doc["status"] == "FAILED"
    error = podium.steps(doc)["q"]["error"]
    assert "sql: the query failed: ParserException" in error["log_tail"]
    assert 'syntax error at or near "SELEC"' in error["log_tail"]


@pytest.mark.parametrize(
    ("step", "fragment"),
    [
        ("{id: q, type: sql, params: {qery: x}}", "no parameter 'qery' (did you mean 'query'?)"),
        ("{id: q, type: sql, params: {url: x}}", "needs the parameter 'query'"),
        ("{id: q, type: sql, params: {query: x, sample: many}}", "must be of type int"),
        ("{id: q, type: sql, script: x, params: {query: x}}", "does not apply to template"),
        ("{id: q, type: sqll, params: {query: x}}", "unknown step type 'sqll' (did you mean"),
    ],
)
def test_bad_template_parameters_are_refused_at_push(
    podium: Podium, step: str, fragment: str
) -> None:
    response = podium.client.post(
        "/api/v1/workflows", json={"yaml": f"id: refused\nsteps: [{step}]"}
    )
    assert response.status_code == 400, response.text
    problems = response.json()["error"]["details"]["problems"]
    assert any(fragment in p["message"] for p in problems), problems
    assert podium.client.get("/api/v1/workflows/refused").status_code == 404


GREET_V1 = """
from podium.job import param, set_output
set_output("text", f"hello {param('who')}")
"""
GREET_V2 = """
from podium.job import param, set_output
set_output("text", f"{param('greeting')}, {param('who')}!")
"""
USES_GREET = """
id: greets
steps:
  - id: say
    type: greet
    params: {who: "${ run.instance_id }"}
    outputs: [text]
"""


def _register(podium: Podium, script: str, parameters: dict[str, object]) -> dict[str, object]:
    response = podium.client.post(
        "/api/v1/templates",
        json={
            "name": "greet",
            "description": "Greets.",
            "script": script,
            "parameters": parameters,
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_a_registered_template_runs_and_a_fix_applies_to_the_next_run(podium: Podium) -> None:
    refused = podium.client.post("/api/v1/workflows", json={"yaml": USES_GREET})
    assert refused.status_code == 400
    assert "unknown step type 'greet'" in refused.text
    first = _register(podium, GREET_V1, {"who": {"type": "any", "required": True}})
    assert first["version"] == 1 and first["source"] == "registered"
    podium.push(USES_GREET)
    doc = podium.wait("greets", podium.run("greets"), timeout_s=60)
    assert doc["status"] == "SUCCEEDED", doc
    assert podium.steps(doc)["say"]["outputs"]["text"] == "hello 1"
    fixed = _register(
        podium,
        GREET_V2,
        {"who": {"type": "any", "required": True}, "greeting": {"type": "string", "default": "hi"}},
    )
    assert fixed["version"] == 2
    doc = podium.wait("greets", podium.run("greets"), timeout_s=60)
    assert doc["status"] == "SUCCEEDED", doc
    assert podium.steps(doc)["say"]["outputs"]["text"] == "hi, 2!"
    listed = podium.client.get("/api/v1/templates").json()["templates"]
    by_name = {t["name"]: t for t in listed}
    assert {"sql", "spark", "greet"} <= set(by_name)
    assert by_name["greet"]["version"] == 2
    assert by_name["greet"]["parameters"]["greeting"] == {
        "type": "string",
        "required": False,
        "default": "hi",
    }
    assert by_name["sql"]["source"] == "shipped"
    assert by_name["sql"]["parameters"]["query"]["required"] is True


def test_a_template_fix_that_drops_a_parameter_fails_the_steps_still_using_it(
    podium: Podium,
) -> None:
    _register(podium, GREET_V1, {"who": {"type": "any", "required": True}})
    podium.push(USES_GREET)
    _register(podium, GREET_V1.replace("param('who')", "'all'"), {})
    doc = podium.wait("greets", podium.run("greets"), timeout_s=60)
    assert doc["status"] == "FAILED"
    message = podium.steps(doc)["say"]["error"]["message"]
    assert "template 'greet' (version 2)" in message and "'who'" in message


def test_a_bad_template_is_refused_at_registration(podium: Podium) -> None:
    response = podium.client.post(
        "/api/v1/templates",
        json={"name": "python", "script": "", "parameters": {"x": {"type": "integer"}}},
    )
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "built-in step type" in message
    assert "script" in message and "unknown type 'integer'" in message
    missing = podium.client.get("/api/v1/templates/sqll")
    assert missing.status_code == 404
    assert "did you mean 'sql'" in missing.json()["error"]["message"]


SPARK = """
id: spark_flow
steps:
  - id: count
    type: spark
    params:
      master: local[1]
      conf: {spark.ui.enabled: "false", spark.sql.shuffle.partitions: "1"}
      code: |
        frame = spark.range(10)
        set_output("evens", frame.filter("id % 2 = 0").count())
      query: SELECT 'x' AS k, 40 + 2 AS v
    outputs: [evens, rows, result]
"""

HAS_SPARK = importlib.util.find_spec("pyspark") is not None and shutil.which("java") is not None


@pytest.mark.slow
def test_a_spark_step_runs_in_local_mode(podium: Podium) -> None:
    if not HAS_SPARK:
        missing = "pyspark (pip install -e '.[spark]') and a Java runtime"
        if in_ci():
            pytest.fail(f"{missing} must be installed in CI (.ci/run installs them)")
        pytest.skip(f"{missing} are not installed here")
    podium.push(SPARK)
    doc = podium.wait("spark_flow", podium.run("spark_flow"), timeout_s=240)
    assert doc["status"] == "SUCCEEDED", doc
    outputs = podium.steps(doc)["count"]["outputs"]
    assert outputs["evens"] == 5
    assert outputs["rows"] == 1 and outputs["result"] == [{"k": "x", "v": 42}]


def test_a_spark_step_without_pyspark_fails_with_a_clear_error(podium: Podium) -> None:
    """A fix of the shipped template registered on the server hides pyspark from its
    script: a worker without pyspark, whatever is installed here."""
    _register_spark_without_pyspark(podium)
    podium.push(SPARK)
    doc = podium.wait("spark_flow", podium.run("spark_flow"), timeout_s=60)
    assert doc["status"] == "FAILED"
    error = podium.steps(doc)["count"]["error"]
    assert "pyspark is not installed on this worker" in error["log_tail"]


def _register_spark_without_pyspark(podium: Podium) -> None:
    shipped = podium.client.get("/api/v1/templates/spark").json()
    anchor = "from podium.job import param, set_output\n"
    hide = anchor + "sys.modules['pyspark'] = None  # as if it were not installed\n"
    assert anchor in shipped["script"]
    response = podium.client.post(
        "/api/v1/templates",
        json={
            "name": "spark",
            "description": shipped["description"],
            "script": shipped["script"].replace(anchor, hide),
            "parameters": shipped["parameters"],
        },
    )
    assert response.status_code == 201, response.text
