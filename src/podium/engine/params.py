"""Runtime parameters: declarations, overrides, and resolution in the DSL's name order.

Pure functions over values (the expression language does no I/O either): the API resolves a
run's params when it starts, the engine a step's when it is about to run, and the dry run
both, all with the same code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from podium.definition.params import (
    declaration,
    is_declaration,
    type_problem,
    undeclared_problem,
)
from podium.engine.plan import Plan
from podium.errors import InvalidInput
from podium.expr import Budgets, ExprError, Namespace, resolve
from podium.expr.literals import language_of
from podium.expr.resolve import parse_template


def run_namespace(
    *, workflow_id: str, instance_id: int, version: int, trigger: Mapping[str, Any], at: float
) -> Namespace:
    scheduled = datetime.fromtimestamp(trigger.get("scheduled_at", at), UTC)
    # The date as the schedule sees it: a 00:00 Europe/Paris fire is that day, not the
    # day before in UTC.
    local = scheduled.astimezone(ZoneInfo(str(trigger.get("timezone") or "UTC")))
    return Namespace(
        {
            "workflow_id": workflow_id,
            "instance_id": instance_id,
            "version": version,
            "date": int(local.strftime("%Y%m%d")),
            "scheduled_at": scheduled.isoformat(),
            "trigger": str(trigger.get("type", "manual")),
        },
        name="run",
        member="field",
    )


def signal_namespace(trigger: Mapping[str, Any]) -> Namespace:
    """The params of the signals that started the run (none for a manual run)."""
    return Namespace(dict(trigger.get("signal") or {}), name="signal", member="param")


def resolve_run_params(
    defined: Mapping[str, Any],
    overrides: Mapping[str, Any],
    *,
    run: Namespace,
    signal: Namespace,
    budgets: Budgets,
) -> dict[str, Any]:
    """A run's params: declarations checked, overrides applied, expressions evaluated in
    order (a param may read the ones before it, ``run`` and ``signal``). An override of a
    param the workflow does not name is refused, with the names it does."""
    resolved: dict[str, Any] = {}
    problems = [undeclared_problem(n, list(defined)) for n in overrides if n not in defined]
    for name, value in defined.items():
        if is_declaration(value):
            decl = declaration(name, value)
            if name in overrides:
                value = overrides[name]
                wrong = type_problem(decl, value)
                if wrong:
                    problems.append(wrong)
                    continue
            elif decl.required:
                problems.append(f"param {name!r} is required: pass it with -p {name}=VALUE")
                continue
            else:
                value = decl.default
        elif name in overrides:
            value = overrides[name]
        scope = {"run": run, "signal": signal, **resolved}
        try:
            resolved[name] = resolve(value, scope, budgets)
        except ExprError as exc:
            problems.append(f"params.{name}{exc.details.get('path', '')}: {exc.message}")
    too_big = env_problem(resolved) if not problems else None
    if too_big:
        problems.append(too_big)
    if problems:
        raise _invalid("the run's params are not valid: ", problems)
    return resolved


MAX_ENV_VALUE_BYTES = 128 * 1024 - 1
"""The longest ``NAME=value`` one environment variable may be on Linux (MAX_ARG_STRLEN)."""
MAX_ENV_BYTES = 1024 * 1024
"""All of a job's params as environment variables: half of what exec() takes, at most."""


def env_problem(values: Mapping[str, Any]) -> str | None:
    """Why these params cannot all be handed to a job as ``PODIUM_PARAM_*`` variables, or
    None: exec() would refuse them (E2BIG) on every attempt."""
    total = 0
    for name, value in values.items():
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        size = len(f"PODIUM_PARAM_{name.upper()}=".encode()) + len(text.encode())
        if size > MAX_ENV_VALUE_BYTES:
            return (
                f"param {name!r} is {size >> 10} KiB, more than the 128 KiB an environment "
                "variable may hold: pass a path or a key to the data instead of the data"
            )
        total += size
    if total > MAX_ENV_BYTES:
        return (
            f"the params are {total >> 10} KiB together, more than the 1024 KiB a job's "
            "environment may hold: pass paths or keys to the data instead of the data"
        )
    return None


