"""Step paths: a step inside foreach iterations and subworkflows, as ``logs`` addresses it.

``load.aggregate`` with iteration 2 (or ``load[2].aggregate``) is step ``aggregate`` of
iteration 2 of the foreach ``load``; ``report.send`` is step ``send`` of the instance that the
subworkflow step ``report`` started. Each foreach on the path takes the next iteration given,
unless the path names one in brackets, as ``podium status --step outer[2].inner`` does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from podium.definition.problems import did_you_mean
from podium.engine.plan import Plan, StepPlan
from podium.engine.states import TERMINAL_INSTANCE, TERMINAL_STEP
from podium.errors import InvalidInput, LogNotFound, NotFound, StepNotFound
from podium.store import Connection
from podium.store import instances as store_instances
from podium.store import steps as store_steps
from podium.store import workflows as store_workflows

PlanOf = Callable[[Connection, str, int], Plan]
_SEGMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?$")
_NO_JOB = frozenset({"noop", "sleep"})
_HELP = "write STEP, FOREACH.STEP with --iteration N (or FOREACH[N].STEP), SUBWORKFLOW.STEP"


@dataclass(frozen=True)
class StepAddress:
    """Where a step path leads: the instance row that holds the step (None while the
    iteration or subworkflow instance that will hold it has not been made yet, ``waiting``
    then says which) and the step there."""

    path: str
    """The path with every iteration in brackets: ``load[2].aggregate``."""
    row: Any | None
    step: StepPlan | None
    waiting: str | None = None


def parse_step_path(text: str) -> list[tuple[str, int | None]]:
    """``outer[2].inner.load`` -> [("outer", 2), ("inner", None), ("load", None)]."""
    segments: list[tuple[str, int | None]] = []
    for part in text.split("."):
        match = _SEGMENT.match(part)
        if match is None:
            raise InvalidInput(f"step path {text!r} is not valid: {_HELP}")
        index = match.group(2)
        segments.append((match.group(1), int(index) if index is not None else None))
    return segments


def locate_step(
    conn: Connection,
    plan_of: PlanOf,
    top: Any,
    path: str,
    iterations: Sequence[int] = (),
) -> StepAddress:
    """Walk ``path`` from the instance ``top`` down through foreach iterations and
    subworkflow instances to the step it names."""
    segments = parse_step_path(path)
    queue = list(iterations)
    row = top
    walked = ""
    for position, (name, index) in enumerate(segments):
        plan = plan_of(conn, row.workflow_id, row.version).at(row.plan_path)
        step = _step_of(plan, name, row, top, walked)
        if position == len(segments) - 1:
            _check_last(conn, plan_of, row, step, walked + name, index, queue)
            if queue:
                raise InvalidInput(
                    f"{len(iterations)} --iteration given, but the path {path!r} goes through "
                    f"{len(iterations) - len(queue)} foreach step(s): give one per foreach"
                )
            return StepAddress(walked + name, row, step)
        rest = segments[position + 1 :]
        index = _iteration_to_enter(step, walked + name, index, queue, rest)
        label = walked + name if index is None else f"{walked}{name}[{index}]"
        child = store_instances.find_child(conn, row.pk, name, index)
        if child is None:
            waiting = _not_made_yet(conn, row, step, index, walked + name)
            tail = ".".join(s if i is None else f"{s}[{i}]" for s, i in rest)
            return StepAddress(f"{label}.{tail}", None, None, waiting)
        row = child
        walked = label + "."
    raise AssertionError("unreachable: a path has at least one segment")


def _check_last(
    conn: Connection,
    plan_of: PlanOf,
    row: Any,
    step: StepPlan,
    name: str,
    index: int | None,
    queue: list[int],
) -> None:
    """The path ends at an iteration, or at a foreach with an iteration still to use: say
    which step inside it to ask for."""
    if index is None and not (queue and step.type == "foreach"):
        return
    if step.type != "foreach":
        raise InvalidInput(
            f"step {name!r} is a {step.type} step, not a foreach: it has no iteration {index}"
        )
    first = _first_step_inside(conn, plan_of, row, step)
    raise InvalidInput(
        f"step {name!r} is a foreach: an iteration has no log of its own; name the step "
        f"inside it: {name}.{first} --iteration {queue[0] if index is None else index}"
    )


def _iteration_to_enter(
    step: StepPlan,
    name: str,
    index: int | None,
    queue: list[int],
    rest: Sequence[tuple[str, int | None]],
) -> int | None:
    """The iteration of foreach ``step`` the path goes into (None: a subworkflow's instance);
    bad input if the path cannot go into ``step``."""
    if step.type == "foreach":
        if index is not None:
            return index
        if not queue:
            raise InvalidInput(
                f"step {name!r} is a foreach: say which iteration with --iteration N "
                f"(or write {name}[N].{'.'.join(s for s, _ in rest)})"
            )
        return queue.pop(0)
    if step.type == "subworkflow":
        if index is not None:
            raise InvalidInput(
                f"step {name!r} is a subworkflow, not a foreach: it has no iteration {index}; "
                f"write {name}.STEP"
            )
        return None
    raise InvalidInput(
        f"step {name!r} is a {step.type} step: there are no steps inside it; "
        f"ask for {name!r} itself"
    )


def no_log_reason(address: StepAddress, conn: Connection, plan_of: PlanOf) -> str | None:
    """Why the step at ``address`` can never have a log of its own (its kind), or None."""
    step, row, path = address.step, address.row, address.path
    if step is None or row is None:
        return None
    if step.type in _NO_JOB:
        return f"step {path!r} is a {step.type} step: it runs no job, so it has no log"
    if step.type == "foreach":
        state = store_steps.find_step(conn, row.pk, step.id)
        total = state.iter_total if state is not None else None
        many = f" of {total} iterations" if total is not None else ""
        first = _first_step_inside(conn, plan_of, row, step)
        return (
            f"step {path!r} is a foreach{many}: it has no log of its own; ask for a step "
            f"inside one iteration: {path}.{first} --iteration N"
        )
    if step.type == "subworkflow":
        assert step.subworkflow is not None
        child = store_instances.find_child(conn, row.pk, step.id, None)
        which = f" (instance {child.instance_id})" if child is not None else ""
        first = _first_step_inside(conn, plan_of, row, step)
        return (
            f"step {path!r} runs workflow {step.subworkflow.workflow!r}{which}: it has no log "
            f"of its own; ask for a step inside it: {path}.{first}"
        )
    return None


def _step_of(plan: Plan, name: str, row: Any, top: Any, walked: str) -> StepPlan:
    step = plan.steps.get(name)
    if step is not None:
        return step
    where = (
        f"instance {top.instance_id} of {top.workflow_id!r}"
        if row is top
        else f"{walked.rstrip('.')} (instance {row.instance_id} of {row.workflow_id!r})"
    )
    raise StepNotFound(
        f"{where} has no step {name!r}{did_you_mean(name, plan.steps)}; "
        f"its steps: {', '.join(plan.steps)}"
    )


def _not_made_yet(conn: Connection, row: Any, step: StepPlan, index: int | None, name: str) -> str:
    """Why the iteration (or subworkflow instance) of step ``name`` does not exist: not yet,
    a reason to wait; or never, an error."""
    state = store_steps.find_step(conn, row.pk, step.id)
    total = state.iter_total if state is not None else None
    if index is not None and total is not None and index >= total:
        span = f" (0 to {total - 1})" if total else ""
        raise NotFound(f"step {name!r} has no iteration {index}: it has {total}{span}")
    what = f"iteration {index} of step" if index is not None else "the subworkflow of step"
    if state is not None and state.status in TERMINAL_STEP:
        raise LogNotFound(f"{what} {name!r} never started (the step ended {state.status})")
    if row.status in TERMINAL_INSTANCE:
        raise LogNotFound(f"{what} {name!r} never started (its instance ended {row.status})")
    return f"{what} {name!r} has not started yet"


def _first_step_inside(conn: Connection, plan_of: PlanOf, row: Any, step: StepPlan) -> str:
    """A step id inside a foreach or subworkflow step, for the example in a message."""
    ref = step.subworkflow or (step.foreach.subworkflow if step.foreach else None)
    if ref is None:
        inner = step.foreach.inner if step.foreach is not None else None
        return next(iter(inner.steps), "STEP") if inner is not None else "STEP"
    try:
        wf = store_workflows.get_workflow(conn, ref.workflow)
        version = wf.active_version or wf.latest_version
        return next(iter(plan_of(conn, ref.workflow, int(version)).steps), "STEP")
    except NotFound:
        return "STEP"
