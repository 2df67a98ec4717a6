"""Operators, each checking the size of its result before computing it.

Python's own operators would happily build ``'a' * 10**9`` or ``10 ** 10 ** 10``; here the
size is estimated from the operands first and refused if it would break a budget.
"""

from __future__ import annotations

import ast
from typing import Any

from podium.expr.budgets import Meter
from podium.expr.errors import ExprError
from podium.expr.values import SEQUENCES, Namespace, type_name

OPERATOR_SYMBOLS: dict[type[ast.AST], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
}


def is_int(value: object) -> bool:
    return type(value) in (int, bool)


def is_number(value: object) -> bool:
    return type(value) in (int, bool, float)


def checked_int(value: Any, m: Meter) -> Any:
    if type(value) is int:
        m.check_bits(value.bit_length())
    elif type(value) is complex:
        raise ExprError("the result is a complex number, which expressions do not support")
    return value


def binary(op: type[ast.AST], a: Any, b: Any, m: Meter) -> Any:
    symbol = OPERATOR_SYMBOLS.get(op)
    if symbol is None:
        raise ExprError("this operator is not supported")
    if symbol == "+" and not (is_number(a) and is_number(b)):
        return _concat(a, b, m)
    if symbol == "*" and not (is_number(a) and is_number(b)):
        return _repeat(a, b, m)
    if symbol == "|" and isinstance(a, dict | Namespace) and isinstance(b, dict | Namespace):
        m.check_items(len(a) + len(b), "a merged dict")
        return m.own({**a, **b})
    if not (is_number(a) and is_number(b)):
        raise ExprError(
            f"unsupported operand types for {symbol}: {type_name(a)} and {type_name(b)}"
        )
    _check_numeric_size(symbol, a, b, m)
    try:
        result = _NUMERIC[symbol](a, b)
    except ZeroDivisionError:
        raise ExprError(f"division by zero in {symbol}") from None
    except OverflowError:
        raise ExprError(f"the result of {symbol} is too large for a float") from None
    except (TypeError, ValueError) as error:
        raise ExprError(f"cannot compute {symbol}: {error}") from None
    return checked_int(result, m)


def _check_numeric_size(symbol: str, a: Any, b: Any, m: Meter) -> None:
    if symbol in ("<<", ">>", "&", "|", "^") and not (is_int(a) and is_int(b)):
        raise ExprError(f"{symbol} needs integers, not {type_name(a)} and {type_name(b)}")
    if symbol == "*" and is_int(a) and is_int(b):
        m.check_bits(int(a).bit_length() + int(b).bit_length(), "a product")
    elif symbol == "**" and is_int(a) and is_int(b) and b > 0 and abs(a) > 1:
        bits = int(b) * (abs(int(a)).bit_length() - 1) + 1
        m.check_bits(bits, f"a power {a} ** {b}")
        m.tick(1 + bits // 4096)
    elif symbol == "<<":
        if b < 0:
            raise ExprError("negative shift count")
        m.check_bits(int(a).bit_length() + int(b), "a shifted integer")


_NUMERIC: dict[str, Any] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "//": lambda a, b: a // b,
    "%": lambda a, b: a % b,
    "**": lambda a, b: a**b,
    "<<": lambda a, b: a << b,
    ">>": lambda a, b: a >> b,
    "&": lambda a, b: a & b,
    "|": lambda a, b: a | b,
    "^": lambda a, b: a ^ b,
}


def _concat(a: Any, b: Any, m: Meter) -> Any:
    if isinstance(a, str) and isinstance(b, str):
        m.check_chars(len(a) + len(b))
        return a + b
    if isinstance(a, SEQUENCES) and isinstance(b, SEQUENCES):
        m.check_items(len(a) + len(b), "a list")
        return m.own([*a, *b])
    raise ExprError(f"cannot add {type_name(a)} and {type_name(b)}")


def _repeat(a: Any, b: Any, m: Meter) -> Any:
    if is_int(a) and not is_int(b):
        a, b = b, a
    if not is_int(b):
        raise ExprError(f"cannot multiply {type_name(a)} by {type_name(b)}")
    times = max(int(b), 0)
    if isinstance(a, str):
        m.check_chars(len(a) * times, "a repeated string")
        return a * times
    if isinstance(a, SEQUENCES):
        m.check_items(len(a) * times, "a repeated list")
        return m.own(list(a) * times)
    raise ExprError(f"cannot multiply {type_name(a)} by {type_name(b)}")


def unary(op: ast.unaryop, value: Any, m: Meter) -> Any:
    if isinstance(op, ast.Not):
        raise AssertionError("'not' is handled by the interpreter")
    if not is_number(value) or (isinstance(op, ast.Invert) and not is_int(value)):
        raise ExprError(f"bad operand type for unary operator: {type_name(value)}")
    if isinstance(op, ast.USub):
        return checked_int(-value, m)
    if isinstance(op, ast.UAdd):
        return +value
    return checked_int(~int(value), m)
