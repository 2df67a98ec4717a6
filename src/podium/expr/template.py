"""Strings with ``${ expr }`` inside: parsed once, evaluated many times.

A string that is exactly one ``${ … }`` yields the value with its type; anything longer is
text. The closing brace is found by counting brackets and skipping string literals, so
``${ {'a': '}'}['a'] }`` works; in shell mode only ``${`` followed by a space starts an
expression, so bash's ``${HOME}`` and ``${x:-1}`` stay bash's.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from podium.expr import literals
from podium.expr.budgets import Budgets, Clock, Meter, current_budgets
from podium.expr.errors import ExprError
from podium.expr.interpreter import Interpreter
from podium.expr.names import Reference, collect
from podium.expr.run import evaluate_guarded
from podium.expr.syntax import Parsed, parse_tree
from podium.expr.values import to_result, to_text

_SPACE = " \t\r\n"


@dataclass(frozen=True)
class _Expression:
    parsed: Parsed
    source: str


def _position(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"column {column}" if line == 1 else f"line {line}, column {column}"


def _skip_string(text: str, start: int) -> int:
    quote = text[start]
    closing = quote * 3 if text.startswith(quote * 3, start) else quote
    index = start + len(closing)
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if text.startswith(closing, index):
            return index + len(closing)
        if char == "\n" and len(closing) == 1:
            break
        index += 1
    raise ExprError(f"unterminated string in the expression at {_position(text, start)}")


def _closing_brace(text: str, start: int) -> int:
    depth = 0
    index = start
    while index < len(text):
        char = text[index]
        if char in "'\"":
            index = _skip_string(text, index)
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                if char == "}":
                    return index
                raise ExprError(
                    f"unbalanced {char!r} in the expression at {_position(text, index)}"
                )
            depth -= 1
        index += 1
    raise ExprError(f"`${{` at {_position(text, start - 2)} has no closing `}}`")


def _split(text: str, shell: bool, budgets: Budgets) -> list[str | _Expression]:
    parts: list[str | _Expression] = []
    buffer: list[str] = []
    index = 0
    while index < len(text):
        dollar = text.find("$", index)
        if dollar < 0:
            buffer.append(text[index:])
            break
        buffer.append(text[index:dollar])
        opens = text.startswith("${", dollar)
        if shell and opens and not text[dollar + 2 : dollar + 3].isspace():
            opens = False
        if text.startswith("$${", dollar) and (
            not shell or text[dollar + 3 : dollar + 4].isspace()
        ):
            buffer.append("${")
            index = dollar + 3
        elif opens:
            end = _closing_brace(text, dollar + 2)
            inner = text[dollar + 2 : end]
            source = inner.strip(_SPACE)
            if not source:
                raise ExprError(f"empty expression `${{}}` at {_position(text, dollar)}")
            if "".join(buffer):
                parts.append("".join(buffer))
            buffer = []
            column = dollar + 2 + (len(inner) - len(inner.lstrip(_SPACE)))
            if "\n" in text[:dollar]:
                column = 0
            parts.append(_Expression(parse_tree(source, "eval", budgets, column), source))
            index = end + 1
        else:
            buffer.append("$")
            index = dollar + 1
    if buffer and "".join(buffer):
        parts.append("".join(buffer))
    return parts


def _as_value(expression: _Expression, meter: Meter) -> Callable[[Interpreter], Any]:
    tree = expression.parsed.tree
    assert isinstance(tree, ast.Expression)
    return lambda run: to_result(run.eval(tree.body), meter)


def _as_text(expression: _Expression, meter: Meter) -> Callable[[Interpreter], str]:
    tree = expression.parsed.tree
    assert isinstance(tree, ast.Expression)
    return lambda run: to_text(run.eval(tree.body), meter)


def _raw_argument(expression: _Expression) -> ast.expr | None:
    """The argument of an expression that is exactly ``raw(x)``, else None."""
    tree = expression.parsed.tree
    body = tree.body if isinstance(tree, ast.Expression) else None
    if (
        isinstance(body, ast.Call)
        and isinstance(body.func, ast.Name)
        and body.func.id == "raw"
        and len(body.args) == 1
        and not body.keywords
    ):
        return body.args[0]
    return None


class Template:
    """A parsed string: literal text and expressions; immutable, so one parse serves all runs."""

    __slots__ = ("_parts", "_typed", "shell", "text")

    def __init__(self, text: str, shell: bool, parts: list[str | _Expression], typed: bool) -> None:
        self.text = text
        self.shell = shell
        self._parts = tuple(parts)
        self._typed = typed

    @classmethod
    def parse(cls, text: str, shell: bool = False, budgets: Budgets | None = None) -> Template:
        parts = _split(text, shell, budgets or current_budgets())
        typed = len(parts) == 1 and isinstance(parts[0], _Expression)
        return cls(text, shell, parts, typed)

    def __repr__(self) -> str:
        return f"Template({self.text!r}, shell={self.shell})"

    @property
    def is_literal(self) -> bool:
        return not any(isinstance(part, _Expression) for part in self._parts)

    def references(self) -> list[Reference]:
        found: list[Reference] = []
        for part in self._parts:
            if isinstance(part, _Expression):
                found.extend(r for r in collect(part.parsed.tree).found if r not in found)
        return found

    def trees(self) -> list[ast.AST]:
        return [part.parsed.tree for part in self._parts if isinstance(part, _Expression)]

    def evaluate(
        self,
        scope: Mapping[str, Any],
        budgets: Budgets | None = None,
        *,
        clock: Clock | None = None,
    ) -> Any:
        """The value: typed for a string that is exactly one ``${ … }``, else the text."""
        if self.is_literal:
            return "".join(part for part in self._parts if isinstance(part, str))
        meter = Meter(budgets, clock)
        if self._typed:
            expression = self._parts[0]
            assert isinstance(expression, _Expression)
            tree = expression.parsed.tree
            assert isinstance(tree, ast.Expression)
            return evaluate_guarded(
                expression.parsed, scope, meter, lambda run: to_result(run.eval(tree.body), meter)
            )
        return self._render(scope, meter)

    def render(
        self,
        scope: Mapping[str, Any],
        budgets: Budgets | None = None,
        *,
        clock: Clock | None = None,
    ) -> str:
        """Always text, even for a string that is one expression (what a script needs)."""
        return self._render(scope, Meter(budgets, clock))

    def pieces(self) -> tuple[str, ...]:
        """The literal text around the expressions: one piece more than expressions."""
        found, current = [], ""
        for part in self._parts:
            if isinstance(part, _Expression):
                found.append(current)
                current = ""
            else:
                current += part
        return (*found, current)

    def raw_marks(self) -> tuple[bool, ...]:
        """For each expression, whether it is ``raw(…)``: pasted into a script as code."""
        return tuple(
            _raw_argument(part) is not None for part in self._parts if isinstance(part, _Expression)
        )

    def render_script(
        self,
        scope: Mapping[str, Any],
        language: str,
        budgets: Budgets | None = None,
        *,
        clock: Clock | None = None,
    ) -> str:
        """The script with each value written as a literal of ``language`` where it stands
        (see :mod:`podium.expr.literals`): a value never becomes code."""
        meter = Meter(budgets, clock)
        pieces = self.pieces()
        where = literals.places(language, pieces)
        out = [pieces[0]]
        size = len(pieces[0])
        expressions = [part for part in self._parts if isinstance(part, _Expression)]
        for index, part in enumerate(expressions):
            value = evaluate_guarded(part.parsed, scope, meter, _as_value(part, meter))
            text = to_text(value, meter)
            if _raw_argument(part) is None:
                text = literals.render(value, text, where[index])
            size += len(text) + len(pieces[index + 1])
            meter.check_chars(size, "a script")
            out += [text, pieces[index + 1]]
        return "".join(out)

    def _render(self, scope: Mapping[str, Any], meter: Meter) -> str:
        pieces: list[str] = []
        size = 0
        for part in self._parts:
            if isinstance(part, _Expression):
                text = evaluate_guarded(part.parsed, scope, meter, _as_text(part, meter))
            else:
                text = part
            size += len(text)
            meter.check_chars(size, "an interpolated string")
            pieces.append(text)
        return "".join(pieces)
