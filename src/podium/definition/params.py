"""Declared parameters: ``{type: int, default: 3, required: false, description: …}``.

A param whose value is a mapping of only these keys, with ``type`` or ``required`` among
them, is a declaration; any other value (a plain dict included) is the param's value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from podium.definition.problems import did_you_mean

DECLARATION_KEYS = frozenset({"type", "default", "required", "description"})
TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
    "any": (object,),
}


@dataclass(frozen=True)
class Declaration:
    name: str
    type: str = "any"
    default: Any = None
    required: bool = False
    description: str | None = None


def is_declaration(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and bool(value)
        and set(value) <= DECLARATION_KEYS
        and ("type" in value or "required" in value)
    )


def declaration(name: str, value: Mapping[str, Any]) -> Declaration:
    return Declaration(
        name=name,
        type=str(value.get("type", "any")),
        default=value.get("default"),
        required=bool(value.get("required", False)),
        description=value.get("description"),
    )


def type_problem(decl: Declaration, value: Any) -> str | None:
    """Why ``value`` does not fit the declaration, or None."""
    allowed = TYPES.get(decl.type, (object,))
    numeric = decl.type in ("int", "float")
    if isinstance(value, allowed) and not (numeric and isinstance(value, bool)):
        return None
    return (
        f"param {decl.name!r} must be of type {decl.type}, not {type(value).__name__} ({value!r})"
    )


def declaration_problems(name: str, value: Mapping[str, Any]) -> list[str]:
    """What is wrong with a declaration itself (checked at push)."""
    decl = declaration(name, value)
    problems = []
    if decl.type not in TYPES:
        problems.append(f"unknown type {decl.type!r}: use one of {', '.join(TYPES)}")
    elif "default" in value and decl.default is not None:
        wrong = type_problem(decl, decl.default)
        if wrong and not (isinstance(decl.default, str) and "${" in decl.default):
            problems.append(f"default: {wrong}")
    if "required" in value and not isinstance(value["required"], bool):
        problems.append("required must be true or false")
    if decl.required and "default" in value:
        problems.append("a required param has no default: drop one of them")
    return problems


def undeclared_problem(name: str, known: Sequence[str]) -> str:
    """Why a value given for ``name`` is refused: the workflow's ``params`` do not name it,
    so no expression of the workflow can read it (push refuses unknown names), and a
    misspelt ``-p`` would otherwise run with the default in silence."""
    if not known:
        return (
            f"param {name!r} is not declared: this workflow declares no params "
            "(declare it under params: to pass it)"
        )
    return (
        f"param {name!r} is not declared{did_you_mean(name, known)}; "
        f"the workflow declares {', '.join(known)}"
    )
