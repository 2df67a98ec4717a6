"""Job templates: a job type defined by a script and the parameters it takes.

A template is written as a ``template.yaml`` (name, description, parameters) beside its
script. Templates ship with Podium (``podium/job_templates/<name>/``) or are registered on a
server; either way a step names one as its ``type`` and gives its parameters as the step's
``params``, which are checked here against the declaration at push. This module knows
nothing of databases: a server hands it the templates it holds as a :class:`TemplateCatalog`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Annotated, Any

from pydantic import BeforeValidator

from podium.definition.fields import rejected
from podium.definition.params import (
    DECLARATION_KEYS,
    Declaration,
    declaration,
    declaration_problems,
    type_problem,
)
from podium.definition.problems import Loc, Problem, did_you_mean, format_location
from podium.definition.rules import ALL_BODY_KEYS
from podium.definition.yaml_text import load_yaml
from podium.errors import InvalidInput

BUILT_IN_TYPES: tuple[str, ...] = ("noop", "sleep", "script", "python", "notebook", "container")
TEMPLATE_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
RESERVED_NAMES = frozenset({*BUILT_IN_TYPES, "foreach", "subworkflow", "register", "show"})
TEMPLATE_KEYS = ("name", "description", "script", "parameters")
DEFAULT_SCRIPT = "run.py"


@dataclass(frozen=True)
class JobTemplate:
    """One template: ``script`` is the Python code its jobs run."""

    name: str
    description: str
    parameters: tuple[Declaration, ...]
    script: str
    source: str = "shipped"
    """``shipped`` with Podium, or ``registered`` on a server."""
    version: int | None = None
    """The registered version (1, 2, …); None for a shipped template."""

    def parameter(self, name: str) -> Declaration | None:
        return next((p for p in self.parameters if p.name == name), None)

    def as_json(self, *, with_script: bool = False) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "version": self.version,
            "parameters": {p.name: parameter_json(p) for p in self.parameters},
        }
        if with_script:
            doc["script"] = self.script
        return doc


def parameter_json(decl: Declaration) -> dict[str, Any]:
    doc: dict[str, Any] = {"type": decl.type, "required": decl.required}
    if decl.default is not None:
        doc["default"] = decl.default
    if decl.description:
        doc["description"] = decl.description
    return doc


@dataclass(frozen=True)
class TemplateCatalog:
    """The templates a check knows. ``complete`` says whether a type found nowhere here is
    an error (a server, or ``podium validate``) or left to the server (``podium push``)."""

    templates: Mapping[str, JobTemplate] = field(default_factory=dict)
    complete: bool = True
    where: str = "shipped with Podium"


def template_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a template (None if it can)."""
    if name in RESERVED_NAMES:
        return f"{name!r} is a built-in step type or a reserved word; choose another name"
    if not TEMPLATE_NAME_RE.fullmatch(name):
        return (
            f"bad template name {name!r}: lower-case letters, digits and '_', starting with a "
            "letter, at most 64 characters"
        )
    return None


def parse_parameters(raw: Any, loc: Loc = ("parameters",)) -> tuple[list[Declaration], list[str]]:
    """A ``parameters`` mapping of declarations (``{type, required, default, description}``)."""
    if raw is None:
        return [], []
    if not isinstance(raw, Mapping):
        return [], [f"{format_location(loc)}: a mapping of parameter names to declarations"]
    found: list[Declaration] = []
    problems: list[str] = []
    for name, value in raw.items():
        where = format_location((*loc, str(name)))
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            problems.append(f"{where}: bad parameter name {name!r}: letters, digits and '_'")
            continue
        value = {} if value is None else value
        if not isinstance(value, Mapping) or not set(value) <= DECLARATION_KEYS:
            keys = ", ".join(sorted(DECLARATION_KEYS - {"secret"}))
            problems.append(f"{where}: a parameter is declared with the keys {keys}")
            continue
        if "secret" in value:
            problems.append(
                f"{where}: secret: belongs in the params of a workflow, which hides the value "
                "wherever the template's job could show it"
            )
            continue
        problems += [f"{where}: {p}" for p in declaration_problems(name, value)]
        found.append(declaration(name, value))
    return found, problems


