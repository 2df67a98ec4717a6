"""The numbers a request may carry in its path and query, bounded once.

A number the database cannot hold (an id of 2**70, a negative offset) is refused with 400
``invalid_input`` naming the parameter, before any query runs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

MAX_ID = 2**63 - 1
"""The largest id, number or offset a request may name: what a 64-bit column holds."""

InstanceId = Annotated[int, Path(ge=1, le=MAX_ID, description="The instance's number")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="A byte offset, from 0")]
After = Annotated[int, Query(ge=0, le=MAX_ID, description="Entries after this one")]
Before = Annotated[int | None, Query(ge=1, le=MAX_ID, description="Entries before this one")]
AttemptNumber = Annotated[int | None, Query(ge=1, le=MAX_ID, description="An attempt, from 1")]
IterationIndex = Annotated[int | None, Query(ge=0, le=MAX_ID, description="An iteration, from 0")]
OptionalInstance = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="One instance (none: every instance)")
]