def check_overrides(defined: Mapping[str, Any], overrides: Mapping[str, Any]) -> None:
    """Overrides applied to params already resolved (a restart's ``-p``): each must name a
    param of the workflow and have its declared type."""
    problems: list[str] = []
    for name, value in overrides.items():
        if name not in defined:
            problems.append(undeclared_problem(name, list(defined)))
        elif is_declaration(defined[name]):
            wrong = type_problem(declaration(name, defined[name]), value)
            if wrong:
                problems.append(wrong)
    if problems:
        raise _invalid("the restart's params are not valid: ", problems)


def _invalid(lead: str, problems: list[str]) -> InvalidInput:
    return InvalidInput(
        lead + "; ".join(problems),
        details={"problems": [{"location": "params", "message": p} for p in problems]},
    )


def step_scope(
    instance_params: Mapping[str, Any],
    upstream: Mapping[str, Mapping[str, Any]],
    *,
    run: Namespace,
    signal: Namespace,
) -> dict[str, Any]:
    """Names a step's expressions see, the earlier entries shadowed by the later: ``signal``,
    ``run``, upstream outputs (``plan.dates``), then workflow params (step params come last,
    added as they resolve)."""
    scope: dict[str, Any] = {"signal": signal, "run": run}
    for step_id, outputs in upstream.items():
        scope[step_id] = Namespace(dict(outputs or {}), name=step_id, member="output")
    scope.update(instance_params)
    return scope


def resolve_step_params(
    own: Mapping[str, Any], scope: dict[str, Any], budgets: Budgets
) -> dict[str, Any]:
    """A step's own params, each seeing the workflow's and the ones before it; the result is
    what the job receives (workflow params shadowed by the step's)."""
    resolved: dict[str, Any] = {}
    for name, value in own.items():
        try:
            resolved[name] = resolve(value, scope, budgets)
        except ExprError as exc:
            where = f"params.{name}{exc.details.get('path', '')}"
            raise ExprError(f"{where}: {exc.message}", budget=exc.budget) from None
        scope[name] = resolved[name]
    return resolved


def condition_holds(condition: str, scope: Mapping[str, Any], budgets: Budgets) -> bool:
    """An ``if``: ``"${ expr }"`` (or a bare expression) taken for its truth."""
    text = condition if "${" in condition else "${ " + condition + " }"
    try:
        value = resolve(text, scope, budgets)
    except ExprError as exc:
        raise ExprError(f"if: {exc.message}", budget=exc.budget) from None
    return bool(value) and value not in ("false", "False", "0")


def render_script(
    script: str, scope: Mapping[str, Any], budgets: Budgets, step_type: str | None = "script"
) -> str:
    """A script with its ``${ expr }`` parts filled in as literals of its language (bash's own
    ``${VAR}`` is left alone): a value never becomes code (:mod:`podium.expr.literals`)."""
    template = parse_template(script, True)
    if template.is_literal:
        return script
    try:
        return template.render_script(scope, language_of(step_type), budgets)
    except ExprError as exc:
        raise ExprError(f"script: {exc.message}", budget=exc.budget) from None


def dry_run_steps(
    plan: Plan,
    run_params: Mapping[str, Any],
    *,
    run: Namespace,
    signal: Namespace,
    budgets: Budgets,
) -> list[dict[str, Any]]:
    """Each step's resolved params and script when they depend on nothing that runs first;
    otherwise the steps whose outputs they wait for."""
    steps = []
    for step in plan.steps.values():
        doc: dict[str, Any] = {"id": step.id, "type": step.type}
        if step.reads_outputs_of:
            doc["waits_for_outputs_of"] = list(step.reads_outputs_of)
            steps.append(doc)
            continue
        scope = step_scope(run_params, {}, run=run, signal=signal)
        try:
            own = resolve_step_params(step.params, scope, budgets)
            doc["params"] = {**run_params, **own}
            if step.script is not None:
                doc["script"] = render_script(step.script, scope, budgets, step.type)
        except ExprError as exc:
            doc["error"] = exc.message
        steps.append(doc)
    return steps
