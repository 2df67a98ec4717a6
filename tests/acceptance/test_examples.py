"""Every workflow in examples/ validates, pushes and runs to SUCCEEDED on a real server.

The examples are found by glob, so a new file in examples/ is covered without touching this
module. The complete workflows shown in the getting-started and running guides are checked too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from podium.definition import load_workflow

from .conftest import Cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
GUIDES = [
    ROOT / "docs" / "getting-started.md",
    ROOT / "docs" / "running.md",
    ROOT / "docs" / "parameters.md",
    ROOT / "docs" / "concurrency.md",
    ROOT / "docs" / "signals.md",
]
RUN_TIMEOUT_S = 60.0


def workflow_blocks(doc: Path) -> list[str]:
    """The ```yaml blocks of ``doc`` that are whole workflows (they start with ``id:``)."""
    blocks = re.findall(r"^```yaml\n(.*?)^```", doc.read_text(encoding="utf-8"), re.M | re.S)
    return [block for block in blocks if block.startswith("id:")]


DOC_BLOCKS = [
    pytest.param(doc, block, id=f"{doc.stem}-{index}")
    for doc in GUIDES
    for index, block in enumerate(workflow_blocks(doc))
]


@pytest.fixture
def job_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A TMPDIR of the test's own, inherited by the server and so by its jobs.

    Examples that stage files under the temporary directory (etl_chain) then neither collide
    with another run on the same machine nor leave anything behind.
    """
    directory = tmp_path / "job-tmp"
    directory.mkdir()
    monkeypatch.setenv("TMPDIR", str(directory))
    return directory


@pytest.fixture
def examples_cli(job_tmpdir: Path, server: str, tmp_path: Path) -> Cli:
    return Cli(server=server, home=tmp_path / "home", cwd=tmp_path)


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 4


def test_every_example_validates(cli: Cli) -> None:
    result = cli("validate", *map(str, EXAMPLES))

    assert result.returncode == 0, result.stderr
    for path in EXAMPLES:
        assert f"{path}: ok" in result.stdout


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_is_described_and_runs_today(path: Path) -> None:
    wf = load_workflow(path.read_text(encoding="utf-8"), source=str(path), base_dir=path.parent)

    assert wf.description, f"{path.name} needs a description"
    assert wf.steps


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_to_success(examples_cli: Cli, path: Path) -> None:
    pushed = examples_cli("push", str(path))
    assert pushed.returncode == 0, pushed.stderr
    workflow_id = pushed.stdout.split()[1]

    run = examples_cli("run", workflow_id, "--wait", timeout_s=RUN_TIMEOUT_S)

    assert run.returncode == 0, f"{path.name}:\n{run.stdout}\n{run.stderr}"
    assert "SUCCEEDED" in run.stdout


def test_the_guides_show_workflows() -> None:
    assert workflow_blocks(GUIDES[0]), "docs/getting-started.md shows no complete workflow"


@pytest.mark.parametrize(("doc", "block"), DOC_BLOCKS)
def test_guide_workflow_validates_and_runs_today(doc: Path, block: str) -> None:
    wf = load_workflow(block, source=str(doc))

    assert wf.steps
