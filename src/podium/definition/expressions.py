"""Push-time checks of expressions: what can be known before anything runs is checked then.

Syntax, refused constructs and unknown names come from the expression checker; this module
adds what only the workflow knows: which steps are upstream of which, and which outputs
each step declares.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from podium.definition.model import Step, Workflow
from podium.definition.params import declaration_problems, is_declaration
from podium.definition.problems import Problem, did_you_mean
from podium.expr import ExprError, Reference, check, literals, references
from podium.expr.literals import language_of
from podium.expr.resolve import parse_template

RUN_NAMES = frozenset({"run", "signal"})


def expression_problems(wf: Workflow) -> list[Problem]:
    problems = _workflow_param_problems(wf.params)
    ancestors = _ancestors(wf.steps)
    # A foreach hands on its inner steps' outputs as lists: backfill.load.rows.
    # A subworkflow hands on its steps' outputs, which its own workflow declares: None here.
    outputs: dict[str, list[str] | None] = {s.id: _declared(s) for s in wf.steps}
    for index, step in enumerate(wf.steps):
        problems += _step_problems(step, f"steps[{index}]", wf, ancestors[step.id], outputs)
    return problems


def _declared(step: Step) -> list[str] | None:
    """What ``step.X`` may name: a job's outputs, a foreach's inner steps; None when another
    workflow declares them (a subworkflow, or a foreach of subworkflows)."""
    if step.foreach is not None:
        return [inner.id for inner in step.foreach.steps] if step.foreach.steps else None
    if step.subworkflow is not None:
        return None
    return list(step.outputs)


def _workflow_param_problems(params: Mapping[str, Any]) -> list[Problem]:
    """A workflow param may read ``run``, ``signal`` and the params declared before it."""
    problems: list[Problem] = []
    earlier: list[str] = []
    for name, value in params.items():
        location = f"params.{name}"
        if is_declaration(value):
            problems += [Problem(location, m) for m in declaration_problems(name, value)]
            value = value.get("default")
        problems += _checked(value, RUN_NAMES | set(earlier), location)
        earlier.append(name)
    return problems


def _step_problems(
    step: Step,
    base: str,
    wf: Workflow,
    upstream: set[str],
    outputs: Mapping[str, list[str] | None],
) -> list[Problem]:
    step_ids = set(outputs)
    names = RUN_NAMES | set(wf.params) | step_ids
    shadowed = set(wf.params)
    problems: list[Problem] = []
    for name, value in step.params.items():
        location = f"{base}.params.{name}"
        problems += _checked(value, names, location)
        problems += _step_reference_problems(
            references(value), step, location, upstream, outputs, shadowed
        )
        names, shadowed = names | {name}, shadowed | {name}
    if step.if_ is not None:
        location = f"{base}.if"
        condition = step.if_ if "${" in step.if_ else "${ " + step.if_ + " }"
        problems += _checked(condition, names, location)
        problems += _step_reference_problems(
            references(condition), step, location, upstream, outputs, shadowed
        )
    if step.script is not None:
        location = f"{base}.script"
        problems += _checked(step.script, names, location, shell=True)
        problems += [Problem(location, m) for m in _script_problems(step.script, step.type)]
        refs = references(step.script, shell=True)
        problems += _step_reference_problems(refs, step, location, upstream, outputs, shadowed)
    for index, wait in enumerate(step.wait_for):
        location = f"{base}.wait_for[{index}].match"
        problems += _checked(wait.match, names, location)
        problems += _step_reference_problems(
            references(wait.match), step, location, upstream, outputs, shadowed
        )
    # An emitted signal's params also see the step's own outputs: it has succeeded.
    own = {step.id: list(step.outputs)}
    for index, emit in enumerate(step.emits):
        location = f"{base}.emits[{index}].params"
        problems += _checked(emit.params, names, location)
        problems += _step_reference_problems(
            references(emit.params),
            step,
            location,
            upstream | {step.id},
            {**outputs, **own},
            shadowed,
            own_outputs=True,
        )
    return problems


def _script_problems(script: str, step_type: str | None) -> list[str]:
    """Expressions of a script standing where no quoting keeps a value text."""
    try:
        template = parse_template(script, True)
    except ExprError:
        return []  # reported with the expression's own problems
    if template.is_literal:
        return []
    return literals.problems(language_of(step_type), template.pieces())


def _checked(
    value: Any, known: Collection[str], location: str, *, shell: bool = False
) -> list[Problem]:
    return [
        Problem(location + suffix, message) for suffix, message in check(value, known, shell=shell)
    ]


def _step_reference_problems(
    found: list[tuple[str, Reference]],
    step: Step,
    location: str,
    upstream: set[str],
    outputs: Mapping[str, list[str] | None],
    shadowed: set[str],
    *,
    own_outputs: bool = False,
) -> list[Problem]:
    problems = []
    for suffix, ref in found:
        if ref.name not in outputs or ref.name in shadowed:
            continue
        message = _output_read_problem(
            ref, step.id, upstream, outputs[ref.name], own_outputs=own_outputs
        )
        if message:
            problems.append(Problem(location + suffix, message))
    return problems


def _output_read_problem(
    ref: Reference,
    reader: str,
    upstream: set[str],
    declared: list[str] | None,
    *,
    own_outputs: bool = False,
) -> str | None:
    if ref.name == reader and not own_outputs:
        return f"step {reader!r} cannot read its own outputs"
    if ref.name not in upstream:
        return (
            f"step {ref.name!r} is not upstream of {reader!r}, so its outputs are not known "
            f"when {reader!r} runs: add {ref.name!r} to depends_on"
        )
    if ref.attribute is None:
        return f"read one output of step {ref.name!r}: {ref.name}.NAME"
    if declared is None:
        return None
    if ref.attribute not in declared:
        if not declared:
            return (
                f"step {ref.name!r} declares no outputs: list {ref.attribute!r} under its outputs"
            )
        return (
            f"step {ref.name!r} declares no output {ref.attribute!r}"
            f"{did_you_mean(ref.attribute, declared)}; it declares {', '.join(declared)}"
        )
    return None


def _ancestors(steps: list[Step]) -> dict[str, set[str]]:
    """Every step's transitive dependencies (the graph is known to be acyclic here)."""
    direct = {s.id: list(s.depends_on) for s in steps}
    found: dict[str, set[str]] = {}

    def visit(step_id: str) -> set[str]:
        if step_id not in found:
            found[step_id] = set()
            for dep in direct.get(step_id, ()):
                found[step_id] |= {dep} | visit(dep)
        return found[step_id]

    for step_id in direct:
        visit(step_id)
    return found
