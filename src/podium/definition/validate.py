"""Turning workflow text into a :class:`Workflow`, or into every problem it has at once.

A person fixing a file wants the whole list, not one error per push: so the model's own
errors, the cross-key rules (run on the raw data, whatever the model thought of it) and the
parser's complaints are gathered, de-duplicated and sorted by location.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from podium.definition.assets import resolve_asset_files
from podium.definition.expressions import expression_problems
from podium.definition.fields import FIELD_ERROR, RULES_ERROR
from podium.definition.model import Workflow, allowed_keys, model_at
from podium.definition.notebooks import normalized_notebook, read_notebook
from podium.definition.problems import ROOT, Loc, Problem, did_you_mean, format_location
from podium.definition.problems import sorted_unique as _sorted_unique
from podium.definition.rules import workflow_rules
from podium.definition.templates import TemplateCatalog, template_step_problems
from podium.definition.walk import map_steps
from podium.definition.yaml_text import load_yaml
from podium.errors import InvalidDefinition

FILE_NOT_HERE = "file: cannot be read here; push from the CLI, which inlines files"


def load_workflow(
    text: str,
    *,
    source: str = "<input>",
    base_dir: Path | None = None,
    templates: TemplateCatalog | None = None,
) -> Workflow:
    """The workflow in ``text``; ``InvalidDefinition`` lists every problem otherwise."""
    workflow, problems = check_text(text, source=source, base_dir=base_dir, templates=templates)
    if workflow is None or problems:
        raise InvalidDefinition(_summary(source, problems), [p.as_dict() for p in problems])
    return workflow


def check_text(
    text: str,
    *,
    source: str = "<input>",
    base_dir: Path | None = None,
    templates: TemplateCatalog | None = None,
) -> tuple[Workflow | None, list[Problem]]:
    """Validate without raising: the workflow (when valid) and all problems found.

    Template steps are checked against ``templates`` (default: those shipped with Podium).

    ``source`` names the text in messages built from the problems (see
    :func:`load_workflow`); locations themselves are relative to the document.
    """
    data, problems = load_yaml(text)
    if data is None and not problems:
        problems = [Problem(ROOT, "the document is empty; a workflow needs 'id' and 'steps'")]
    if problems and data is None:
        return None, problems
    if not isinstance(data, Mapping):
        kind = type(data).__name__
        return None, [Problem(ROOT, f"a workflow is a mapping of keys, not a {kind}")]
    problems += workflow_rules(data) + template_step_problems(data, templates)
    data, file_problems = inline_files(data, base_dir)
    data, _shipped, asset_problems = resolve_asset_files(data, base_dir)
    problems += file_problems + asset_problems
    workflow: Workflow | None = None
    try:
        workflow = Workflow.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as exc:
        problems += _model_problems(exc.errors(include_url=False), fallback=not problems)
    if workflow is not None:
        problems += expression_problems(workflow)
    problems = _sorted_unique(problems)
    return (workflow if not problems else None), problems


def _summary(source: str, problems: list[Problem]) -> str:
    count = len(problems)
    lines = [f"{source} is not a valid workflow ({count} problem{'s' if count != 1 else ''}):"]
    lines += [f"  {problem}" for problem in problems]
    return "\n".join(lines)


def _model_problems(errors: list[ErrorDetails], *, fallback: bool) -> list[Problem]:
    """Translate pydantic's errors; cross-key rule errors are skipped unless nothing else
    explains the failure, since :func:`workflow_rules` already reported them from raw data."""
    problems = [_model_problem(e) for e in errors if e["type"] != RULES_ERROR]
    if fallback and not problems:
        problems = [_model_problem(e) for e in errors]
    return problems


def _model_problem(error: ErrorDetails) -> Problem:
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "missing":
        return Problem(format_location(loc[:-1]), f"missing required key {loc[-1]!r}")
    if kind == "extra_forbidden":
        model = model_at(loc[:-1])
        hint = did_you_mean(str(loc[-1]), allowed_keys(model)) if model is not None else ""
        return Problem(format_location(loc[:-1]), f"unknown key {loc[-1]!r}{hint}")
    message = error["msg"]
    value = error.get("input")
    if (
        kind != FIELD_ERROR
        and isinstance(value, str | int | float | bool)
        and len(repr(value)) < 60
    ):
        message += f" (got {value!r})"
    return Problem(format_location(loc), message)


def inline_files(data: Mapping[str, Any], base_dir: Path | None) -> tuple[Any, list[Problem]]:
    """Replace each job step's ``file`` by ``script`` holding the file's text, so a stored
    version never depends on files that were only on the pusher's machine."""
    problems: list[Problem] = []
    if "steps" not in data:
        return data, problems
    new = dict(data)
    new["steps"] = _inline_steps(data["steps"], ("steps",), base_dir, problems)
    return new, problems


def _inline_steps(steps: Any, loc: Loc, base_dir: Path | None, problems: list[Problem]) -> Any:
    def inline(step: dict[str, Any], at: Loc) -> None:
        file = step.get("file")
        is_code = step.get("type") in ("script", "python")
        if is_code and isinstance(file, str) and step.get("script") is None:
            text, problem = _read_script(file, base_dir)
            if problem is not None:
                problems.append(Problem(format_location((*at, "file")), problem))
            else:
                del step["file"]
                step["script"] = text
        if step.get("type") == "notebook":
            _inline_notebook(step, at, base_dir, problems)

    return map_steps(steps, loc, inline)


def _inline_notebook(
    step: dict[str, Any], loc: Loc, base_dir: Path | None, problems: list[Problem]
) -> None:
    """Put the notebook named by ``path`` in the step (``notebook:``) unless it is there
    already, as in a stored version pushed again; either way it must be a notebook."""
    given, path = step.get("notebook"), step.get("path")
    if given is not None:
        found, problem = normalized_notebook(given)
        where = (*loc, "notebook")
    elif isinstance(path, str):
        found, problem = read_notebook(path, base_dir)
        where = (*loc, "path")
    else:
        return
    if problem is not None:
        problems.append(Problem(format_location(where), problem))
    else:
        step["notebook"] = found


def _read_script(file: str, base_dir: Path | None) -> tuple[str, str | None]:
    if base_dir is None:
        return "", FILE_NOT_HERE
    path = base_dir / file
    try:
        return path.read_text(encoding="utf-8"), None
    except FileNotFoundError:
        return "", f"file {file!r} not found (looked for {path})"
    except UnicodeDecodeError:
        return "", f"file {file!r} is not UTF-8 text"
    except OSError as exc:
        return "", f"file {file!r} cannot be read: {exc.strerror or exc}"
