"""The values that flow through expressions, and the walks over them that budgets bound.

Only JSON-like values (None, bool, int, float, str, list, dict; a tuple reads as a list),
namespaces and built-in functions exist in the language. Every walk over a value (equality,
ordering, text) is ours, so shared or deeply nested structures cost operations instead of
running unbounded inside Python.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from podium.expr.budgets import Meter
from podium.expr.errors import ExprError

SCALARS = frozenset({type(None), bool, int, float, str})
SEQUENCES = (list, tuple)


class Namespace(Mapping[str, Any]):
    """A read-only mapping whose keys expressions read with attribute syntax (``plan.dates``).

    Attribute access in the language exists only for namespaces, so the interpreter never
    reaches a Python attribute of anything.
    """

    __slots__ = ("_items", "_member", "_name")

    def __init__(
        self,
        items: Mapping[str, Any] | None = None,
        *,
        name: str = "namespace",
        member: str = "key",
    ) -> None:
        self._items: dict[str, Any] = dict(items or {})
        self._name = name
        self._member = member

    @property
    def name(self) -> str:
        return self._name

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Namespace({self._items!r}, name={self._name!r})"

    def lookup(self, key: object) -> Any:
        """The value of ``key``, or an error that suggests the nearest existing key."""
        if isinstance(key, str) and key in self._items:
            return self._items[key]
        message = f"{self._name} has no {self._member} {key!r}"
        if isinstance(key, str):
            message += did_you_mean(key, list(self._items))
        raise ExprError(message)


@dataclass(frozen=True)
class Builtin:
    """A function of the language; ``func`` receives the meter first, then the user's arguments."""

    name: str
    func: Callable[..., Any]

    def __repr__(self) -> str:
        return f"<function {self.name}>"


def did_you_mean(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Namespace):
        return "namespace"
    if isinstance(value, Builtin):
        return "function"
    if isinstance(value, SEQUENCES):
        return "list"
    return type(value).__name__


def check_value(value: Any) -> Any:
    """Refuse anything that is not a value of the language (a Python object from a scope)."""
    if type(value) in SCALARS or type(value) in (list, tuple, dict):
        return value
    if isinstance(value, Namespace | Builtin):
        return value
    raise ExprError(f"a value of Python type {type(value).__name__} is not usable in expressions")


def is_mapping(value: object) -> bool:
    return isinstance(value, dict | Namespace)


def equal(a: Any, b: Any, m: Meter, depth: int = 0) -> bool:
    m.tick()
    if a is b and not isinstance(a, float):
        return True
    if isinstance(a, SEQUENCES) and isinstance(b, SEQUENCES):
        if len(a) != len(b):
            return False
        m.check_depth(depth + 1, "values compared")
        return all(equal(x, y, m, depth + 1) for x, y in zip(a, b, strict=True))
    if is_mapping(a) and is_mapping(b):
        if len(a) != len(b):
            return False
        m.check_depth(depth + 1, "values compared")
        for key in a:
            m.tick()
            if key not in b or not equal(a[key], b[key], m, depth + 1):
                return False
        return True
    if type(a) in SCALARS and type(b) in SCALARS:
        return bool(a == b)
    return False


def compare(a: Any, b: Any, m: Meter, op: str, depth: int = 0) -> int:
    """-1, 0 or 1 as ``a`` sorts before, with or after ``b``; lists compare item by item."""
    m.tick()
    if (_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str)):
        return -1 if a < b else (1 if a > b else 0)
    if isinstance(a, SEQUENCES) and isinstance(b, SEQUENCES):
        m.check_depth(depth + 1, "values compared")
        for x, y in zip(a, b, strict=False):
            if not equal(x, y, m, depth + 1):
                return compare(x, y, m, op, depth + 1)
        return -1 if len(a) < len(b) else (1 if len(a) > len(b) else 0)
    raise ExprError(f"cannot compare {type_name(a)} with {type_name(b)} using {op}")


def _is_number(value: object) -> bool:
    return type(value) in (int, float, bool)