def template_from_yaml(text: str, script: str | None, *, source: str = "shipped") -> JobTemplate:
    """A template from its ``template.yaml`` text; ``script`` is the script's text when the
    caller read it (from the file the yaml names), else the yaml's inline ``script``."""
    data, problems = load_yaml(text)
    messages = [str(p) for p in problems]
    if not isinstance(data, Mapping):
        reason = "; ".join(messages) or "a mapping with 'name', 'description', 'parameters'"
        raise InvalidInput(f"template.yaml is not valid: {reason}")
    return build_template(
        data.get("name"),
        data.get("description"),
        data.get("parameters"),
        script if script is not None else data.get("script"),
        source=source,
        problems=messages,
        unknown=[k for k in data if k not in TEMPLATE_KEYS],
    )


def build_template(
    name: Any,
    description: Any,
    parameters: Any,
    script: Any,
    *,
    source: str,
    version: int | None = None,
    problems: list[str] | None = None,
    unknown: list[Any] | None = None,
) -> JobTemplate:
    """Check every part of a template and build it; ``InvalidInput`` lists all problems."""
    problems = list(problems or [])
    for key in unknown or ():
        problems.append(f"unknown key {key!r}{did_you_mean(str(key), TEMPLATE_KEYS)}")
    if not isinstance(name, str):
        problems.append("missing 'name' (the step type that runs this template)")
    elif (problem := template_name_problem(name)) is not None:
        problems.append(f"name: {problem}")
    if description is not None and not isinstance(description, str):
        problems.append("description: text")
    if not isinstance(script, str) or not script.strip():
        problems.append("script: the template's Python code is missing or empty")
    declared, parameter_problems = parse_parameters(parameters)
    problems += parameter_problems
    if problems:
        raise InvalidInput(
            f"template {name!r} is not valid: " + "; ".join(problems),
            details={"problems": [{"location": "", "message": p} for p in problems]},
        )
    assert isinstance(name, str) and isinstance(script, str)
    return JobTemplate(
        name=name,
        description=description or "",
        parameters=tuple(declared),
        script=script,
        source=source,
        version=version,
    )


def script_file_of(text: str) -> str:
    """The script file a ``template.yaml`` names (``script: run.py``), ``run.py`` if none."""
    data, _ = load_yaml(text)
    named = data.get("script") if isinstance(data, Mapping) else None
    if isinstance(named, str) and "\n" not in named and named.endswith(".py"):
        return named
    return DEFAULT_SCRIPT


@functools.cache
def shipped_templates() -> Mapping[str, JobTemplate]:
    """The templates in ``podium/job_templates/``, one directory each, read once."""
    found: dict[str, JobTemplate] = {}
    root = resources.files("podium.job_templates")
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        declaration_file = entry / "template.yaml"
        if not entry.is_dir() or not declaration_file.is_file():
            continue
        text = declaration_file.read_text(encoding="utf-8")
        script = (entry / script_file_of(text)).read_text(encoding="utf-8")
        template = template_from_yaml(text, script)
        found[template.name] = template
    return found


def shipped_catalog() -> TemplateCatalog:
    return TemplateCatalog(shipped_templates())


OPEN_CATALOG = TemplateCatalog(complete=False)
"""For ``podium push``: shipped templates are checked, any other type is the server's call."""


def template_parameter_problems(template: JobTemplate, given: Mapping[str, Any]) -> list[str]:
    """Unknown and missing parameters, and literal values of the wrong type."""
    declared = [p.name for p in template.parameters]
    problems: list[str] = []
    for name, value in given.items():
        decl = template.parameter(name)
        if decl is None:
            known = ", ".join(repr(d) for d in declared) or "none"
            problems.append(
                f"template {template.name!r} has no parameter {name!r}"
                f"{did_you_mean(name, declared)}; its parameters are {known}"
            )
        elif not _has_expression(value) and (wrong := type_problem(decl, value)) is not None:
            problems.append(wrong.replace("param ", "parameter ", 1))
    for decl in template.parameters:
        if decl.required and decl.name not in given:
            problems.append(
                f"template {template.name!r} needs the parameter {decl.name!r}: "
                "add it to the step's params"
            )
    return problems


