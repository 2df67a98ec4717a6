"""Applying the engine's rules inside one transaction: the worker loop's entry points.

An :class:`Advance` is a :class:`~podium.worker.transaction.Transaction` (what one
transaction loaded and decided, written back once by :meth:`Advance.flush`) with the
operations the worker loop applies to it. The work itself is done by concept:

- :mod:`~podium.worker.instance_transitions`: an instance starts, restarts, halts, ends;
- :mod:`~podium.worker.cascade`: steps become ready, start, end and release dependents;
- :mod:`~podium.worker.attempts`: a job's attempts, retries and their end;
- :mod:`~podium.worker.permit_steps` and :mod:`~podium.worker.signal_steps`: tags'
  permits, and signals waited for and announced;
- :mod:`~podium.worker.foreach`, :mod:`~podium.worker.subworkflow`: child instances;
- :mod:`~podium.worker.scopes`: what a step's expressions see.

Launching and killing processes happen only after the commit (``launches``,
``cancels``): nothing outside the database is touched for a change that might roll back.
"""

from __future__ import annotations

from typing import Any

from podium.engine.failures import Outcome
from podium.engine.plan import StepPlan
from podium.engine.states import Halt
from podium.worker import (
    attempts,
    cascade,
    instance_transitions,
    permit_steps,
    scopes,
    signal_steps,
)
from podium.worker.transaction import PlanLoader, Tracked, Transaction

__all__ = ["Advance", "PlanLoader", "Tracked"]


class Advance(Transaction):
    def flush(self) -> None:
        """Write everything this transaction decided; the caller commits."""
        permit_steps.settle(self)
        self.write()

    def start_instance(self, pk: int) -> None:
        instance_transitions.start_instance(self, pk)

    def restart_instance(self, pk: int) -> None:
        instance_transitions.restart_instance(self, pk)

    def halt_instance(self, pk: int, halt: Halt) -> None:
        instance_transitions.halt_instance(self, pk, halt)

    def finish_attempt(self, attempt_id: str, outcome: Outcome) -> None:
        attempts.finish_attempt(self, attempt_id, outcome)

    def prepare(self, t: Tracked, step: StepPlan) -> tuple[dict[str, Any], str]:
        return scopes.prepare(self, t, step)

    def retry_step(self, pk: int, step_id: str) -> None:
        attempts.retry_step(self, pk, step_id)

    def sleep_done(self, pk: int, step_id: str) -> None:
        attempts.sleep_done(self, pk, step_id)

    def permit_granted(self, pk: int, step_id: str) -> None:
        permit_steps.permit_granted(self, pk, step_id)

    def signals_arrived(self, pk: int, step_id: str) -> None:
        signal_steps.signals_arrived(self, pk, step_id)

    def skip_step(self, pk: int, step_id: str) -> None:
        cascade.skip_step(self, pk, step_id)

    def resume_step(self, pk: int, step_id: str) -> None:
        cascade.resume_step(self, pk, step_id)