def contains(container: Any, item: Any, m: Meter) -> bool:
    if isinstance(container, str):
        if not isinstance(item, str):
            raise ExprError(f"'in <str>' needs a str on the left, not {type_name(item)}")
        m.tick(1 + len(container) // 256)
        return item in container
    if isinstance(container, SEQUENCES):
        return any(equal(item, x, m) for x in container)
    if is_mapping(container):
        m.tick()
        return hashable_key(item) in container
    raise ExprError(f"'in' needs a list, dict or str on the right, not {type_name(container)}")


def hashable_key(key: Any) -> Any:
    """Dict keys are scalars; anything else would make hashing an unbounded walk."""
    if type(key) in SCALARS:
        return key
    raise ExprError(f"a dict key must be a str, int, float, bool or null, not {type_name(key)}")


def truthy(value: Any) -> bool:
    if isinstance(value, Builtin):
        return True
    return bool(value)


def to_text(value: Any, m: Meter) -> str:
    """A value as text: a str as it is, anything else as compact JSON (``[1,2]``, ``null``)."""
    if isinstance(value, str):
        return value
    parts: list[str] = []
    _write_json(value, m, parts, [0], 0)
    return "".join(parts)


def _write_json(value: Any, m: Meter, parts: list[str], size: list[int], depth: int) -> None:
    m.tick()
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif value is None or isinstance(value, bool):
        text = "null" if value is None else ("true" if value else "false")
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = (
            repr(value)
            if math.isfinite(value)
            else ("NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity"))
        )
    elif isinstance(value, SEQUENCES) or is_mapping(value):
        m.check_depth(depth + 1, "a value nested")
        _write_container(value, m, parts, size, depth + 1)
        return
    else:
        raise ExprError(f"a {type_name(value)} cannot be turned into text; call it first")
    size[0] += len(text)
    m.check_chars(size[0], "a text")
    parts.append(text)


def _write_container(value: Any, m: Meter, parts: list[str], size: list[int], depth: int) -> None:
    mapping = is_mapping(value)
    parts.append("{" if mapping else "[")
    size[0] += 2
    for index, item in enumerate(value):
        if index:
            parts.append(",")
            size[0] += 1
        if mapping:
            _write_json(item if isinstance(item, str) else to_text(item, m), m, parts, size, depth)
            parts.append(":")
            size[0] += 1
            _write_json(value[item], m, parts, size, depth)
        else:
            _write_json(item, m, parts, size, depth)
    parts.append("}" if mapping else "]")


def to_result(value: Any, m: Meter) -> Any:
    """A fresh JSON value for the engine: lists for tuples, dicts for namespaces, str keys.

    Counted by its logical size, so a list holding one big list many times cannot leave the
    interpreter and explode when the engine serialises it.
    """
    counts = [0, 0]
    return _copy_result(value, m, counts, 0)


def _copy_result(value: Any, m: Meter, counts: list[int], depth: int) -> Any:
    budgets = m.budgets
    if type(value) in SCALARS:
        if isinstance(value, str):
            counts[1] += len(value)
            if counts[1] > budgets.string_size:
                m.check_chars(counts[1], "a result holding strings")
        return value
    if isinstance(value, SEQUENCES) or is_mapping(value):
        m.check_depth(depth + 1, "a result nested")
        counts[0] += len(value)
        if counts[0] > budgets.collection_size:
            m.check_items(counts[0], "a result holding, in all,")
        if counts[0] & 1023 == 0:
            m.check_time()
        if not is_mapping(value):
            return [_copy_result(item, m, counts, depth + 1) for item in value]
        result: dict[str, Any] = {}
        for key in value:
            if not isinstance(key, str):
                raise ExprError(
                    f"a result's dict keys must be strings; found {type_name(key)} key {key!r}"
                )
            result[key] = _copy_result(value[key], m, counts, depth + 1)
        return result
    if isinstance(value, Builtin):
        raise ExprError(f"the expression's value is the function {value.name}; call it")
    raise ExprError(f"a value of Python type {type(value).__name__} cannot be a result")
