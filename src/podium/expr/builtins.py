"""The built-in functions of the language.

Each receives the evaluation's meter first and pays for the work it does (one operation per
item it walks), so no built-in is a way around the budgets.
"""

from __future__ import annotations

import ast
import functools
import inspect
import math
import re
import uuid as uuid_module
from collections.abc import Sequence
from typing import Any

from podium.expr import dates
from podium.expr.arith import binary, checked_int, is_int, is_number
from podium.expr.budgets import Meter
from podium.expr.errors import ExprError
from podium.expr.values import (
    SEQUENCES,
    Builtin,
    Namespace,
    compare,
    hashable_key,
    is_mapping,
    to_text,
    truthy,
    type_name,
)

_MISSING: Any = object()
_NON_SPACE = re.compile(r"\S+")


def items_of(value: Any, m: Meter, what: str) -> Sequence[Any]:
    """The items a ``for`` or a built-in walks: a list's items, a dict's keys, a str's chars."""
    if isinstance(value, SEQUENCES):
        return value
    if is_mapping(value):
        m.check_items(len(value))
        return list(value)
    if isinstance(value, str):
        m.check_items(len(value), "a list of characters")
        return list(value)
    raise ExprError(f"{what} needs a list, dict or str, not {type_name(value)}")


def _len(m: Meter, value: Any, /) -> int:
    if isinstance(value, str | list | tuple | dict | Namespace):
        return len(value)
    raise ExprError(f"len() needs a list, dict or str, not {type_name(value)}")