def _has_expression(value: Any) -> bool:
    if isinstance(value, str):
        return "${" in value.replace("$${", "")
    if isinstance(value, dict):
        return set(value) == {"code"} or any(_has_expression(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_expression(v) for v in value)
    return False


def template_step_problems(data: Any, catalog: TemplateCatalog | None) -> list[Problem]:
    """Every step of a workflow (plain data) whose type is a template: the type must be
    known, its body only ``params``, and its params those the template declares."""
    catalog = catalog if catalog is not None else shipped_catalog()
    if not isinstance(data, Mapping):
        return []
    problems: list[Problem] = []
    for loc, step in _steps(data.get("steps"), ("steps",)):
        problems += _step_problems(step, loc, catalog)
    return problems


def _steps(steps: Any, loc: Loc) -> Iterator[tuple[Loc, Mapping[str, Any]]]:
    if not isinstance(steps, list):
        return
    for index, step in enumerate(steps):
        if not isinstance(step, Mapping):
            continue
        yield (*loc, index), step
        foreach = step.get("foreach")
        if isinstance(foreach, Mapping):
            yield from _steps(foreach.get("steps"), (*loc, index, "foreach", "steps"))


def _step_problems(step: Mapping[str, Any], loc: Loc, catalog: TemplateCatalog) -> list[Problem]:
    step_type = step.get("type")
    if not isinstance(step_type, str) or step_type in BUILT_IN_TYPES:
        return []
    if not TEMPLATE_NAME_RE.fullmatch(step_type):
        return []  # the model reports a name that cannot be a type at all
    template = catalog.templates.get(step_type) or shipped_templates().get(step_type)
    if template is None:
        if not catalog.complete:
            return []
        return [Problem(format_location((*loc, "type")), _unknown_type(step_type, catalog))]
    problems: list[Problem] = []
    for key in ALL_BODY_KEYS:
        if step.get(key) is not None:
            message = (
                f"key {key!r} does not apply to template {step_type!r}: give its parameters "
                "in 'params'"
            )
            problems.append(Problem(format_location(loc), message))
    params = step.get("params")
    given = params if isinstance(params, Mapping) else {}
    where = format_location((*loc, "params"))
    problems += [Problem(where, m) for m in template_parameter_problems(template, given)]
    return problems


def _unknown_type(step_type: str, catalog: TemplateCatalog) -> str:
    names = sorted({*shipped_templates(), *catalog.templates})
    built_in = ", ".join(repr(t) for t in BUILT_IN_TYPES)
    templates = ", ".join(repr(t) for t in names) or "none"
    message = (
        f"unknown step type {step_type!r}{did_you_mean(step_type, [*BUILT_IN_TYPES, *names])}: "
        f"built-in types are {built_in}; templates {catalog.where}: {templates}"
    )
    if catalog.where == "shipped with Podium":
        message += " (templates registered on a server are checked when you push)"
    return message


def job_type_problem(value: str) -> str | None:
    """Why ``value`` cannot be a step's ``type`` at all (None if it can: a built-in type or
    a name a template could have; whether that template exists is checked with a catalog)."""
    if value in BUILT_IN_TYPES or TEMPLATE_NAME_RE.fullmatch(value):
        return None
    built_in = ", ".join(repr(t) for t in BUILT_IN_TYPES)
    return f"bad step type {value!r}: use one of {built_in}, or the name of a template"


def _job_type(value: Any) -> str:
    if not isinstance(value, str):
        raise rejected(f"a step type must be text, got {type(value).__name__} {value!r}")
    problem = job_type_problem(value)
    if problem is not None:
        raise rejected(problem)
    return value


JobType = Annotated[str, BeforeValidator(_job_type)]
"""A step's ``type``: a built-in type or a template's name (known or not: see
:func:`template_step_problems`)."""
