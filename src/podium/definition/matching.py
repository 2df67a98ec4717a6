"""Whether a signal's params satisfy a ``match``: the one rule triggers and waits share.

A match maps a param name to a value (equal) or to comparisons, several of which must all
hold: ``{table: db.users, partition: {">=": 20240101, "<": 20240201}}``. A param the
signal lacks, or a comparison between values of different kinds (a number and a string),
does not match: it is never an error at run time.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def match_problems(match: Mapping[str, Any]) -> list[str]:
    """What is wrong with a match as written (empty if nothing)."""
    problems = []
    for key, wanted in match.items():
        if isinstance(wanted, dict):
            if not wanted:
                problems.append(f"match {key!r}: give a value or comparisons such as {{'>=': 1}}")
            for op, value in wanted.items():
                if op not in OPERATORS:
                    known = ", ".join(repr(o) for o in OPERATORS)
                    problems.append(f"match {key!r}: unknown comparison {op!r}; use {known}")
                elif op != "=" and not _comparable(value):
                    problems.append(
                        f"match {key!r}: {op!r} compares numbers or strings, not {value!r}"
                    )
    return problems


def _comparable(value: Any) -> bool:
    return isinstance(value, int | float | str) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def matches(match: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    """True if every condition of ``match`` holds for ``params``."""
    for key, wanted in match.items():
        if key not in params:
            return False
        have = params[key]
        tests = wanted.items() if isinstance(wanted, dict) else [("=", wanted)]
        for op, value in tests:
            if _kind(have) != _kind(value):
                return False
            if not OPERATORS[op](have, value):
                return False
    return True