def _range(m: Meter, *args: Any) -> list[int]:
    if not 1 <= len(args) <= 3 or not all(is_int(a) for a in args):
        raise ExprError(
            "range() takes one to three integers: range(stop), range(start, stop[, step])"
        )
    start, stop, step = (0, args[0], 1) if len(args) == 1 else (args[0], args[1], 1)
    if len(args) == 3:
        step = args[2]
    if step == 0:
        raise ExprError("range() step must not be zero")
    count = max(0, (stop - start + step - (1 if step > 0 else -1)) // step)
    m.check_items(count, "a range")
    return m.own(list(range(start, stop, step)))


def _extreme(name: str, sign: int) -> Any:
    def pick(m: Meter, *args: Any, default: Any = _MISSING) -> Any:
        values = items_of(args[0], m, f"{name}()") if len(args) == 1 else args
        if not values:
            if default is _MISSING:
                raise ExprError(f"{name}() of an empty list; pass default=…")
            return default
        best = values[0]
        for value in values[1:]:
            if compare(value, best, m, name) * sign > 0:
                best = value
        return best

    return pick


def _sum(m: Meter, values: Any, /, start: Any = 0) -> Any:
    total = start
    for value in items_of(values, m, "sum()"):
        m.tick()
        total = binary(ast.Add, total, value, m)
    return total


def _sorted(m: Meter, values: Any, /, *, reverse: Any = False) -> list[Any]:
    items = list(items_of(values, m, "sorted()"))
    m.check_items(len(items), "a sorted list")
    m.tick(len(items) * max(1, int(math.log2(len(items) + 1))) // 4)
    key = functools.cmp_to_key(lambda a, b: compare(a, b, m, "sorted()"))
    return m.own(sorted(items, key=key, reverse=truthy(reverse)))


def _reversed(m: Meter, values: Any, /) -> list[Any]:
    items = items_of(values, m, "reversed()")
    m.check_items(len(items))
    return m.own(list(reversed(items)))


def _abs(m: Meter, value: Any, /) -> Any:
    if not is_number(value):
        raise ExprError(f"abs() needs a number, not {type_name(value)}")
    return abs(value)


def _round(m: Meter, value: Any, /, ndigits: Any = None) -> Any:
    if not is_number(value):
        raise ExprError(f"round() needs a number, not {type_name(value)}")
    if ndigits is None:
        try:
            return round(value)
        except (OverflowError, ValueError) as error:
            raise ExprError(f"round(): {error}") from None
    if not is_int(ndigits) or abs(ndigits) > 1000:
        raise ExprError("round(): ndigits must be an integer between -1000 and 1000")
    return checked_int(round(value, ndigits), m)


def _str(m: Meter, value: Any = "", /) -> str:
    return to_text(value, m)


def _int(m: Meter, value: Any = 0, /, base: Any = _MISSING) -> int:
    if isinstance(value, str):
        radix = 10 if base is _MISSING else base
        if not is_int(radix) or not (radix == 0 or 2 <= radix <= 36):
            raise ExprError("int(): base must be 0 or between 2 and 36")
        digits = len(value.strip().lstrip("+-").replace("_", ""))
        bits_per_digit = math.log2(radix) if radix else math.log2(10)
        m.check_bits(int((digits - 1) * bits_per_digit) + 1, f"int() of {digits} digits")
        m.check_chars(len(value), "the text given to int()")
        try:
            result: int = checked_int(int(value, radix), m)
            return result
        except ValueError:
            raise ExprError(f"int(): {value[:40]!r} is not an integer") from None
    if base is not _MISSING:
        raise ExprError("int(): base is only allowed with a str")
    if is_int(value):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExprError(f"int(): cannot convert {value} to an integer")
        converted: int = checked_int(int(value), m)
        return converted
    raise ExprError(f"int() needs a number or a str, not {type_name(value)}")


def _float(m: Meter, value: Any = 0.0, /) -> float:
    if is_number(value):
        try:
            return float(value)
        except OverflowError:
            raise ExprError("float(): the integer is too large for a float") from None
    if isinstance(value, str):
        m.check_chars(len(value), "the text given to float()")
        try:
            return float(value)
        except ValueError:
            raise ExprError(f"float(): {value[:40]!r} is not a number") from None
    raise ExprError(f"float() needs a number or a str, not {type_name(value)}")


def _bool(m: Meter, value: Any = False, /) -> bool:
    return truthy(value)


def _list(m: Meter, value: Any = (), /) -> list[Any]:
    items = items_of(value, m, "list()")
    m.check_items(len(items))
    return m.own(list(items))


def _dict(m: Meter, value: Any = _MISSING, /, **kwargs: Any) -> dict[Any, Any]:
    result: dict[Any, Any] = {}
    if is_mapping(value):
        m.check_items(len(value) + len(kwargs))
        result.update(value)
    elif value is not _MISSING:
        for pair in items_of(value, m, "dict()"):
            m.tick()
            if not isinstance(pair, SEQUENCES) or len(pair) != 2:
                raise ExprError("dict() needs a dict or a list of [key, value] pairs")
            result[hashable_key(pair[0])] = pair[1]
    m.check_items(len(result) + len(kwargs))
    result.update(kwargs)
    return m.own(result)


def _zip(m: Meter, *lists: Any) -> list[list[Any]]:
    columns = [items_of(values, m, "zip()") for values in lists]
    count = min((len(c) for c in columns), default=0)
    m.check_items(count * max(1, len(columns)), "a zipped list")
    return m.own([m.own(list(row)) for row in zip(*columns, strict=False)])


def _enumerate(m: Meter, values: Any, /, start: Any = 0) -> list[list[Any]]:
    if not is_int(start):
        raise ExprError("enumerate(): start must be an integer")
    items = items_of(values, m, "enumerate()")
    m.check_items(2 * len(items), "an enumerated list")
    return m.own([m.own([start + i, item]) for i, item in enumerate(items)])


def _any(m: Meter, values: Any, /) -> bool:
    for value in items_of(values, m, "any()"):
        m.tick()
        if truthy(value):
            return True
    return False


def _all(m: Meter, values: Any, /) -> bool:
    for value in items_of(values, m, "all()"):
        m.tick()
        if not truthy(value):
            return False
    return True


def _uuid(m: Meter, /) -> str:
    return str(uuid_module.uuid4())


def _now(m: Meter, /) -> str:
    """An ISO-8601 UTC time with its offset: values that flow through params are JSON."""
    return m.clock().astimezone(dates.zone("UTC")).isoformat()


def _fail(m: Meter, message: Any = "failed", /) -> Any:
    raise ExprError(f"fail: {to_text(message, m)}")


def _text(value: Any, function: str) -> str:
    if not isinstance(value, str):
        raise ExprError(f"{function}() needs a str, not {type_name(value)}")
    return value


def _lower(m: Meter, text: Any, /) -> str:
    m.tick(len(_text(text, "lower")) // 64)
    return text.lower()  # type: ignore[no-any-return]


def _upper(m: Meter, text: Any, /) -> str:
    m.check_chars(3 * len(_text(text, "upper")), "an upper-cased string")
    return text.upper()  # type: ignore[no-any-return]


def _strip(m: Meter, text: Any, /, chars: Any = None) -> str:
    if chars is not None:
        _text(chars, "strip")
    m.tick(len(_text(text, "strip")) // 64)
    return text.strip(chars)  # type: ignore[no-any-return]


def _split(m: Meter, text: Any, /, sep: Any = None, maxsplit: Any = -1) -> list[str]:
    _text(text, "split")
    if not is_int(maxsplit):
        raise ExprError("split(): maxsplit must be an integer")
    if sep is None:
        count = 0
        for count, _ in enumerate(_NON_SPACE.finditer(text), start=1):
            if count > m.budgets.collection_size:
                break
    else:
        if _text(sep, "split") == "":
            raise ExprError("split(): the separator must not be empty")
        count = text.count(sep) + 1
    if maxsplit >= 0:
        count = min(count, maxsplit + 1)
    m.check_items(count, "a split list")
    return m.own(text.split(sep, maxsplit))


def _join(m: Meter, sep: Any, items: Any, /) -> str:
    _text(sep, "join")
    parts = items_of(items, m, "join()")
    for part in parts:
        _text(part, "join")
    m.check_chars(sum(len(p) for p in parts) + len(sep) * max(0, len(parts) - 1), "a joined string")
    return sep.join(parts)  # type: ignore[no-any-return]


def _replace(m: Meter, text: Any, old: Any, new: Any, /) -> str:
    _text(text, "replace")
    _text(old, "replace")
    _text(new, "replace")
    count = text.count(old)
    m.check_chars(len(text) + count * (len(new) - len(old)), "a replaced string")
    return text.replace(old, new)  # type: ignore[no-any-return]


def _raw(m: Meter, value: Any, /) -> Any:
    """The value itself: only in a script does ``${ raw(x) }`` mean something (pasted as code)."""
    return value


_FUNCTIONS = {
    "len": _len,
    "range": _range,
    "min": _extreme("min", -1),
    "max": _extreme("max", 1),
    "sum": _sum,
    "sorted": _sorted,
    "reversed": _reversed,
    "abs": _abs,
    "round": _round,
    "str": _str,
    "int": _int,
    "float": _float,
    "bool": _bool,
    "list": _list,
    "dict": _dict,
    "zip": _zip,
    "enumerate": _enumerate,
    "any": _any,
    "all": _all,
    "uuid": _uuid,
    "now": _now,
    "fail": _fail,
    "lower": _lower,
    "upper": _upper,
    "strip": _strip,
    "split": _split,
    "join": _join,
    "replace": _replace,
    "raw": _raw,
}
BUILTINS: dict[str, Any] = {name: Builtin(name, func) for name, func in _FUNCTIONS.items()}
BUILTINS["dates"] = dates.DATES
# YAML and JSON spell them this way; people writing workflow files do too.
BUILTINS.update({"true": True, "false": False, "null": None})
BUILTIN_NAMES = frozenset(BUILTINS)
_SIGNATURES: dict[Any, inspect.Signature] = {}


def call(function: Builtin, args: list[Any], kwargs: dict[str, Any], m: Meter) -> Any:
    """Call a built-in, turning a wrong call into an error that shows the right one."""
    signature = _SIGNATURES.get(function.func)
    if signature is None:
        signature = _SIGNATURES[function.func] = inspect.signature(function.func)
    try:
        signature.bind(m, *args, **kwargs)
    except TypeError as error:
        raise ExprError(f"{function.name}(): {error}") from None
    m.tick()
    return function.func(m, *args, **kwargs)
