"""The single place that says which parts of the DSL run today.

The model accepts the whole language so that files are validated against the contract;
pushing a workflow that uses a feature whose runtime is not built yet is refused with the
list produced here. When a feature lands, remove its name from ``NOT_YET_SUPPORTED``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from podium.definition.model import Step, Workflow
from podium.definition.problems import Problem, format_location

NOT_YET_SUPPORTED: frozenset[str] = frozenset({})

_REASONS: dict[str, str] = {
    "trigger_cron": "cron triggers arrive in a later release",
    "trigger_signals": "signal triggers arrive in a later release",
    "run_strategy": "run strategies arrive in a later release",
    "concurrency": "instance concurrency limits arrive with run strategies",
    "if": "conditions arrive with expressions in a later release",
    "foreach": "foreach arrives in a later release",
    "foreach_subworkflow": "a subworkflow per foreach iteration arrives in a later release; "
    "use inner steps",
    "wait_for": "signals arrive in a later release",
    "emits": "signals arrive in a later release",
    "step_tags": "concurrency tags arrive in a later release",
    "notebook": "notebook steps arrive in a later release",
    "container": "container steps arrive in a later release",
    "expressions": "${ } expressions and code: blocks arrive in a later release",
}


def _problem(feature: str, location: str) -> Problem:
    if feature == "expressions":
        fix = "give a literal value to push this workflow"
    elif feature in ("notebook", "container"):
        fix = "use another step type to push this workflow"
    else:
        fix = "remove the key to push this workflow"
    return Problem(location, f"not supported yet: {_REASONS[feature]}; {fix}")


def unsupported_features(wf: Workflow) -> list[Problem]:
    """Every use in ``wf`` of a feature named in ``NOT_YET_SUPPORTED``."""
    found: list[tuple[str, str, str]] = []
    if wf.trigger is not None:
        if wf.trigger.cron is not None:
            found.append(("trigger_cron", "trigger.cron", "cron"))
        if wf.trigger.signals:
            found.append(("trigger_signals", "trigger.signals", "signals"))
    for key in ("run_strategy", "concurrency"):
        if key in wf.model_fields_set:
            found.append((key, key, key))
    found += [("expressions", loc, "params") for loc in _expression_params(wf.params, ("params",))]
    for index, step in enumerate(wf.steps):
        found += _step_features(step, ("steps", index))
    return [_problem(f, loc) for f, loc, _key in found if f in NOT_YET_SUPPORTED]


def _step_features(step: Step, loc: tuple[str | int, ...]) -> list[tuple[str, str, str]]:
    found: list[tuple[str, str, str]] = []
    for feature, key, used in (
        ("if", "if", step.if_ is not None),
        ("foreach", "foreach", step.foreach is not None),
        ("subworkflow", "subworkflow", step.subworkflow is not None),
        ("wait_for", "wait_for", bool(step.wait_for)),
        ("emits", "emits", bool(step.emits)),
        ("step_tags", "tags", bool(step.tags)),
    ):
        if used:
            found.append((feature, format_location((*loc, key)), key))
    if step.type in ("notebook", "container"):
        found.append((step.type, format_location((*loc, "type")), f"type {step.type}"))
    if step.foreach is not None:
        if step.foreach.subworkflow is not None:
            where = format_location((*loc, "foreach", "subworkflow"))
            found.append(("foreach_subworkflow", where, "subworkflow"))
        for index, inner in enumerate(step.foreach.steps or []):
            found += _step_features(inner, (*loc, "foreach", "steps", index))
    for where in _expression_params(step.params, (*loc, "params")):
        found.append(("expressions", where, "params"))
    return found


def _expression_params(params: dict[str, Any], loc: tuple[str | int, ...]) -> Iterator[str]:
    """Locations of params that are ``{code: ...}`` blocks or hold ``${`` anywhere inside."""
    for name, value in params.items():
        here = (*loc, name)
        if (isinstance(value, dict) and set(value) == {"code"}) or _has_expression(value):
            yield format_location(here)


def _has_expression(value: Any) -> bool:
    if isinstance(value, str):
        return "${" in value.replace("$${", "")
    if isinstance(value, dict):
        return any(_has_expression(k) or _has_expression(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_expression(v) for v in value)
    return False
