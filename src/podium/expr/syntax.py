"""Parsing with ``ast`` and the whitelist every tree must pass before it is evaluated.

A tree is accepted only if every node is of a kind listed here and every name and attribute
is public; anything else (imports, lambdas, dunder names, conversions in f-strings) is
refused at parse time, with a message that says what to write instead.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass

from podium.expr.budgets import Budgets, check_source_length
from podium.expr.errors import ExprError, budget_error

_OPERATORS = (
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Pow,
    ast.LShift,
    ast.RShift,
    ast.BitOr,
    ast.BitXor,
    ast.BitAnd,
    ast.UAdd,
    ast.USub,
    ast.Not,
    ast.Invert,
    ast.And,
    ast.Or,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.Is,
    ast.IsNot,
    ast.In,
    ast.NotIn,
    ast.Load,
    ast.Store,
)
_EXPRESSIONS = (
    ast.Expression,
    ast.Constant,
    ast.Name,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.IfExp,
    ast.Call,
    ast.keyword,
    ast.Attribute,
    ast.Subscript,
    ast.Slice,
    ast.List,
    ast.Tuple,
    ast.Dict,
    ast.ListComp,
    ast.DictComp,
    ast.GeneratorExp,
    ast.comprehension,
    ast.JoinedStr,
    ast.FormattedValue,
    ast.Starred,
)
_STATEMENTS = (
    ast.Module,
    ast.Assign,
    ast.AugAssign,
    ast.If,
    ast.For,
    ast.While,
    ast.Break,
    ast.Continue,
    ast.Return,
    ast.Expr,
    ast.Pass,
)
_REFUSED_NAMES: dict[type[ast.AST], str] = {
    ast.Lambda: "lambda",
    ast.FunctionDef: "function definitions",
    ast.AsyncFunctionDef: "function definitions",
    ast.ClassDef: "class definitions",
    ast.Import: "imports",
    ast.ImportFrom: "imports",
    ast.NamedExpr: "the := operator",
    ast.Set: "sets (use a list)",
    ast.SetComp: "set comprehensions (use a list)",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Global: "global",
    ast.Nonlocal: "nonlocal",
    ast.With: "with",
    ast.AsyncWith: "with",
    ast.Try: "try",
    ast.Raise: 'raise (use fail("message"))',
    ast.Delete: "del",
    ast.Assert: "assert",
    ast.AsyncFor: "async for",
    ast.MatMult: "the @ operator",
    ast.AnnAssign: "annotations",
}
if hasattr(ast, "TryStar"):
    _REFUSED_NAMES[ast.TryStar] = "try"
if hasattr(ast, "Match"):
    _REFUSED_NAMES[ast.Match] = "match"
_CONSTANT_TYPES = (type(None), bool, int, float, str)


@dataclass(frozen=True)
class Parsed:
    """A checked tree and what later evaluations need to re-check against their own budgets."""

    tree: ast.Expression | ast.Module
    depth: int
    source_length: int


def parse_tree(source: str, mode: str, budgets: Budgets, column: int = 0) -> Parsed:
    """Parse ``source`` in ``mode`` ("eval" or "exec") and check it against the whitelist."""
    check_source_length(source, budgets)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # '\d' is kept as written, as Python does
            tree = ast.parse(source, mode=mode)
    except SyntaxError as error:
        if "too many nested" in str(error.msg):
            raise budget_error(
                "nesting_depth", "too many nested brackets", budgets.nesting_depth
            ) from None
        raise syntax_error(source, error, column) from None
    except (RecursionError, MemoryError):
        raise budget_error(
            "nesting_depth", "an expression too deeply nested to parse", budgets.nesting_depth
        ) from None
    except ValueError as error:
        raise ExprError(f"cannot parse `{_short(source)}`: {error}") from None
    assert isinstance(tree, ast.Expression | ast.Module)
    depth = check_tree(tree, budgets)
    return Parsed(tree, depth, len(source))


def syntax_error(source: str, error: SyntaxError, column: int = 0) -> ExprError:
    """A syntax error that quotes the expression and points at the column, counted in the
    caller's text (``column`` is where the expression starts in it)."""
    line = error.lineno or 1
    if not error.offset:
        where = "its end"
    elif line == 1:
        where = f"column {error.offset + column}"
    else:
        where = f"line {line}, column {error.offset}"
    return ExprError(f"invalid syntax in `{_short(source)}` at {where}: {error.msg}")


