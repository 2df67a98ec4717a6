"""Notebook steps end to end: real Papermill, a real python3 kernel, SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from podium.definition import canonical_yaml, load_workflow
from podium.errors import InvalidDefinition
from tests.support import Podium

pytestmark = pytest.mark.slow


def code_cell(source: str, *tags: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"tags": list(tags)} if tags else {}
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": metadata,
        "outputs": [],
        "source": source,
    }


def write_notebook(path: Path, *cells: dict[str, Any]) -> None:
    notebook = {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    path.write_text(json.dumps(notebook), encoding="utf-8")


def push_file(podium: Podium, directory: Path, yaml: str) -> None:
    """Push as the CLI does: the notebooks are read next to the file and stored inline."""
    workflow = load_workflow(yaml, base_dir=directory)
    podium.push(canonical_yaml(workflow))


REPORT = """
id: report
params: {day: 20240101, region: emea}
steps:
  - id: nb
    type: notebook
    path: notebooks/report.ipynb
    parameters: {limit: 3}
    outputs: [total, label]
  - id: after
    type: python
    depends_on: [nb]
    params: {total: "${ nb.total }"}
    outputs: [seen]
    script: |
      from podium.job import param, set_output
      set_output("seen", param("total") * 10)
"""


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "flows"
    (directory / "notebooks").mkdir(parents=True)
    write_notebook(
        directory / "notebooks" / "report.ipynb",
        code_cell("day = 0\nregion = 'none'\nlimit = 1", "parameters"),
        code_cell("print(f'day={day} region={region} limit={limit}')"),
        code_cell(
            "import os, pathlib\n"
            "pathlib.Path(os.environ['PODIUM_ARTIFACTS'], 'rows.csv').write_text('a,b\\n')\n"
            "print('cwd', os.getcwd())"
        ),
        code_cell(
            "from podium.job import set_output\n"
            "set_output('total', limit * 2)\n"
            "set_output('label', f'{region}-{day}')"
        ),
    )
    return directory


def test_a_notebook_runs_with_params_outputs_logs_and_artifacts(
    podium: Podium, report_dir: Path
) -> None:
    push_file(podium, report_dir, REPORT)
    iid = podium.run("report", {"region": "apac"})
    doc = podium.wait("report", iid, timeout_s=90)
    assert doc["status"] == "SUCCEEDED", doc
    steps = podium.steps(doc)
    assert steps["nb"]["outputs"] == {"total": 6, "label": "apac-20240101"}
    assert steps["after"]["outputs"] == {"seen": 60}
    assert steps["nb"]["artifacts"] == ["report.ipynb", "rows.csv"]

    log = podium.client.get(f"/api/v1/workflows/report/instances/{iid}/steps/nb/logs").json()
    assert "day=20240101 region=apac limit=3" in log["text"]
    assert "── cell 2 ──" in log["text"]
    work_dir = next(line for line in log["text"].splitlines() if line.startswith("cwd "))
    assert work_dir.endswith("/work")

    base = f"/api/v1/workflows/report/instances/{iid}/steps/nb/notebook"
    raw = podium.client.get(base, params={"format": "ipynb"})
    assert raw.status_code == 200, raw.text
    executed = raw.json()
    tags = [cell["metadata"].get("tags", []) for cell in executed["cells"]]
    assert ["injected-parameters"] in tags
    printed = "".join(executed["cells"][2]["outputs"][0]["text"])
    assert "day=20240101 region=apac limit=3" in printed
    html = podium.client.get(base, params={"attempt": 1})
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assert "day=20240101 region=apac limit=3" in html.text


def test_a_failing_cell_fails_the_step_naming_the_cell_and_the_error(
    podium: Podium, tmp_path: Path
) -> None:
    write_notebook(
        tmp_path / "broken.ipynb",
        code_cell("print('first cell ran')"),
        code_cell("rows = {}\nvalue = rows['missing']"),
        code_cell("print('never')"),
    )
    push_file(
        podium, tmp_path, "id: broken\nsteps:\n  - {id: nb, type: notebook, path: broken.ipynb}"
    )
    iid = podium.run("broken")
    doc = podium.wait("broken", iid, timeout_s=90)
    assert doc["status"] == "FAILED", doc
    error = podium.steps(doc)["nb"]["error"]
    assert error["kind"] == "user"
    assert error["message"].startswith("cell 2 failed: KeyError: 'missing'")
    assert "value = rows['missing']" in error["message"]
    log = podium.client.get(f"/api/v1/workflows/broken/instances/{iid}/steps/nb/logs").json()
    assert "first cell ran" in log["text"]
    assert "never" not in log["text"]
    raw = podium.client.get(
        f"/api/v1/workflows/broken/instances/{iid}/steps/nb/notebook", params={"format": "ipynb"}
    )
    assert raw.status_code == 200


def test_a_cell_over_its_cell_timeout_fails_the_step(podium: Podium, tmp_path: Path) -> None:
    write_notebook(tmp_path / "slow.ipynb", code_cell("import time\ntime.sleep(30)"))
    push_file(
        podium,
        tmp_path,
        "id: slow\nsteps:\n  - {id: nb, type: notebook, path: slow.ipynb, cell_timeout: 2s}",
    )
    iid = podium.run("slow")
    doc = podium.wait("slow", iid, timeout_s=90)
    assert doc["status"] == "FAILED", doc
    message = podium.steps(doc)["nb"]["error"]["message"]
    assert "cell_timeout (2s)" in message


def test_the_notebook_of_another_step_type_or_an_unknown_step_is_refused(
    podium: Podium,
) -> None:
    podium.push("id: plain\nsteps: [{id: s, type: script, script: 'echo hi'}]")
    iid = podium.run("plain")
    doc = podium.wait("plain", iid)
    assert doc["status"] == "SUCCEEDED"
    assert "artifacts" not in podium.steps(doc)["s"]
    base = f"/api/v1/workflows/plain/instances/{iid}/steps"
    assert podium.client.get(f"{base}/s/notebook").status_code == 400
    assert podium.client.get(f"{base}/nope/notebook").status_code == 404


def test_push_needs_the_notebook_inline_or_readable(podium: Podium, tmp_path: Path) -> None:
    (tmp_path / "not_a_notebook.ipynb").write_text("{}", encoding="utf-8")
    text = "id: bad\nsteps:\n  - {id: nb, type: notebook, path: not_a_notebook.ipynb}"
    with pytest.raises(InvalidDefinition, match="is not a Jupyter notebook"):
        load_workflow(text, base_dir=tmp_path)
    with pytest.raises(InvalidDefinition, match="not found"):
        load_workflow(text.replace("not_a_notebook", "absent"), base_dir=tmp_path)
    response = podium.client.post("/api/v1/workflows", json={"yaml": text, "active": True})
    assert response.status_code == 400
    assert "push from the CLI, which inlines notebooks" in response.text
