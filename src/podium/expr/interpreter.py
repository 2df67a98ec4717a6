"""Our own interpreter: it walks a checked tree, pays for every node, and never hands a
Python object's attributes to the user.

Only the node types ``syntax`` lets through are handled; values that come in through the
scope are looked at by type before use, and containers built elsewhere are never changed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from typing import Any

from podium.expr import arith
from podium.expr.budgets import Meter
from podium.expr.builtins import BUILTINS, call, items_of
from podium.expr.errors import ExprError
from podium.expr.values import (
    Builtin,
    Namespace,
    check_value,
    compare,
    contains,
    did_you_mean,
    equal,
    hashable_key,
    to_text,
    truthy,
    type_name,
)

_SPEC = re.compile(
    r"(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>\d+)?[,_]?(?:\.(?P<precision>\d+))?[bcdeEfFgGnosxX%]?",
    re.DOTALL,
)
_STRING_FUNCTIONS = {"lower", "upper", "strip", "split", "join", "replace"}


class _Return:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


_BREAK = object()
_CONTINUE = object()
Signal = object | None
Handler = Callable[["Interpreter", Any], Any]


class Interpreter:
    """One evaluation: the scope it reads, its local frames, and the meter it pays."""

    def __init__(self, scope: Mapping[str, Any], meter: Meter) -> None:
        self.scope = scope
        self.m = meter
        self.frames: list[dict[str, Any]] = [{}]

    def eval(self, node: ast.AST) -> Any:
        self.m.tick()
        handler = _EXPRESSION_HANDLERS.get(type(node))
        if handler is None:
            raise ExprError(f"{type(node).__name__} cannot be evaluated here")
        return handler(self, node)

    # names, attributes, subscripts

    def lookup(self, name: str) -> Any:
        for frame in reversed(self.frames):
            if name in frame:
                return frame[name]
        if name in self.scope:
            return check_value(self.scope[name])
        if name in BUILTINS:
            return BUILTINS[name]
        known = [n for frame in self.frames for n in frame] + list(self.scope) + list(BUILTINS)
        raise ExprError(f"unknown name {name!r}{did_you_mean(name, known)}")

    def _name(self, node: ast.Name) -> Any:
        return self.lookup(node.id)

    def _attribute(self, node: ast.Attribute) -> Any:
        value = self.eval(node.value)
        if isinstance(value, Namespace):
            return check_value(value.lookup(node.attr))
        hint = ""
        if node.attr in _STRING_FUNCTIONS:
            hint = f"; call {node.attr}(x, …) instead of x.{node.attr}(…)"
        elif node.attr in ("append", "extend"):
            hint = "; build a new list instead: xs + [x]"
        raise ExprError(
            f"a {type_name(value)} has no attributes (.{node.attr}); only namespaces such as "
            f"run, signal, step outputs and dates do{hint}"
        )

    def _subscript(self, node: ast.Subscript) -> Any:
        value = self.eval(node.value)
        if isinstance(node.slice, ast.Slice):
            return self._slice(value, node.slice)
        return self.index(value, self.eval(node.slice))

    def index(self, value: Any, key: Any) -> Any:
        if isinstance(value, Namespace):
            return check_value(value.lookup(key))
        if isinstance(value, dict):
            key = hashable_key(key)
            if key not in value:
                keys = [k for k in value if isinstance(k, str)]
                hint = did_you_mean(key, keys) if isinstance(key, str) else ""
                raise ExprError(f"key {key!r} is not in the dict{hint}")
            return check_value(value[key])
        if isinstance(value, list | tuple | str):
            if not arith.is_int(key):
                raise ExprError(
                    f"a {type_name(value)} index must be an integer, not {type_name(key)}"
                )
            if not -len(value) <= key < len(value):
                raise ExprError(
                    f"index {key} is out of range for a {type_name(value)} of {len(value)}"
                )
            return check_value(value[key])
        raise ExprError(f"a {type_name(value)} cannot be indexed")

    def _slice(self, value: Any, node: ast.Slice) -> Any:
        bounds = [
            None if part is None else self.eval(part)
            for part in (node.lower, node.upper, node.step)
        ]
        if not all(bound is None or arith.is_int(bound) for bound in bounds):
            raise ExprError("slice bounds must be integers")
        if bounds[2] == 0:
            raise ExprError("a slice step must not be zero")
        if not isinstance(value, list | tuple | str):
            raise ExprError(f"a {type_name(value)} cannot be sliced")
        part = slice(*bounds)
        count = len(range(*part.indices(len(value))))
        if isinstance(value, str):
            self.m.check_chars(count)
            return value[part]
        self.m.check_items(count)
        return self.m.own(list(value[part]))

    # operators

    def _binop(self, node: ast.BinOp) -> Any:
        chain: list[ast.BinOp] = []
        left: ast.AST = node
        while isinstance(left, ast.BinOp):
            chain.append(left)
            left = left.left
        value = self.eval(left)
        for step in reversed(chain):
            self.m.tick()
            value = arith.binary(type(step.op), value, self.eval(step.right), self.m)
        return value

    def _unaryop(self, node: ast.UnaryOp) -> Any:
        value = self.eval(node.operand)
        if isinstance(node.op, ast.Not):
            return not truthy(value)
        return arith.unary(node.op, value, self.m)

    def _boolop(self, node: ast.BoolOp) -> Any:
        is_and = isinstance(node.op, ast.And)
        value: Any = None
        for operand in node.values:
            value = self.eval(operand)
            if truthy(value) != is_and:
                return value
        return value

    def _compare(self, node: ast.Compare) -> bool:
        left = self.eval(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.eval(comparator)
            if not self._compare_one(op, left, right):
                return False
            left = right
        return True

    def _compare_one(self, op: ast.cmpop, left: Any, right: Any) -> bool:
        m = self.m
        if isinstance(op, ast.Eq | ast.NotEq):
            return equal(left, right, m) == isinstance(op, ast.Eq)
        if isinstance(op, ast.In | ast.NotIn):
            return contains(right, left, m) == isinstance(op, ast.In)
        if isinstance(op, ast.Is | ast.IsNot):
            return (left is right) == isinstance(op, ast.Is)
        symbol = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}[type(op)]
        order = compare(left, right, m, symbol)
        return {"<": order < 0, "<=": order <= 0, ">": order > 0, ">=": order >= 0}[symbol]

    def _ifexp(self, node: ast.IfExp) -> Any:
        return self.eval(node.body if truthy(self.eval(node.test)) else node.orelse)

    def _call(self, node: ast.Call) -> Any:
        function = self.eval(node.func)
        if not isinstance(function, Builtin):
            raise ExprError(f"a {type_name(function)} is not a function")
        args = [self.eval(arg) for arg in node.args]
        kwargs = {kw.arg: self.eval(kw.value) for kw in node.keywords if kw.arg}
        return call(function, args, kwargs, self.m)

    # literals and comprehensions

    def _constant(self, node: ast.Constant) -> Any:
        return node.value

    def _sequence(self, node: ast.List | ast.Tuple) -> list[Any]:
        result: list[Any] = []
        for element in node.elts:
            if isinstance(element, ast.Starred):
                items = items_of(self.eval(element.value), self.m, "*")
                self.m.check_items(len(result) + len(items), "a list")
                result.extend(items)
            else:
                result.append(self.eval(element))
        self.m.check_items(len(result), "a list")
        return self.m.own(result)

    def _dict(self, node: ast.Dict) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:
                merged = self.eval(value)
                if not isinstance(merged, dict | Namespace):
                    raise ExprError(f"** needs a dict, not {type_name(merged)}")
                self.m.check_items(len(result) + len(merged), "a dict")
                result.update(merged)
            else:
                result[hashable_key(self.eval(key))] = self.eval(value)
        self.m.check_items(len(result), "a dict")
        return self.m.own(result)

    def _listcomp(self, node: ast.ListComp | ast.GeneratorExp) -> list[Any]:
        result: list[Any] = []
        limit = self.m.budgets.collection_size

        def emit() -> None:
            if len(result) >= limit:
                self.m.check_items(len(result) + 1, "a comprehension")
            result.append(self.eval(node.elt))

        self._comprehend(node.generators, emit)
        return self.m.own(result)

    def _dictcomp(self, node: ast.DictComp) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        limit = self.m.budgets.collection_size

        def emit() -> None:
            if len(result) >= limit:
                self.m.check_items(len(result) + 1, "a comprehension")
            result[hashable_key(self.eval(node.key))] = self.eval(node.value)

        self._comprehend(node.generators, emit)
        return self.m.own(result)

    def _comprehend(self, generators: list[ast.comprehension], emit: Callable[[], None]) -> None:
        self.frames.append({})
        try:
            self._generate(generators, 0, emit)
        finally:
            self.frames.pop()

    def _generate(
        self, generators: list[ast.comprehension], position: int, emit: Callable[[], None]
    ) -> None:
        generator = generators[position]
        for item in items_of(self.eval(generator.iter), self.m, "a comprehension"):
            self.m.tick()
            self.assign(generator.target, item)
            if all(truthy(self.eval(test)) for test in generator.ifs):
                if position + 1 == len(generators):
                    emit()
                else:
                    self._generate(generators, position + 1, emit)

    def _joinedstr(self, node: ast.JoinedStr) -> str:
        parts: list[str] = []
        size = 0
        for part in node.values:
            text = (
                self._formatted(part)
                if isinstance(part, ast.FormattedValue)
                else str(part.value if isinstance(part, ast.Constant) else "")
            )
            size += len(text)
            self.m.check_chars(size, "an f-string")
            parts.append(text)
        return "".join(parts)

    def _formatted(self, node: ast.FormattedValue) -> str:
        value = self.eval(node.value)
        spec = ""
        if isinstance(node.format_spec, ast.JoinedStr):
            spec = "".join(
                str(part.value)
                for part in node.format_spec.values
                if isinstance(part, ast.Constant)
            )
        if not spec:
            return to_text(value, self.m)
        return self.format_value(value, spec)

    def format_value(self, value: Any, spec: str) -> str:
        """``format(value, spec)`` only for numbers and strings, with a bounded width."""
        match = _SPEC.fullmatch(spec)
        if match is None:
            raise ExprError(f"invalid format spec {spec!r}")
        if type(value) not in (int, float, str, bool):
            raise ExprError(f"a format spec applies to numbers and strings, not {type_name(value)}")
        width = int(match["width"] or 0)
        precision = int(match["precision"] or 0)
        if precision > 1000:
            raise ExprError(f"format precision {precision} is above 1000")
        self.m.check_chars(width, "a formatted value")
        try:
            return format(value, spec)
        except (ValueError, TypeError, OverflowError) as error:
            raise ExprError(f"cannot format a {type_name(value)} with {spec!r}: {error}") from None

    # statements

    def run(self, body: list[ast.stmt]) -> Signal:
        for statement in body:
            self.m.tick()
            handler = _STATEMENT_HANDLERS.get(type(statement))
            if handler is None:
                raise ExprError(f"{type(statement).__name__} cannot be run here")
            signal: Signal = handler(self, statement)
            if signal is not None:
                return signal
        return None

    def assign(self, target: ast.AST, value: Any) -> None:
        if isinstance(target, ast.Name):
            self.frames[-1][target.id] = value
        elif isinstance(target, ast.Tuple | ast.List):
            items = items_of(value, self.m, "unpacking")
            if len(items) != len(target.elts):
                raise ExprError(f"cannot unpack {len(items)} values into {len(target.elts)} names")
            for element, item in zip(target.elts, items, strict=True):
                self.assign(element, item)
        elif isinstance(target, ast.Subscript):
            self._store_item(target, value)
        else:
            raise ExprError(f"cannot assign to {type(target).__name__}")

    def _store_item(self, target: ast.Subscript, value: Any) -> None:
        if isinstance(target.slice, ast.Slice):
            raise ExprError("assigning to a slice is not supported")
        container = self.eval(target.value)
        key = self.eval(target.slice)
        if not isinstance(container, list | dict):
            raise ExprError(f"a {type_name(container)} cannot be changed by item")
        if not self.m.is_owned(container):
            raise ExprError(
                "cannot change a list or dict that came from outside the code block; "
                "copy it first with list(x) or dict(x)"
            )
        if isinstance(container, dict):
            key = hashable_key(key)
            if key not in container:
                self.m.check_items(len(container) + 1, "a dict")
            container[key] = value
            return
        if not arith.is_int(key) or not -len(container) <= key < len(container):
            raise ExprError(f"list index {key!r} is out of range for a list of {len(container)}")
        container[key] = value

    def _assign_statement(self, node: ast.Assign) -> Signal:
        value = self.eval(node.value)
        for target in node.targets:
            self.assign(target, value)
        return None

    def _augassign(self, node: ast.AugAssign) -> Signal:
        target = node.target
        operand = self.eval(node.value)
        if isinstance(target, ast.Name):
            current = self.lookup(target.id)
            self.assign(target, arith.binary(type(node.op), current, operand, self.m))
            return None
        assert isinstance(target, ast.Subscript)
        current = self.index(self.eval(target.value), self.eval(target.slice))
        self._store_item(target, arith.binary(type(node.op), current, operand, self.m))
        return None

    def _if(self, node: ast.If) -> Signal:
        return self.run(node.body if truthy(self.eval(node.test)) else node.orelse)

    def _for(self, node: ast.For) -> Signal:
        for item in items_of(self.eval(node.iter), self.m, "for"):
            self.m.tick()
            self.assign(node.target, item)
            signal = self.run(node.body)
            if signal is _BREAK:
                return None
            if isinstance(signal, _Return):
                return signal
        return self.run(node.orelse)

    def _while(self, node: ast.While) -> Signal:
        while truthy(self.eval(node.test)):
            self.m.tick()
            signal = self.run(node.body)
            if signal is _BREAK:
                return None
            if isinstance(signal, _Return):
                return signal
        return self.run(node.orelse)

    def _return(self, node: ast.Return) -> Signal:
        return _Return(None if node.value is None else self.eval(node.value))

    def _expr_statement(self, node: ast.Expr) -> Signal:
        self.eval(node.value)
        return None


def run_code(interpreter: Interpreter, body: list[ast.stmt]) -> Any:
    signal = interpreter.run(body)
    if isinstance(signal, _Return):
        return signal.value
    raise ExprError("code block ended without `return`; end every path with `return value`")


_EXPRESSION_HANDLERS: dict[type[ast.AST], Handler] = {
    ast.Constant: Interpreter._constant,
    ast.Name: Interpreter._name,
    ast.Attribute: Interpreter._attribute,
    ast.Subscript: Interpreter._subscript,
    ast.BinOp: Interpreter._binop,
    ast.UnaryOp: Interpreter._unaryop,
    ast.BoolOp: Interpreter._boolop,
    ast.Compare: Interpreter._compare,
    ast.IfExp: Interpreter._ifexp,
    ast.Call: Interpreter._call,
    ast.List: Interpreter._sequence,
    ast.Tuple: Interpreter._sequence,
    ast.Dict: Interpreter._dict,
    ast.ListComp: Interpreter._listcomp,
    ast.GeneratorExp: Interpreter._listcomp,
    ast.DictComp: Interpreter._dictcomp,
    ast.JoinedStr: Interpreter._joinedstr,
}
_STATEMENT_HANDLERS: dict[type[ast.AST], Handler] = {
    ast.Assign: Interpreter._assign_statement,
    ast.AugAssign: Interpreter._augassign,
    ast.If: Interpreter._if,
    ast.For: Interpreter._for,
    ast.While: Interpreter._while,
    ast.Return: Interpreter._return,
    ast.Expr: Interpreter._expr_statement,
    ast.Break: lambda self, node: _BREAK,
    ast.Continue: lambda self, node: _CONTINUE,
    ast.Pass: lambda self, node: None,
}
