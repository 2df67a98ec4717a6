"""Walking a definition's raw step list, foreach bodies included, before the model sees it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from podium.definition.problems import Loc

StepEdit = Callable[[dict[str, Any], Loc], None]
"""Changes one step (a copy) in place; told where the step is (``steps[1].foreach.steps[0]``)."""


def map_steps(steps: Any, loc: Loc, edit: StepEdit) -> Any:
    """A copy of ``steps`` with ``edit`` applied to every step mapping, inner ones first;
    anything that is not a list of mappings is left for the model to report."""
    if not isinstance(steps, list):
        return steps
    result: list[Any] = []
    for index, step in enumerate(steps):
        if not isinstance(step, Mapping):
            result.append(step)
            continue
        step = dict(step)
        foreach = step.get("foreach")
        if isinstance(foreach, Mapping) and isinstance(foreach.get("steps"), list):
            inner = (*loc, index, "foreach", "steps")
            step["foreach"] = {**foreach, "steps": map_steps(foreach["steps"], inner, edit)}
        edit(step, (*loc, index))
        result.append(step)
    return result
