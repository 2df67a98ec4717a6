"""The free names an expression reads, for push-time checks and dependency discovery.

A name bound inside a comprehension or assigned earlier in a code block is not free; a name
read before its first assignment (``total = total + 1``) is, since it reads the outer value.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from podium.expr.builtins import BUILTIN_NAMES


@dataclass(frozen=True)
class Reference:
    """A free name and, for ``plan.dates`` or ``plan['dates']``, the key read from it."""

    name: str
    attribute: str | None = None


class Collector:
    """Walks a tree in source order, recording reads of names that are not bound yet."""

    def __init__(self) -> None:
        self.found: list[Reference] = []
        self.builtin_reads: list[Reference] = []
        self.assigned: set[str] = set()
        self.bound: list[set[str]] = [set()]

    def _read(self, name: str, attribute: str | None) -> None:
        if any(name in names for names in self.bound):
            return
        reference = Reference(name, attribute)
        if name in BUILTIN_NAMES:
            self.builtin_reads.append(reference)
        elif reference not in self.found:
            self.found.append(reference)

    def expression(self, node: ast.AST) -> None:
        while isinstance(node, ast.BinOp):
            self.expression(node.right)
            node = node.left
        if isinstance(node, ast.Name):
            self._read(node.id, None)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            self._read(node.value.id, node.attr)
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            self._read(node.value.id, node.slice.value)
        elif isinstance(node, ast.ListComp | ast.GeneratorExp | ast.DictComp):
            self._comprehension(node)
        else:
            for child in ast.iter_child_nodes(node):
                self.expression(child)

    def _comprehension(self, node: ast.ListComp | ast.GeneratorExp | ast.DictComp) -> None:
        self.expression(node.generators[0].iter)
        self.bound.append(set())
        for position, generator in enumerate(node.generators):
            if position:
                self.expression(generator.iter)
            self._bind(generator.target)
            for test in generator.ifs:
                self.expression(test)
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        for part in parts:
            self.expression(part)
        self.bound.pop()

    def _bind(self, target: ast.AST) -> None:
        if isinstance(target, ast.Name):
            self.bound[-1].add(target.id)
            if len(self.bound) == 1:
                self.assigned.add(target.id)
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                self._bind(element)
        elif isinstance(target, ast.Subscript):
            self.expression(target.value)
            self.expression(target.slice)

    def statements(self, body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Assign):
                self.expression(node.value)
                for target in node.targets:
                    self._bind(target)
            elif isinstance(node, ast.AugAssign):
                self.expression(node.value)
                if isinstance(node.target, ast.Name):
                    self._read(node.target.id, None)
                self._bind(node.target)
            elif isinstance(node, ast.For):
                self.expression(node.iter)
                self._bind(node.target)
                self.statements(node.body)
                self.statements(node.orelse)
            elif isinstance(node, ast.While | ast.If):
                self.expression(node.test)
                self.statements(node.body)
                self.statements(node.orelse)
            elif isinstance(node, ast.Return | ast.Expr) and node.value is not None:
                self.expression(node.value)


def collect(tree: ast.AST) -> Collector:
    collector = Collector()
    if isinstance(tree, ast.Module):
        collector.statements(tree.body)
    elif isinstance(tree, ast.Expression):
        collector.expression(tree.body)
    return collector
