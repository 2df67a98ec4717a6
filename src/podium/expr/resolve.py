"""Expressions inside JSON-like values: resolving them for a run, checking them at push.

Strings are templates and ``{code: "…"}`` dicts are code blocks; everything else is walked
(lists and dict values; keys are never evaluated). Parses are cached by text, since the same
parameter is resolved for every instance and every foreach iteration.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from podium.expr.budgets import Budgets, Clock
from podium.expr.builtins import BUILTIN_NAMES, BUILTINS
from podium.expr.codeblock import CodeBlock
from podium.expr.errors import ExprError
from podium.expr.names import Reference, collect
from podium.expr.template import Template
from podium.expr.values import Namespace, did_you_mean

CACHE_SIZE = 4096


@functools.lru_cache(maxsize=CACHE_SIZE)
def parse_template(text: str, shell: bool = False) -> Template:
    return Template.parse(text, shell=shell)


@functools.lru_cache(maxsize=CACHE_SIZE)
def parse_code(source: str) -> CodeBlock:
    return CodeBlock.parse(source)


def is_code(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("code"), str)


def resolve(
    value: Any,
    scope: Mapping[str, Any],
    budgets: Budgets | None = None,
    *,
    clock: Clock | None = None,
    shell: bool = False,
) -> Any:
    """``value`` with every expression in it evaluated; each string or block is one evaluation.

    A failure keeps its message and gains ``details["path"]``, the place inside ``value``.
    """
    return _resolve(value, scope, budgets, clock, shell, "")


def _resolve(
    value: Any,
    scope: Mapping[str, Any],
    budgets: Budgets | None,
    clock: Clock | None,
    shell: bool,
    path: str,
) -> Any:
    try:
        if isinstance(value, str):
            return parse_template(value, shell).evaluate(scope, budgets, clock=clock)
        if is_code(value):
            return parse_code(value["code"]).evaluate(scope, budgets, clock=clock)
    except ExprError as error:
        error.details.setdefault("path", path + (".code" if is_code(value) else ""))
        raise
    if isinstance(value, dict):
        return {
            k: _resolve(v, scope, budgets, clock, shell, f"{path}.{k}") for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [
            _resolve(v, scope, budgets, clock, shell, f"{path}[{i}]") for i, v in enumerate(value)
        ]
    return value


def _expressions(value: Any, path: str = "") -> Iterator[tuple[str, str, bool]]:
    """(location, source, is_code) for every string and code block inside ``value``."""
    if isinstance(value, str):
        yield path, value, False
    elif is_code(value):
        yield path + ".code", value["code"], True
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _expressions(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _expressions(item, f"{path}[{index}]")


def _parse(source: str, code: bool, shell: bool) -> Template | CodeBlock:
    return parse_code(source) if code else parse_template(source, shell)


def references(value: Any, *, shell: bool = False) -> list[tuple[str, Reference]]:
    """Every free reference in ``value``, with its location; unparsable parts are skipped
    (``check`` reports them)."""
    found: list[tuple[str, Reference]] = []
    for location, source, code in _expressions(value):
        try:
            parsed = _parse(source, code, shell)
        except ExprError:
            continue
        found.extend((location, reference) for reference in parsed.references())
    return found


def check(
    value: Any, known_names: Collection[str], *, shell: bool = False
) -> list[tuple[str, str]]:
    """(location, message) for each syntax error and unknown name in ``value``; never raises."""
    problems: list[tuple[str, str]] = []
    candidates = sorted(set(known_names) | BUILTIN_NAMES)
    for location, source, code in _expressions(value):
        try:
            parsed = _parse(source, code, shell)
        except ExprError as error:
            problems.append((location, error.message))
            continue
        assigned = parsed.assigned_names() if isinstance(parsed, CodeBlock) else set()
        for reference in parsed.references():
            name = reference.name
            if name not in known_names and name not in assigned:
                problems.append(
                    (location, f"unknown name {name!r}{did_you_mean(name, candidates)}")
                )
        problems.extend((location, message) for message in _builtin_problems(parsed))
    return problems


def _builtin_problems(parsed: Template | CodeBlock) -> list[str]:
    trees = parsed.trees()
    messages: list[str] = []
    for tree in trees:
        for reference in collect(tree).builtin_reads:
            namespace = BUILTINS[reference.name]
            if (
                isinstance(namespace, Namespace)
                and reference.attribute is not None
                and reference.attribute not in namespace
            ):
                try:
                    namespace.lookup(reference.attribute)
                except ExprError as error:
                    messages.append(error.message)
    return messages
