"""Workflow definitions: the YAML DSL as a model, its validation, and its canonical text."""

from __future__ import annotations

from podium.definition.canonical import canonical_yaml, definition_json
from podium.definition.durations import parse_duration
from podium.definition.model import (
    Emit,
    Foreach,
    Retries,
    Signal,
    Step,
    Subworkflow,
    Trigger,
    Workflow,
)
from podium.definition.problems import Problem
from podium.definition.validate import check_text, load_workflow

__all__ = [
    "Emit",
    "Foreach",
    "Problem",
    "Retries",
    "Signal",
    "Step",
    "Subworkflow",
    "Trigger",
    "Workflow",
    "canonical_yaml",
    "check_text",
    "definition_json",
    "load_workflow",
    "parse_duration",
]
