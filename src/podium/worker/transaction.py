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
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

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
from podium.vault import Keyring, Redactor, VaultError
from podium.vault.params import Secrets, mask_params, open_params, open_secrets, seal_secrets
from podium.worker.orders import CancelOrder, LaunchOrder

PlanLoader = Callable[[Connection, str, int], Plan]
LoopState = tuple[LoopCounts, dict[str, list[Any]], dict[str, Any]]
T = TypeVar("T")


@dataclass
class Tracked:
    """An instance loaded by this transaction, with its plan and its halt."""

    row: InstanceRow
    plan: Plan
    halt: Halt | None
    dirty: bool = False
    breakpoints: frozenset[str] | None = None
    secrets: Secrets | None = None
    """What this instance hides (its secret params, and those its parent passed on); its
    ``row.params`` then hold the real values, opened when it was loaded."""

    @property
    def redactor(self) -> Redactor | None:
        return self.secrets.redactor if self.secrets is not None else None

    def shown(self, value: T) -> T:
        """``value`` as anyone may see it: with this instance's secrets masked."""
        if self.secrets is None or value is None:
            return value
        return cast(T, self.secrets.redactor.json(value))

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
    keys: Callable[[], Keyring] | None = None
    """The master keys, to open and seal secret params (only called when there are some)."""
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
            secrets = None
            if row.sealed_params:
                row.params, secrets = open_params(
                    self.keyring(), row.workflow_id, row.params, row.sealed_params
                )
            tracked = Tracked(row, plan, Halt(row.halt) if row.halt else None, secrets=secrets)
            self.instances[pk] = tracked
        return tracked

    def keyring(self) -> Keyring:
        if self.keys is None:
            raise VaultError("this engine was given no master keys: it cannot open secrets")
        return self.keys()

    def create_children(
        self, t: Tracked, children: Sequence[dict[str, Any]], secret: Collection[str] = ()
    ) -> list[int]:
        """Insert child instances of ``t`` and track them; their params are stored shown, with
        their secrets sealed: ``t``'s, and those of the params the child declares ``secret``."""
        hide = t.secrets.hide if t.secrets is not None else frozenset[str]()
        rows, opened = [], []
        for child in children:
            shown, secrets = mask_params(child["params"], secret, hide=hide)
            sealed = None
            if secrets is not None:
                sealed = seal_secrets(self.keyring(), child["workflow_id"], secrets)
            rows.append({**child, "params": shown, "sealed_params": sealed})
            opened.append(secrets)
        pks = store_instances.create_child_instances(self.conn, rows)
        for pk, child, secrets in zip(pks, children, opened, strict=True):
            self.adopt_child(pk, child)
            self.instances[pk].secrets = secrets
        return pks

    def seal_loop(
        self, t: Tracked, own: dict[str, Any], over: dict[str, list[Any]]
    ) -> tuple[dict[str, Any], dict[str, list[Any]], str | None]:
        """A foreach's own params and items as stored (shown), and those holding a secret,
        sealed: its iterations still receive them."""
        if t.secrets is None:
            return own, over, None
        hide = t.secrets.hide
        shown_own, own_secrets = mask_params(own, (), hide=hide)
        shown_over, over_secrets = mask_params(over, (), hide=hide)
        real = {
            "params": own_secrets.values if own_secrets is not None else {},
            "over": over_secrets.values if over_secrets is not None else {},
        }
        if not real["params"] and not real["over"]:
            return own, over, None
        sealed = seal_secrets(self.keyring(), t.row.workflow_id, Secrets(hide, real))
        return shown_own, cast(dict[str, list[Any]], shown_over), sealed

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
            state = store_loops.loop_state(self.conn, pk, step_id)
            tracked = self.instances.get(pk)
            if tracked is not None and tracked.secrets is not None:
                sealed = store_loops.sealed_loop_params(self.conn, pk, step_id)
                if sealed:
                    opened = open_secrets(self.keyring(), tracked.row.workflow_id, sealed)
                    state[1].update(opened.values.get("over") or {})
                    state[2].update(opened.values.get("params") or {})
            self.loops[key] = state
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
        """A timeline row and its outbox message, written at the end (secrets masked)."""
        row = t.row
        detail = t.shown(detail)
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
