"""The step cascade, driven by hand: ``Worker.run_once`` on a real database with a clock that
only moves when the test moves it. No threads of ours, no HTTP, no job process: every step
here is a noop, a sleep, a foreach or a subworkflow, so the engine decides everything."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from podium.config import Settings
from podium.control.identity import caller_named
from podium.control.services import Services
from podium.control.starts import StartRequest, start
from podium.control.workflows import push_workflow
from podium.definition import load_workflow
from podium.store import queue
from podium.store.database import Database
from podium.store.migrate import upgrade
from podium.store.schema import instances, steps
from podium.worker.loop import Worker

T0 = 1_700_000_000.0


class Clock:
    """The time every part of the engine reads; it moves only when told."""

    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at

    def move(self, seconds: float) -> None:
        self.at += seconds


class Engine:
    """One worker on one database, turned by hand."""

    def __init__(self, db: Database, worker: Worker, clock: Clock) -> None:
        self.db = db
        self.worker = worker
        self.clock = clock
        self.services = Services(db, clock=clock)

    def push(self, yaml: str) -> None:
        push_workflow(
            self.db, load_workflow(yaml), caller_named("t"), active=True, now=self.clock()
        )

    def start(self, workflow_id: str) -> int:
        return start(self.services, StartRequest(workflow_id), caller_named("t")).instance_id

    def run_until_idle(self) -> None:
        """Turn the worker until it has nothing to do now (later rows stay for later)."""
        for _ in range(1000):
            if self.worker.run_once():
                continue
            with self.db.read() as conn:
                due = queue.next_due_at(conn, owner=self.worker.worker_id)
            if due is None or due > self.clock():
                return
        raise AssertionError("the worker never went idle")

    def status(self, workflow_id: str, instance_id: int) -> str:
        with self.db.read() as conn:
            return str(
                conn.execute(
                    sa.select(instances.c.status).where(
                        instances.c.workflow_id == workflow_id,
                        instances.c.instance_id == instance_id,
                        instances.c.iteration.is_(None),
                    )
                ).scalar_one()
            )

    def steps(self, workflow_id: str, instance_id: int) -> dict[str, str]:
        with self.db.read() as conn:
            pk = conn.execute(
                sa.select(instances.c.pk).where(
                    instances.c.workflow_id == workflow_id,
                    instances.c.instance_id == instance_id,
                    instances.c.iteration.is_(None),
                )
            ).scalar_one()
            rows = conn.execute(
                sa.select(steps.c.step_id, steps.c.status).where(steps.c.instance_pk == pk)
            ).all()
        return {step_id: status for step_id, status in rows}

    def iterations(self, workflow_id: str, instance_id: int, step_id: str) -> list[str]:
        with self.db.read() as conn:
            parent = (
                sa.select(instances.c.pk)
                .where(
                    instances.c.workflow_id == workflow_id,
                    instances.c.instance_id == instance_id,
                    instances.c.iteration.is_(None),
                )
                .scalar_subquery()
            )
            rows = conn.execute(
                sa.select(instances.c.status)
                .where(instances.c.parent_pk == parent, instances.c.parent_step == step_id)
                .order_by(instances.c.iteration)
            ).all()
        return [str(status) for (status,) in rows]


@pytest.fixture
def engine(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    db = Database(db_url)
    upgrade(db)
    clock = Clock(T0)
    worker = Worker(db, Settings(db_url=db_url, data_dir=tmp_path / "data"), clock=clock)
    try:
        yield Engine(db, worker, clock)
    finally:
        worker.supervisor.close()
        db.dispose()


def test_a_dag_of_noops_runs_in_one_idle_turn(engine: Engine) -> None:
    engine.push("""
id: dag
steps:
  - {id: a, type: noop}
  - {id: b, type: noop, depends_on: [a]}
  - {id: c, type: noop, depends_on: [a]}
  - {id: d, type: noop, depends_on: [b, c]}
""")
    iid = engine.start("dag")
    assert engine.status("dag", iid) == "CREATED"

    engine.run_until_idle()

    assert engine.status("dag", iid) == "SUCCEEDED"
    assert engine.steps("dag", iid) == dict.fromkeys("abcd", "SUCCEEDED")


def test_a_false_condition_skips_its_branch_and_the_join_runs(engine: Engine) -> None:
    engine.push("""
id: branches
params: {big: false}
steps:
  - {id: decide, type: noop}
  - {id: heavy, type: noop, depends_on: [decide], if: "${ big }"}
  - {id: after_heavy, type: noop, depends_on: [heavy]}
  - {id: light, type: noop, depends_on: [decide], if: "${ not big }"}
  - {id: join, type: noop, depends_on: [after_heavy, light]}
""")
    iid = engine.start("branches")

    engine.run_until_idle()

    assert engine.status("branches", iid) == "SUCCEEDED"
    assert engine.steps("branches", iid) == {
        "decide": "SUCCEEDED",
        "heavy": "SKIPPED",
        "after_heavy": "SKIPPED",
        "light": "SUCCEEDED",
        "join": "SUCCEEDED",
    }


def test_a_foreach_of_noops_with_a_concurrency_runs_every_iteration(engine: Engine) -> None:
    engine.push("""
id: loop
steps:
  - id: each
    foreach:
      over: {n: [1, 2, 3, 4, 5]}
      concurrency: 2
      steps:
        - {id: one, type: noop}
        - {id: two, type: noop, depends_on: [one]}
  - {id: after, type: noop, depends_on: [each]}