def _short(source: str, limit: int = 80) -> str:
    text = " ".join(source.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def refuse(node: ast.AST, what: str) -> ExprError:
    line = getattr(node, "lineno", 1)
    where = f" (line {line})" if line > 1 else ""
    return ExprError(f"not allowed in expressions: {what}{where}")


def check_tree(tree: ast.AST, budgets: Budgets) -> int:
    """Check every node of ``tree``; return its nesting depth (a chain ``a + b + c`` is one)."""
    deepest = 0
    stack: list[tuple[ast.AST, int, bool]] = [(tree, 0, False)]
    while stack:
        node, depth, in_loop = stack.pop()
        _check_node(node, in_loop, budgets)
        if depth > deepest:
            deepest = depth
            if depth > budgets.nesting_depth:
                raise budget_error(
                    "nesting_depth",
                    f"an expression nested {depth} levels deep",
                    budgets.nesting_depth,
                )
        loop_body = isinstance(node, ast.For | ast.While)
        for field, child in _children(node):
            child_depth = depth if _is_chain(node, field, child) else depth + 1
            if isinstance(child, _OPERATORS):
                continue
            child_in_loop = in_loop or (loop_body and field == "body")
            stack.append((child, child_depth, child_in_loop))
    return deepest


def _children(node: ast.AST) -> list[tuple[str, ast.AST]]:
    found: list[tuple[str, ast.AST]] = []
    for field, value in ast.iter_fields(node):
        if isinstance(value, ast.AST):
            found.append((field, value))
        elif isinstance(value, list):
            found.extend((field, item) for item in value if isinstance(item, ast.AST))
    return found


def _is_chain(node: ast.AST, field: str, child: ast.AST) -> bool:
    """Left-leaning chains of one operator are evaluated in a loop, so they do not nest."""
    return isinstance(node, ast.BinOp) and field == "left" and isinstance(child, ast.BinOp)


def _check_node(node: ast.AST, in_loop: bool, budgets: Budgets) -> None:
    if isinstance(node, _OPERATORS):
        return
    if not isinstance(node, _EXPRESSIONS + _STATEMENTS):
        raise refuse(node, _REFUSED_NAMES.get(type(node), f"{type(node).__name__} nodes"))
    checker = _CHECKS.get(type(node))
    if checker is not None:
        checker(node, budgets)
    if isinstance(node, ast.Break | ast.Continue) and not in_loop:
        raise refuse(node, "break and continue outside a loop")


def _check_name(node: ast.AST, budgets: Budgets) -> None:
    assert isinstance(node, ast.Name)
    if node.id.startswith("_"):
        raise refuse(node, f"names starting with '_' ({node.id})")


def _check_attribute(node: ast.AST, budgets: Budgets) -> None:
    assert isinstance(node, ast.Attribute)
    if node.attr.startswith("_"):
        raise refuse(node, f"attributes starting with '_' (.{node.attr})")
    if not isinstance(node.ctx, ast.Load):
        raise refuse(node, "assignments to attributes")


def _check_constant(node: ast.AST, budgets: Budgets) -> None:
    assert isinstance(node, ast.Constant)
    value = node.value
    if type(value) not in _CONSTANT_TYPES:
        raise refuse(node, f"{type(value).__name__} literals")
    if type(value) is int and value.bit_length() > budgets.integer_bits:
        raise budget_error(
            "integer_size", f"an integer literal of {value.bit_length()} bits", budgets.integer_bits
        )


def _check_call(node: ast.AST, budgets: Budgets) -> None:
    assert isinstance(node, ast.Call)
    if any(isinstance(arg, ast.Starred) for arg in node.args):
        raise refuse(node, "*arguments in calls")
    if any(keyword.arg is None for keyword in node.keywords):
        raise refuse(node, "**arguments in calls")
    for keyword in node.keywords:
        if keyword.arg and keyword.arg.startswith("_"):
            raise refuse(node, f"keyword arguments starting with '_' ({keyword.arg})")


def _check_formatted(node: ast.AST, budgets: Budgets) -> None:
    assert isinstance(node, ast.FormattedValue)
    if node.conversion != -1:
        raise refuse(node, "f-string conversions (!r, !s, !a)")
    spec = node.format_spec
    if spec is not None and not (
        isinstance(spec, ast.JoinedStr)
        and all(
            isinstance(part, ast.Constant) and isinstance(part.value, str) for part in spec.values
        )
    ):
        raise refuse(node, "f-string format specs containing {…}")


def _check_comprehension(node: ast.AST, budgets: Budgets) -> None:
    assert isinstance(node, ast.comprehension)
    if node.is_async:
        raise refuse(node, "async comprehensions")
    _check_target(node.target)


def _check_assign(node: ast.AST, budgets: Budgets) -> None:
    if isinstance(node, ast.Assign):
        for target in node.targets:
            _check_target(target)
    elif isinstance(node, ast.AugAssign):
        if not isinstance(node.target, ast.Name | ast.Subscript):
            raise refuse(node, "augmented assignments to this kind of target")
    elif isinstance(node, ast.For):
        _check_target(node.target)


def _check_target(target: ast.AST) -> None:
    if isinstance(target, ast.Tuple | ast.List):
        for item in target.elts:
            _check_target(item)
    elif not isinstance(target, ast.Name | ast.Subscript):
        raise refuse(target, f"assignments to {type(target).__name__} targets")


def _check_starred(node: ast.AST, budgets: Budgets) -> None:
    assert isinstance(node, ast.Starred)
    if not isinstance(node.ctx, ast.Load):
        raise refuse(node, "starred assignment targets")


_CHECKS = {
    ast.Name: _check_name,
    ast.Attribute: _check_attribute,
    ast.Constant: _check_constant,
    ast.Call: _check_call,
    ast.FormattedValue: _check_formatted,
    ast.comprehension: _check_comprehension,
    ast.Assign: _check_assign,
    ast.AugAssign: _check_assign,
    ast.For: _check_assign,
    ast.Starred: _check_starred,
}
