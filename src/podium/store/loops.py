"""Foreach steps: their iteration counts, the values they iterate over, the iterations a
restart runs again, and the outputs gathered over the iterations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from podium.engine.states import STARTABLE_STEP
from podium.store.schema import instances, steps


@dataclass
class LoopCounts:
    total: int
    launched: int
    active: int
    succeeded: int
    failed: int
    other: int
    redo: list[int] | None = None
    """After a restart, the iterations to run again; the others succeeded and are kept."""

    @property
    def ended(self) -> int:
        return self.succeeded + self.failed + self.other

    @property
    def planned(self) -> int:
        """How many iterations this run launches."""
        return len(self.redo) if self.redo is not None else self.total

    def index(self, position: int) -> int:
        """The iteration launched at ``position`` in this run."""
        return self.redo[position] if self.redo is not None else position


LOOP_COLUMNS = (
    steps.c.iter_total,
    steps.c.iter_launched,
    steps.c.iter_active,
    steps.c.iter_succeeded,
    steps.c.iter_failed,
    steps.c.iter_other,
)


def _loop(row: Any, redo: list[int] | None = None) -> LoopCounts:
    total, launched, active, succeeded, failed, other = (int(v or 0) for v in row)
    return LoopCounts(total, launched, active, succeeded, failed, other, redo)


def begin_foreach(
    conn: sa.Connection,
    instance_pk: int,
    step_id: str,
    *,
    params: dict[str, Any],
    over: dict[str, list[Any]],
    total: int,
    now: float,
    sealed_params: str | None = None,
) -> None:
    conn.execute(
        steps.update()
        .where(
            steps.c.instance_pk == instance_pk,
            steps.c.step_id == step_id,
            steps.c.status.in_(STARTABLE_STEP),  # a foreach never waits for permits,
        )
        .values(
            status="RUNNING",
            attempt=steps.c.attempt + 1,
            params=params,
            started_at=sa.func.coalesce(steps.c.started_at, now),
            iter_total=total,
            iter_over=over,
            sealed_params=sealed_params,
            iter_launched=0,
            iter_active=0,
            iter_succeeded=0,
            iter_failed=0,
            iter_other=0,
            iter_redo=None,
        )
    )


def resume_foreach(conn: sa.Connection, instance_pk: int, step_id: str, *, now: float) -> None:
    """Run a restarted foreach again over the iterations it marked to redo."""
    conn.execute(
        steps.update()
        .where(steps.c.instance_pk == instance_pk, steps.c.step_id == step_id)
        .values(
            status="RUNNING",
            attempt=steps.c.attempt + 1,
            started_at=sa.func.coalesce(steps.c.started_at, now),
        )
    )


def redo_iterations(conn: sa.Connection, instance_pk: int, step_id: str, run: int) -> int:
    """Before a restart: mark the iterations that did not succeed to run again, set them
    apart as the earlier run's history, and keep the rest. Returns how many are redone."""
    row = conn.execute(
        sa.select(steps.c.iter_total).where(
            steps.c.instance_pk == instance_pk, steps.c.step_id == step_id
        )
    ).scalar_one()
    kept = set(
        conn.execute(
            sa.select(instances.c.iteration).where(
                instances.c.parent_pk == instance_pk,
                instances.c.parent_step == step_id,
                instances.c.status == "SUCCEEDED",
            )
        ).scalars()
    )
    redo = [i for i in range(int(row or 0)) if i not in kept]
    conn.execute(
        instances.update()
        .where(
            instances.c.parent_pk == instance_pk,
            instances.c.parent_step == step_id,
            instances.c.status != "SUCCEEDED",
        )
        .values(parent_step=instances.c.parent_step + f"@run{run - 1}")
    )
    conn.execute(
        steps.update()
        .where(steps.c.instance_pk == instance_pk, steps.c.step_id == step_id)
        .values(
            iter_redo=redo,
            iter_launched=0,
            iter_active=0,
            iter_succeeded=len(kept),
            iter_failed=0,
            iter_other=0,
        )
    )
    return len(redo)


def loop_state(
    conn: sa.Connection, instance_pk: int, step_id: str
) -> tuple[LoopCounts, dict[str, list[Any]], dict[str, Any]]:
    row = conn.execute(
        sa.select(*LOOP_COLUMNS, steps.c.iter_over, steps.c.params, steps.c.iter_redo).where(
            steps.c.instance_pk == instance_pk, steps.c.step_id == step_id
        )
    ).one()
    redo = list(row.iter_redo) if row.iter_redo is not None else None
    return _loop(row[:6], redo), dict(row.iter_over or {}), dict(row.params or {})


def sealed_loop_params(conn: sa.Connection, instance_pk: int, step_id: str) -> str | None:
    """The sealed values of a foreach's params and items that hold a secret, if any."""
    value = conn.execute(
        sa.select(steps.c.sealed_params).where(
            steps.c.instance_pk == instance_pk, steps.c.step_id == step_id
        )
    ).scalar_one_or_none()
    return str(value) if value else None


def save_loop(conn: sa.Connection, instance_pk: int, step_id: str, counts: LoopCounts) -> None:
    """Write a foreach step's counts (kept in memory while a transaction advances it)."""
    conn.execute(
        steps.update()
        .where(steps.c.instance_pk == instance_pk, steps.c.step_id == step_id)
        .values(
            iter_launched=counts.launched,
            iter_active=counts.active,
            iter_succeeded=counts.succeeded,
            iter_failed=counts.failed,
            iter_other=counts.other,
        )
    )


def iteration_outputs(
    conn: sa.Connection, instance_pk: int, step_id: str
) -> dict[str, list[dict[str, Any]]]:
    """Each inner step's outputs over the iterations, in iteration order."""
    rows = conn.execute(
        sa.select(steps.c.step_id, steps.c.outputs)
        .select_from(instances.join(steps, steps.c.instance_pk == instances.c.pk))
        .where(instances.c.parent_pk == instance_pk, instances.c.parent_step == step_id)
        .order_by(instances.c.iteration, steps.c.position)
    ).all()
    found: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row.step_id, []).append(dict(row.outputs or {}))
    return found