""")
    iid = engine.start("loop")

    engine.run_until_idle()

    assert engine.status("loop", iid) == "SUCCEEDED"
    assert engine.steps("loop", iid) == {"each": "SUCCEEDED", "after": "SUCCEEDED"}
    assert engine.iterations("loop", iid, "each") == ["SUCCEEDED"] * 5


def test_a_subworkflow_runs_its_child_instance_to_the_end(engine: Engine) -> None:
    engine.push("id: child\nsteps:\n  - {id: x, type: noop}\n  - {id: y, type: noop}\n")
    engine.push("id: parent\nsteps:\n  - {id: call, subworkflow: {workflow: child}}\n")
    iid = engine.start("parent")

    engine.run_until_idle()

    assert engine.status("parent", iid) == "SUCCEEDED"
    assert engine.steps("parent", iid) == {"call": "SUCCEEDED"}
    assert engine.status("child", 1) == "SUCCEEDED"
    assert engine.steps("child", 1) == {"x": "SUCCEEDED", "y": "SUCCEEDED"}


def test_a_sleep_step_is_released_by_the_clock_and_not_before(engine: Engine) -> None:
    engine.push("""
id: nap
steps:
  - {id: rest, type: sleep, seconds: 30}
  - {id: after, type: noop, depends_on: [rest]}
""")
    iid = engine.start("nap")

    engine.run_until_idle()
    assert engine.status("nap", iid) == "IN_PROGRESS"
    assert engine.steps("nap", iid) == {"rest": "RUNNING", "after": "CREATED"}

    engine.clock.move(29.9)
    engine.run_until_idle()
    assert engine.steps("nap", iid) == {"rest": "RUNNING", "after": "CREATED"}

    engine.clock.move(0.1)
    engine.run_until_idle()
    assert engine.status("nap", iid) == "SUCCEEDED"
    assert engine.steps("nap", iid) == {"rest": "SUCCEEDED", "after": "SUCCEEDED"}


ON_FAILURE = """
id: modes
params: {items: []}
steps:
  - {id: gate, type: noop}
  - {id: bad, type: noop, depends_on: [gate], if: "${ items[3] > 0 }", on_failure: MODE}
  - {id: after_bad, type: noop, depends_on: [bad]}
  - {id: other, type: sleep, seconds: 10}
"""


def test_on_failure_ignore_lets_the_cascade_go_on(engine: Engine) -> None:
    engine.push(ON_FAILURE.replace("MODE", "ignore"))
    iid = engine.start("modes")

    engine.run_until_idle()
    engine.clock.move(10)
    engine.run_until_idle()

    assert engine.steps("modes", iid) == {
        "gate": "SUCCEEDED",
        "bad": "COMPLETED_WITH_ERROR",
        "after_bad": "SUCCEEDED",
        "other": "SUCCEEDED",
    }
    assert engine.status("modes", iid) == "SUCCEEDED"


def test_on_failure_fail_lets_the_running_step_finish(engine: Engine) -> None:
    engine.push(ON_FAILURE.replace("MODE", "fail"))
    iid = engine.start("modes")

    engine.run_until_idle()
    assert engine.steps("modes", iid)["other"] == "RUNNING"
    engine.clock.move(10)
    engine.run_until_idle()

    steps_now = engine.steps("modes", iid)
    assert (steps_now["bad"], steps_now["other"]) == ("FAILED", "SUCCEEDED")
    assert steps_now["after_bad"] != "SUCCEEDED"
    assert engine.status("modes", iid) == "FAILED"


def test_on_failure_fail_fast_stops_the_running_step(engine: Engine) -> None:
    # The gate sleeps, so the failure comes in a later transaction than other's start.
    engine.push(
        ON_FAILURE.replace("MODE", "fail_fast").replace(
            "id: gate, type: noop", "id: gate, type: sleep, seconds: 1"
        )
    )
    iid = engine.start("modes")

    engine.run_until_idle()
    assert engine.steps("modes", iid)["other"] == "RUNNING"
    engine.clock.move(1)
    engine.run_until_idle()

    steps_now = engine.steps("modes", iid)
    assert (steps_now["bad"], steps_now["other"]) == ("FAILED", "STOPPED")
    assert engine.status("modes", iid) == "FAILED"


def test_on_failure_fail_fast_stops_a_sleep_started_in_the_same_turn(engine: Engine) -> None:
    engine.push(ON_FAILURE.replace("MODE", "fail_fast"))
    iid = engine.start("modes")

    engine.run_until_idle()

    steps_now = engine.steps("modes", iid)
    assert (steps_now["bad"], steps_now["other"]) == ("FAILED", "STOPPED")
    assert engine.status("modes", iid) == "FAILED"


def test_an_instance_timeout_falls_due_with_the_clock(engine: Engine) -> None:
    engine.push("""
id: whole
timeout: 20s
steps:
  - {id: long, type: sleep, seconds: 60}
""")
    iid = engine.start("whole")

    engine.run_until_idle()
    engine.clock.move(19.9)
    engine.run_until_idle()
    assert engine.status("whole", iid) == "IN_PROGRESS"

    engine.clock.move(0.1)
    engine.run_until_idle()
    assert engine.status("whole", iid) == "TIMED_OUT"
    assert engine.steps("whole", iid) == {"long": "STOPPED"}
