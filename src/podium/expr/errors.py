"""The one error the expression language raises.

Everything that goes wrong inside an expression, from a typo to an exhausted budget, is
the user's to fix, so it is an ``InvalidInput``: the step fails, the engine carries on.
"""

from __future__ import annotations

from podium.errors import InvalidInput

BUDGET_SETTINGS = {
    "operations": "PODIUM_EXPR_OPERATIONS",
    "wall_time": "PODIUM_EXPR_WALL_TIME_S",
    "collection_size": "PODIUM_EXPR_COLLECTION_SIZE",
    "string_size": "PODIUM_EXPR_STRING_SIZE",
    "integer_size": "PODIUM_EXPR_INTEGER_BITS",
    "nesting_depth": "PODIUM_EXPR_NESTING_DEPTH",
    "source_length": "PODIUM_EXPR_SOURCE_LENGTH",
}


class ExprError(InvalidInput):
    """An expression that cannot be parsed, is not allowed, or failed while evaluating.

    ``budget`` names the exhausted budget, if that is why it failed; the message carries
    no location, the caller knows where the expression came from and adds it.
    """

    code = "expression_error"

    def __init__(self, message: str, *, budget: str | None = None) -> None:
        super().__init__(message, details={"budget": budget} if budget else None)
        self.budget = budget


def budget_error(budget: str, what: str, limit: float | int) -> ExprError:
    """An error that says which budget ran out and how a person can get past it."""
    setting = BUDGET_SETTINGS[budget]
    return ExprError(
        f"expression exceeded its {budget} budget: {what} (limit {limit}); "
        f"simplify the expression, or raise {setting} on the server",
        budget=budget,
    )
