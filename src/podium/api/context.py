"""What every route needs from the process that serves it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from podium.store.database import Database


@dataclass(frozen=True)
class ApiContext:
    db: Database
    on_work: Callable[[], None]
    clock: Callable[[], float]


def _context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.podium
    return context


Context = Annotated[ApiContext, Depends(_context)]
