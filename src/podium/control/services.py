"""What an operation needs from the process that runs it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from podium.control.keys import MasterKeys
from podium.control.plans import PlanCache, PlanOf
from podium.expr import Budgets
from podium.store.database import Database


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Services:
    """The database, the clock, the expression budgets, the plan cache, the master keys
    (secret params are sealed with them), and ``on_work``: told when a change added work
    the engine should look at now."""

    db: Database
    clock: Callable[[], float] = time.time
    on_work: Callable[[], None] = _nothing
    budgets: Budgets = field(default_factory=Budgets.from_env)
    plans: PlanOf = field(default_factory=PlanCache)
    keys: MasterKeys = field(default_factory=MasterKeys)
