"""Budgets bound every evaluation; the meter checks them before the work they bound."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import TypeVar

from podium.errors import InvalidInput
from podium.expr.errors import ExprError, budget_error

T = TypeVar("T")
Clock = Callable[[], datetime]
TIME_CHECK_EVERY = 64
STRING_CHARS_PER_OPERATION = 64
ITEMS_PER_OPERATION = 16


@dataclass(frozen=True)
class Budgets:
    """The limits of one evaluation; each has a default and a server setting.

    ``from_env`` reads ``PODIUM_EXPR_<FIELD>`` (for example ``PODIUM_EXPR_OPERATIONS``), so an
    operator can raise a limit without a release.
    """

    operations: int = 100_000
    wall_time_s: float = 1.0
    collection_size: int = 100_000
    string_size: int = 1_000_000
    integer_bits: int = 4096
    nesting_depth: int = 50
    source_length: int = 10_000

    @classmethod
    def from_env(cls) -> Budgets:
        values: dict[str, int | float] = {}
        for field in fields(cls):
            name = f"PODIUM_EXPR_{field.name.upper()}"
            raw = os.environ.get(name)
            if raw is None or raw.strip() == "":
                continue
            try:
                value: int | float = float(raw) if field.name == "wall_time_s" else int(raw)
            except ValueError:
                raise InvalidInput(f"{name}={raw!r} is not a number") from None
            if value <= 0:
                raise InvalidInput(f"{name}={raw!r} must be positive")
            values[field.name] = value
        return cls(**values)  # type: ignore[arg-type]


DEFAULT_BUDGETS = Budgets()
_from_env_cache: dict[tuple[str | None, ...], Budgets] = {}


def current_budgets() -> Budgets:
    """The server's budgets: the defaults, overridden by ``PODIUM_EXPR_*`` settings."""
    key = tuple(os.environ.get(f"PODIUM_EXPR_{f.name.upper()}") for f in fields(Budgets))
    found = _from_env_cache.get(key)
    if found is None:
        found = DEFAULT_BUDGETS if not any(key) else Budgets.from_env()
        _from_env_cache.clear()
        _from_env_cache[key] = found
    return found


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Meter:
    """Counts the work of one evaluation and stops it the moment a budget would be exceeded.

    Sizes are checked before a value is built, so a bomb never allocates; building a big
    value also costs operations, so the memory an evaluation can hold stays bounded.
    """

    __slots__ = ("budgets", "clock", "deadline", "operations", "owned")

    def __init__(self, budgets: Budgets | None = None, clock: Clock | None = None) -> None:
        self.budgets = budgets or current_budgets()
        self.clock: Clock = clock or _utc_now
        self.operations = 0
        self.deadline = time.monotonic() + self.budgets.wall_time_s
        self.owned: dict[int, object] = {}

    def own(self, value: T) -> T:
        """Mark a list or dict as built by this evaluation: only those may be changed in place.

        Values that came in through the scope belong to the engine and stay untouched.
        """
        self.owned[id(value)] = value
        return value

    def is_owned(self, value: object) -> bool:
        return self.owned.get(id(value)) is value

    def tick(self, count: int = 1) -> None:
        before = self.operations
        self.operations = before + count
        if self.operations > self.budgets.operations:
            raise budget_error(
                "operations",
                f"more than {self.budgets.operations} operations",
                self.budgets.operations,
            )
        if count > 1 or (before // TIME_CHECK_EVERY) != (self.operations // TIME_CHECK_EVERY):
            self.check_time()

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise budget_error(
                "wall_time",
                f"ran longer than {self.budgets.wall_time_s} s",
                self.budgets.wall_time_s,
            )

    def check_items(self, count: int, what: str = "a collection") -> None:
        """Refuse a collection of ``count`` items before it exists, and pay for building it."""
        if count > self.budgets.collection_size:
            raise budget_error(
                "collection_size", f"{what} of {count} items", self.budgets.collection_size
            )
        if count >= ITEMS_PER_OPERATION:
            self.tick(count // ITEMS_PER_OPERATION)

    def check_chars(self, count: int, what: str = "a string") -> None:
        """Refuse a string of ``count`` characters before it exists, and pay for building it."""
        if count > self.budgets.string_size:
            raise budget_error(
                "string_size", f"{what} of {count} characters", self.budgets.string_size
            )
        if count >= STRING_CHARS_PER_OPERATION:
            self.tick(count // STRING_CHARS_PER_OPERATION)

    def check_bits(self, bits: int, what: str = "an integer") -> None:
        if bits > self.budgets.integer_bits:
            raise budget_error(
                "integer_size", f"{what} of about {bits} bits", self.budgets.integer_bits
            )

    def check_depth(self, depth: int, what: str = "nesting") -> None:
        if depth > self.budgets.nesting_depth:
            raise budget_error(
                "nesting_depth", f"{what} {depth} levels deep", self.budgets.nesting_depth
            )


def check_source_length(text: str, budgets: Budgets) -> None:
    if len(text) > budgets.source_length:
        raise budget_error(
            "source_length", f"source of {len(text)} characters", budgets.source_length
        )


__all__ = ["Budgets", "Clock", "ExprError", "Meter", "check_source_length", "current_budgets"]
