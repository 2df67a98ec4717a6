"""Podium's expression language: ``${ … }`` in parameters and ``{code: …}`` blocks.

Python syntax, parsed with ``ast``, checked against a whitelist and evaluated by our own
interpreter under budgets; see docs/expressions.md.
"""

from __future__ import annotations

from podium.expr.budgets import Budgets
from podium.expr.builtins import BUILTIN_NAMES
from podium.expr.codeblock import CodeBlock
from podium.expr.errors import ExprError
from podium.expr.names import Reference
from podium.expr.resolve import check, references, resolve
from podium.expr.template import Template
from podium.expr.values import Namespace

__all__ = [
    "BUILTIN_NAMES",
    "Budgets",
    "CodeBlock",
    "ExprError",
    "Namespace",
    "Reference",
    "Template",
    "check",
    "references",
    "resolve",
]
