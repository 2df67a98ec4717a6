"""Restarting an ended instance: which steps run again, and what each then waits for.

A restart is a new run of the same instance. What succeeded is kept, with its outputs; what
did not is reset; ``from_step`` instead reruns that step and everything downstream of it,
whatever their status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from podium.engine.plan import Plan
from podium.engine.states import StepStatus
from podium.errors import Conflict, StepNotFound

# COMPLETED_WITH_ERROR did not succeed (its failure was only tolerated): a restart reruns it.
KEPT = frozenset({StepStatus.SUCCEEDED, StepStatus.SKIPPED})


@dataclass(frozen=True)
class RestartPlan:
    reset: frozenset[str]
    pending_deps: Mapping[str, int]
    """For each reset step, how many of its dependencies are reset too (it waits for those)."""
    live_deps: Mapping[str, int]
    """For each reset step, how many kept dependencies ran (not skipped)."""


def plan_restart(
    plan: Plan, statuses: Mapping[str, str], from_step: str | None = None
) -> RestartPlan:
    if from_step is not None:
        if from_step not in plan.steps:
            raise StepNotFound(
                f"workflow {plan.workflow_id!r} version {plan.version} has no step {from_step!r}"
            )
        reset = downstream(plan, from_step)
    else:
        reset = frozenset(s for s in plan.steps if statuses.get(s) not in KEPT)
        # A kept step downstream of a reset one would keep outputs of an old run's inputs.
        reset = frozenset().union(*(downstream(plan, s) for s in reset)) if reset else reset
    if not reset:
        raise Conflict("every step of this instance succeeded: there is nothing to restart")
    pending = {s: sum(1 for d in plan.steps[s].depends_on if d in reset) for s in reset}
    live = {
        s: sum(
            1
            for d in plan.steps[s].depends_on
            if d not in reset and statuses.get(d) != StepStatus.SKIPPED
        )
        for s in reset
    }
    return RestartPlan(reset, pending, live)


def downstream(plan: Plan, step_id: str) -> frozenset[str]:
    """The step and every step that depends on it, directly or not."""
    found = {step_id}
    todo = [step_id]
    while todo:
        for child in plan.steps[todo.pop()].dependents:
            if child not in found:
                found.add(child)
                todo.append(child)
    return frozenset(found)
