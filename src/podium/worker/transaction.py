"""The engine's transaction: what it loaded, what it decided, and writing that back once.

A :class:`Transaction` lives for one database transaction. It loads each instance it
touches once (a :class:`Tracked`), keeps the instance's counters in memory, and writes
them back once at the end together with the work, timeline and outbox rows, so a cascade
of many transitions costs one commit. What happens outside the database (launching and
killing processes) is only listed here (``launches``, ``cancels``) for after the commit.

The other worker modules (the cascade, attempts, permits, signals, foreach, subworkflow)
are functions over a transaction; :class:`~podium.worker.advance.Advance` is its face
towards the worker loop.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podium.engine import params
from podium.engine.plan import Plan, StepPlan
from podium.engine.states import Halt
from podium.engine.topics import Topic
from podium.expr import Budgets, Namespace
from podium.store import Connection, breakpoints, queue
from podium.store import instances as store_instances
from podium.store import loops as store_loops
from podium.store import timeline as store_timeline
from podium.store.instances import InstanceRow
from podium.store.loops import LoopCounts
from podium.worker.orders import CancelOrder, LaunchOrder

PlanLoader = Callable[[Connection, str, int], Plan]
LoopState = tuple[LoopCounts, dict[str, list[Any]], dict[str, Any]]


@dataclass
class Tracked:
    """An instance loaded by this transaction, with its plan and its halt."""

    row: InstanceRow
    plan: Plan
    halt: Halt | None
    dirty: bool = False
    breakpoints: frozenset[str] | None = None

    def run(self) -> Namespace:
        row = self.row
        return params.run_namespace(
            workflow_id=row.workflow_id,
            instance_id=row.instance_id,
            version=row.version,
            trigger=row.trigger,
            at=row.created_at,
        )

    def signal(self) -> Namespace:
        return params.signal_namespace(self.row.trigger)

    # -- step slots (the instance's step_concurrency) --------------------------------

    def slot_free(self) -> bool:
        return self.row.steps_active < self.plan.step_concurrency

    def take_slot(self) -> None:
        """Count one more step as holding a slot. Every step that ends goes through
        :func:`~podium.worker.cascade.end_step`, which gives its slot back; a step that ends
        without having run (skipped, stopped while it waited) takes one just before."""
        self.row.steps_active += 1
        self.dirty = True

    def take_queued_slot(self) -> None:
        """A step queued for a slot (see :meth:`queue_for_slot`) takes one."""
        self.row.steps_queued -= 1
        self.take_slot()

    def queue_for_slot(self) -> int:
        """Count one more step as waiting for a slot; its place in the queue."""
        self.row.ready_seq += 1
        self.row.steps_queued += 1
        self.dirty = True
        return self.row.ready_seq

    def return_slot(self) -> None:
        """A step ended: its slot is free, and it counts as done."""
        self.row.steps_active -= 1
        self.row.steps_done += 1
        self.dirty = True


@dataclass
class Transaction:
    conn: Connection
    now: float
    worker_id: str
    host: str
    data_dir: Path
    lease_s: float
    load_plan: PlanLoader
    budgets: Budgets
    launches: list[LaunchOrder] = field(default_factory=list)
    cancels: list[CancelOrder] = field(default_factory=list)
    ended_instances: list[tuple[str, int, str]] = field(default_factory=list)
    instances: dict[int, Tracked] = field(default_factory=dict)
    ready: deque[tuple[int, str]] = field(default_factory=deque)
    """Steps whose dependencies are met, to start (or queue, skip, pause) in turn."""
    resumed: set[tuple[int, str]] = field(default_factory=set)
    signaled: set[tuple[int, str]] = field(default_factory=set)
    loops_due: deque[tuple[int, str]] = field(default_factory=deque)
    """Foreach steps to top up (or end)."""
    iterations_launched: int = 0
    more_requested: set[tuple[int, str]] = field(default_factory=set)
    draining: bool = False
    permit_asks: list[tuple[int, str, bool]] = field(default_factory=list)
    permit_returns: list[tuple[int, str]] = field(default_factory=list)
    admitted: set[str] = field(default_factory=set)
    inline_grants: bool = True
    """Start the next in line for a freed permit in the releasing transaction (one engine)
    rather than through a work row any worker may take."""
    loops: dict[tuple[int, str], LoopState] = field(default_factory=dict)
    _work: list[dict[str, Any]] = field(default_factory=list)
    _timeline: list[dict[str, Any]] = field(default_factory=list)
    _outbox: list[dict[str, Any]] = field(default_factory=list)
    _all_breakpoints: list[tuple[str, str, int]] | None = None

    # -- loading --------------------------------------------------------------------

    def instance(self, pk: int, *, skip_locked: bool = False) -> Tracked | None:
        tracked = self.instances.get(pk)
        if tracked is None:
            row = store_instances.lock_instance(self.conn, pk, skip_locked=skip_locked)
            if row is None:
                return None
            plan = self.load_plan(self.conn, row.workflow_id, row.version).at(row.plan_path)
            tracked = Tracked(row, plan, Halt(row.halt) if row.halt else None)
            self.instances[pk] = tracked
        return tracked

    def adopt_child(self, pk: int, values: dict[str, Any]) -> None:
        """Track an instance this transaction just wrote, without reading it back."""
        row = InstanceRow(
            pk=pk,
            workflow_id=values["workflow_id"],
            instance_id=values["instance_id"],
            version=values["version"],
            status=values["status"],
            params=values["params"],
            steps_total=0,
            steps_done=0,
            steps_active=0,
            steps_queued=0,
            ready_seq=0,
            halt=None,
            started_at=None,
            ended_at=None,
            error=None,
            trigger=values["trigger"],
            created_at=values["created_at"],
            run=1,
            parent_pk=values["parent_pk"],
            parent_step=values["parent_step"],
            iteration=values["iteration"],
            plan_path=values["plan_path"],
            tags=values["tags"],
            started_by=values.get("started_by"),
            run_as=values.get("run_as"),
        )
        plan = self.load_plan(self.conn, row.workflow_id, row.version).at(row.plan_path)
        self.instances[pk] = Tracked(row, plan, None)

    def loop_state(self, pk: int, step_id: str) -> LoopState:
        """A foreach step's counts, read once per transaction and written back at the end."""
        key = (pk, step_id)
        state = self.loops.get(key)
        if state is None:
            state = self.loops[key] = store_loops.loop_state(self.conn, pk, step_id)
        return state

    def breakpoints(self, t: Tracked) -> frozenset[str]:
        """The steps of this instance that pause; all breakpoints (few, and usually none)
        are read once per transaction rather than once per instance."""
        if t.breakpoints is None:
            if self._all_breakpoints is None:
                self._all_breakpoints = breakpoints.all_breakpoints(self.conn)
            t.breakpoints = frozenset(
                step_id
                for wf, step_id, instance_id in self._all_breakpoints
                if wf == t.row.workflow_id and instance_id in (0, t.row.instance_id)
            )
        return t.breakpoints

    # -- tags -----------------------------------------------------------------------

    def step_tags(self, t: Tracked, step: StepPlan) -> tuple[str, ...]:
        """The tags whose permits the step needs: its own and those its instance inherited."""
        inherited = t.row.tags
        if not inherited:
            return step.tags
        return tuple(sorted({*step.tags, *inherited}))

    def child_tags(self, t: Tracked, step: StepPlan) -> list[str] | None:
        """What a child instance started by ``step`` (foreach or subworkflow) inherits."""
        return sorted({*step.tags, *(t.row.tags or ())}) or None

    # -- what is written at the end -------------------------------------------------

    def add_work(self, row: dict[str, Any]) -> None:
        """A work row (a timer, a launch lease, a hand-on), written at the end."""
        self._work.append(row)

    def drop_work(self, instance_pk: int, kinds: Sequence[str]) -> list[str | None]:
        """Take back the rows of these kinds not yet written for an instance (a timer set
        in this very transaction); returns their step ids, as the store's delete does."""
        wanted = {str(k) for k in kinds}
        dropped = [w for w in self._work if w["instance_pk"] == instance_pk and w["kind"] in wanted]
        self._work = [w for w in self._work if not any(w is d for d in dropped)]
        return [w.get("step_id") for w in dropped]

    def event(
        self,
        t: Tracked,
        step_id: str | None,
        event: Topic,
        detail: dict[str, Any],
        at: float | None = None,
    ) -> None:
        """A timeline row and its outbox message, written at the end."""
        row = t.row
        self._timeline.append(
            {
                "instance_pk": row.pk,
                "step_id": step_id,
                "at": self.now if at is None else at,
                "event": event.value,
                "detail": detail,
            }
        )
        payload = {"workflow_id": row.workflow_id, "instance_id": row.instance_id, **detail}
        if step_id is not None:
            payload["step_id"] = step_id
        self._outbox.append(
            {
                "at": self.now if at is None else at,
                "topic": event.value,
                "key": f"{row.workflow_id}/{row.instance_id}",
                "payload": payload,
            }
        )

    def write(self) -> None:
        """Write the loops' counts, the changed instances, the work and the events."""
        for (pk, step_id), (counts, _, _) in self.loops.items():
            store_loops.save_loop(self.conn, pk, step_id, counts)
        for tracked in self.instances.values():
            if tracked.dirty:
                tracked.row.halt = tracked.halt.value if tracked.halt else None
                store_instances.save_instance(self.conn, tracked.row)
        queue.add_work(self.conn, self._work)
        store_timeline.append_events(self.conn, self._timeline, self._outbox)
