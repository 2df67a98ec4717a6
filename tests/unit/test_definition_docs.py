"""The examples in docs/definitions.md are valid workflows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from podium.definition import canonical_yaml, load_workflow

DOC = Path(__file__).resolve().parents[2] / "docs" / "definitions.md"
BLOCKS = re.findall(r"^```yaml\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)


def test_the_doc_has_examples() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_doc_example_is_valid(block: str) -> None:
    wf = load_workflow(block, source=str(DOC))
    assert load_workflow(canonical_yaml(wf)) == wf
