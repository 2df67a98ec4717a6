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
    return problems + _steps_problems(wf.steps, "steps", set(wf.params), {}, set())


def _steps_problems(
    steps: list[Step],
    base: str,
    params: set[str],
    outer_outputs: Mapping[str, list[str] | None],
    outer_upstream: set[str],
) -> list[Problem]:
    """The expressions of ``steps`` (a workflow's, or a foreach's inner steps: those also see
    the item names, ``loop`` and the steps upstream of their foreach)."""
    problems: list[Problem] = []
    ancestors = _ancestors(steps)
    # A foreach hands on its inner steps' outputs as lists: backfill.load.rows.
    # A subworkflow hands on its steps' outputs, which its own workflow declares: None here.
    outputs = {**outer_outputs, **{s.id: _declared(s) for s in steps}}
    for index, step in enumerate(steps):
        location = f"{base}[{index}]"
        upstream = ancestors[step.id] | outer_upstream
        problems += _step_problems(step, location, params, upstream, outputs)
        if step.foreach is None:
            continue
        # A foreach's own params are seen by its list and by its inner steps.
        own = set(step.params)
        names = RUN_NAMES | params | own | set(outputs)
        for key, value in step.foreach.over.items():
            at = f"{location}.foreach.over.{key}"
            problems += _checked(value, names, at)
            problems += _step_reference_problems(
                references(value), step, at, upstream, outputs, params | own
            )
        if step.foreach.steps:
            inner_params = params | own | set(step.foreach.over) | {"loop"}
            problems += _steps_problems(
                step.foreach.steps, f"{location}.foreach.steps", inner_params, outputs, upstream
            )
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
    params: set[str],
    upstream: set[str],
    outputs: Mapping[str, list[str] | None],
) -> list[Problem]:
    names = RUN_NAMES | params | set(outputs)
    shadowed = set(params)
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
    """Expressions of a script standing where no quoting keeps a value text (``raw(…)`` ones
    are pasted as they are, wherever they stand)."""
    try:
        template = parse_template(script, True)
    except ExprError:
        return []  # reported with the expression's own problems
    if template.is_literal:
        return []
    return literals.problems(language_of(step_type), template.pieces(), template.raw_marks())


RAW_WARNING = (
    "`${{ raw(…) }}` pastes {count} into the script as code: whoever sets {them} (a param at "
    "start, a signal, an upstream output) can run commands as the workflow's owner; a plain "
    "`${{ … }}` is written as a quoted literal instead"
)


def script_warnings(wf: Workflow) -> list[Problem]:
    """What is valid but dangerous: each script that opts out of quoting with ``raw(…)``."""
    return _raw_warnings(wf.steps, "steps")


def _raw_warnings(steps: list[Step], base: str) -> list[Problem]:
    found: list[Problem] = []
    for index, step in enumerate(steps):
        location = f"{base}[{index}]"
        if step.script is not None:
            try:
                count = sum(parse_template(step.script, True).raw_marks())
            except ExprError:
                count = 0
            if count:
                what, them = ("a value", "it") if count == 1 else (f"{count} values", "them")
                found.append(
                    Problem(f"{location}.script", RAW_WARNING.format(count=what, them=them))
                )
        if step.foreach is not None and step.foreach.steps:
            found += _raw_warnings(step.foreach.steps, f"{location}.foreach.steps")
    return found


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
