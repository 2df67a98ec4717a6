"""The values that pass between the worker loop and the engine's transaction: what to launch,
what to kill, how a job ended, and how attempts are named."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podium.engine.failures import Outcome
from podium.engine.plan import StepPlan
from podium.store.instances import InstanceRow
from podium.vault import Redactor

__all__ = ["CancelOrder", "LaunchOrder", "Outcome", "make_attempt_id", "parse_attempt_id"]


@dataclass(frozen=True)
class LaunchOrder:
    attempt_id: str
    instance: InstanceRow
    step: StepPlan
    attempt: int
    params: dict[str, Any]
    script: str
    attempt_dir: Path
    deadline_at: float | None
    resume: bool = False
    redactor: Redactor | None = None
    """The instance's secrets, masked in the job's files once it ends (None: it has none)."""


@dataclass(frozen=True)
class CancelOrder:
    attempt_id: str
    host: str
    attempt_dir: str
    reason: str


def make_attempt_id(instance_pk: int, step_id: str, attempt: int) -> str:
    """An attempt's stable identity: it names its directory and makes launching idempotent."""
    return f"{instance_pk}-{step_id}-{attempt}"


def parse_attempt_id(attempt_id: str) -> tuple[int, str, int]:
    """``PK-STEP-N`` back into its parts (a step id holds no dash, so this is exact)."""
    pk, rest = attempt_id.split("-", 1)
    step_id, attempt = rest.rsplit("-", 1)
    return int(pk), step_id, int(attempt)
