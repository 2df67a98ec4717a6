"""``{code: "…"}`` parameters: a few statements that must end in ``return value``."""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Mapping
from typing import Any

from podium.expr.budgets import Budgets, Clock, Meter, current_budgets
from podium.expr.interpreter import run_code
from podium.expr.names import Reference, collect
from podium.expr.run import evaluate_guarded
from podium.expr.syntax import Parsed, parse_tree
from podium.expr.values import to_result


class CodeBlock:
    """A parsed block of statements; immutable, so one parse serves every evaluation."""

    __slots__ = ("_parsed", "source")

    def __init__(self, source: str, parsed: Parsed) -> None:
        self.source = source
        self._parsed = parsed

    @classmethod
    def parse(cls, source: str, budgets: Budgets | None = None) -> CodeBlock:
        return cls(
            source, parse_tree(textwrap.dedent(source), "exec", budgets or current_budgets())
        )

    def __repr__(self) -> str:
        return f"CodeBlock({self.source!r})"

    def evaluate(
        self,
        scope: Mapping[str, Any],
        budgets: Budgets | None = None,
        *,
        clock: Clock | None = None,
    ) -> Any:
        """Run the block; its value is what ``return`` gives, falling off the end is an error."""
        meter = Meter(budgets, clock)
        tree = self._parsed.tree
        assert isinstance(tree, ast.Module)
        return evaluate_guarded(
            self._parsed, scope, meter, lambda run: to_result(run_code(run, tree.body), meter)
        )

    def references(self) -> list[Reference]:
        return collect(self._parsed.tree).found

    def trees(self) -> list[ast.AST]:
        return [self._parsed.tree]

    def assigned_names(self) -> set[str]:
        """Names the block assigns somewhere: never unknown, whatever the order of reading."""
        return collect(self._parsed.tree).assigned
