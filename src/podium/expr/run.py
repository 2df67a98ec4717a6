"""The one door into the interpreter: budgets re-checked, every failure an ``ExprError``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from podium.expr.budgets import Meter, check_source_length
from podium.expr.errors import ExprError, budget_error
from podium.expr.interpreter import Interpreter
from podium.expr.syntax import Parsed

T = TypeVar("T")


def evaluate_guarded(
    parsed: Parsed, scope: Mapping[str, Any], meter: Meter, body: Callable[[Interpreter], T]
) -> T:
    """Run ``body`` on a fresh interpreter; whatever goes wrong inside is the user's error.

    The tree was checked at parse time, possibly under other budgets, so its size and depth
    are checked again against this evaluation's.
    """
    budgets = meter.budgets
    if parsed.source_length > budgets.source_length:
        check_source_length("x" * parsed.source_length, budgets)
    meter.check_depth(parsed.depth, "an expression nested")
    try:
        return body(Interpreter(scope, meter))
    except ExprError:
        raise
    except RecursionError:
        raise budget_error(
            "nesting_depth", "values or expressions nested too deeply", budgets.nesting_depth
        ) from None
    except MemoryError:
        raise ExprError("the expression ran out of memory; make its values smaller") from None
    except Exception as error:  # the interpreter's own gaps must not reach the engine
        raise ExprError(f"the expression failed: {type(error).__name__}: {error}") from None
