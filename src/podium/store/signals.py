"""Signals: announcing one, and what it sets off, in the announcer's transaction.

A signal is stored with a sequence number per name; its name's row in ``signal_names`` is
locked while it is announced, and a step that starts waiting for that name takes the same
lock to look for signals already there, so a signal and a new wait never miss each other.
Announcing fills the slots of the signal triggers it matches (a group whose slots are all
filled starts one instance and is emptied) and releases the waits it matches (a step with
no wait left gets a ``signaled`` work row, due at once). Nothing polls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from podium.definition.matching import matches
from podium.engine.topics import Topic
from podium.engine.work import WorkKind, work_row
from podium.store import dialect
from podium.store.queue import add_work
from podium.store.schema import signal_names, signal_slots, signal_waits, signals
from podium.store.timeline import append_events
from podium.store.trigger_failures import TriggerFailure

StartInstance = Callable[[sa.Connection, str, dict[str, Any]], int | TriggerFailure | None]
"""Starts an instance of a workflow's active version with a trigger: its number, None
(inactive), or why it could not (recorded by the starter, in this transaction)."""


@dataclass(frozen=True)
class SignalRow:
    id: int
    name: str
    seq: int
    params: dict[str, Any]
    request_id: str | None
    created_at: float


@dataclass
class Announced:
    signal: SignalRow
    duplicate: bool
    started: list[tuple[str, int]] = field(default_factory=list)
    failed: list[TriggerFailure] = field(default_factory=list)
    released: list[tuple[int, str]] = field(default_factory=list)


def lock_names(conn: sa.Connection, names: Iterable[str]) -> dict[str, int]:
    """Lock these names' rows (created when missing), in name order; their last seq."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    conn.execute(
        dialect.of(conn).insert_missing(signal_names, ["name"]),
        [{"name": name, "last_seq": 0} for name in wanted],
    )
    query = (
        sa.select(signal_names.c.name, signal_names.c.last_seq)
        .where(signal_names.c.name.in_(wanted))
        .order_by(signal_names.c.name)
    )
    query = dialect.of(conn).lock(query)
    return {row.name: int(row.last_seq) for row in conn.execute(query)}


def _row(row: Any) -> SignalRow:
    return SignalRow(
        row.id, row.name, row.seq, dict(row.params), row.request_id, float(row.created_at)
    )


_COLUMNS = (
    signals.c.id,
    signals.c.name,
    signals.c.seq,
    signals.c.params,
    signals.c.request_id,
    signals.c.created_at,
)


def announce(
    conn: sa.Connection,
    name: str,
    params: Mapping[str, Any],
    *,
    now: float,
    start_instance: StartInstance,
    request_id: str | None = None,
    source: Mapping[str, Any] | None = None,
) -> Announced:
    """Store a signal and act on it. With a ``request_id`` already used for this name,
    nothing happens again: the stored signal is returned as a duplicate."""
    last = lock_names(conn, [name])[name]
    if request_id is not None:
        existing = conn.execute(
            sa.select(*_COLUMNS).where(signals.c.name == name, signals.c.request_id == request_id)
        ).first()
        if existing is not None:
            return Announced(_row(existing), duplicate=True)
    seq = last + 1
    conn.execute(signal_names.update().where(signal_names.c.name == name).values(last_seq=seq))
    signal_id = conn.execute(
        signals.insert()
        .values(
            name=name,
            seq=seq,
            params=dict(params),
            request_id=request_id,
            source=dict(source) if source else None,
            created_at=now,
        )
        .returning(signals.c.id)
    ).scalar_one()
    row = SignalRow(signal_id, name, seq, dict(params), request_id, now)
    payload = {"name": name, "seq": seq, "params": dict(params), "request_id": request_id}
    if source:
        payload["source"] = dict(source)
    append_events(
        conn,
        [],
        [{"at": now, "topic": Topic.SIGNAL_ANNOUNCED.value, "key": name, "payload": payload}],
    )
    announced = Announced(row, duplicate=False)
    announced.started, announced.failed = _fill_slots(conn, row, start_instance)
    announced.released = _release_waits(conn, row, now)
    return announced


# -- signal triggers --------------------------------------------------------------------


def sync_slots(
    conn: sa.Connection,
    workflow_id: str,
    version: int | None,
    groups: Sequence[Sequence[Mapping[str, Any]]],
) -> None:
    """Make the slots match the active version's ``trigger.signals`` (none: no version or
    no signal trigger). Signals caught for an unchanged group are kept."""
    old = {
        (r.group_index, r.signal_index): r
        for r in conn.execute(
            sa.select(signal_slots).where(signal_slots.c.workflow_id == workflow_id)
        )
    }
    conn.execute(signal_slots.delete().where(signal_slots.c.workflow_id == workflow_id))
    if version is None or not groups:
        return
    rows = []
    for g, group in enumerate(groups):
        for s, spec in enumerate(group):
            kept = old.get((g, s))
            same = kept is not None and kept.name == spec["name"] and kept.match == spec["match"]
            rows.append(
                {
                    "workflow_id": workflow_id,
                    "group_index": g,
                    "signal_index": s,
                    "version": version,
                    "name": spec["name"],
                    "match": dict(spec.get("match") or {}),
                    "signal_id": kept.signal_id if same and kept is not None else None,
                }
            )
    conn.execute(signal_slots.insert(), rows)


def _fill_slots(
    conn: sa.Connection, signal: SignalRow, start: StartInstance
) -> tuple[list[tuple[str, int]], list[TriggerFailure]]:
    """Fill the slots the signal matches; start the groups it completes. A group whose
    start fails is used up all the same (its failure says which signals it had)."""
    candidates = conn.execute(
        sa.select(
            signal_slots.c.workflow_id, signal_slots.c.group_index, signal_slots.c.match
        ).where(signal_slots.c.name == signal.name)
    ).all()
    groups = sorted(
        {(c.workflow_id, c.group_index) for c in candidates if matches(c.match, signal.params)}
    )
    started: list[tuple[str, int]] = []
    failed: list[TriggerFailure] = []
    for workflow_id, group_index in groups:
        # The whole group is locked: two signals completing it at once see each other.
        query = (
            sa.select(signal_slots)
            .where(
                signal_slots.c.workflow_id == workflow_id,
                signal_slots.c.group_index == group_index,
            )
            .order_by(signal_slots.c.signal_index)
        )
        query = dialect.of(conn).lock(query)
        slots = conn.execute(query).all()
        filled: dict[int, int] = {}
        for slot in slots:
            if slot.name == signal.name and matches(slot.match, signal.params):
                filled[slot.signal_index] = signal.id
            elif slot.signal_id is not None:
                filled[slot.signal_index] = slot.signal_id
        if len(filled) < len(slots):
            for index, signal_id in filled.items():
                conn.execute(
                    signal_slots.update()
                    .where(
                        signal_slots.c.workflow_id == workflow_id,
                        signal_slots.c.group_index == group_index,
                        signal_slots.c.signal_index == index,
                    )
                    .values(signal_id=signal_id)
                )
            continue
        conn.execute(
            signal_slots.update()
            .where(
                signal_slots.c.workflow_id == workflow_id,
                signal_slots.c.group_index == group_index,
            )
            .values(signal_id=None)
        )
        used = _by_id(conn, [filled[s.signal_index] for s in slots])
        merged: dict[str, Any] = {}
        for row in used:
            merged.update(row.params)
        trigger = {
            "type": "signal",
            "group": group_index,
            "signal": merged,
            "signals": [{"name": r.name, "seq": r.seq, "params": r.params} for r in used],
        }
        instance_id = start(conn, workflow_id, trigger)
        if isinstance(instance_id, TriggerFailure):
            failed.append(instance_id)
        elif instance_id is not None:
            started.append((workflow_id, instance_id))
    return started, failed


def _by_id(conn: sa.Connection, ids: list[int]) -> list[SignalRow]:
    rows = {r.id: _row(r) for r in conn.execute(sa.select(*_COLUMNS).where(signals.c.id.in_(ids)))}
    return [rows[i] for i in ids]


# -- waits ------------------------------------------------------------------------------


def already_there(
    conn: sa.Connection, name: str, match: Mapping[str, Any], since: float
) -> SignalRow | None:
    """The first signal of ``name`` announced at or after ``since`` that matches."""
    query = (
        sa.select(*_COLUMNS)
        .where(signals.c.name == name, signals.c.created_at >= since)
        .order_by(signals.c.id)
    )
    for row in conn.execute(query):
        if matches(match, row.params):
            return _row(row)
    return None


def add_waits(
    conn: sa.Connection,
    instance_pk: int,
    step_id: str,
    waits: Sequence[tuple[int, str, Mapping[str, Any]]],
    now: float,
) -> None:
    conn.execute(
        signal_waits.insert(),
        [
            {
                "instance_pk": instance_pk,
                "step_id": step_id,
                "wait_index": index,
                "name": name,
                "match": dict(match),
                "since": now,
            }
            for index, name, match in waits
        ],
    )


def drop_waits(conn: sa.Connection, instance_pk: int, step_id: str | None = None) -> None:
    query = signal_waits.delete().where(signal_waits.c.instance_pk == instance_pk)
    if step_id is not None:
        query = query.where(signal_waits.c.step_id == step_id)
    conn.execute(query)


def waits_of(conn: sa.Connection, instance_pk: int) -> dict[str, list[dict[str, Any]]]:
    """What each waiting step of an instance still waits for."""
    found: dict[str, list[dict[str, Any]]] = {}
    rows = conn.execute(
        sa.select(signal_waits)
        .where(signal_waits.c.instance_pk == instance_pk)
        .order_by(signal_waits.c.step_id, signal_waits.c.wait_index)
    )
    for row in rows:
        found.setdefault(row.step_id, []).append(
            {"name": row.name, "match": row.match, "since": row.since}
        )
    return found


def _release_waits(conn: sa.Connection, signal: SignalRow, now: float) -> list[tuple[int, str]]:
    candidates = conn.execute(
        sa.select(
            signal_waits.c.instance_pk,
            signal_waits.c.step_id,
            signal_waits.c.wait_index,
            signal_waits.c.match,
            signal_waits.c.since,
        ).where(signal_waits.c.name == signal.name)
    ).all()
    hits = sorted(
        (c.instance_pk, c.step_id, c.wait_index)
        for c in candidates
        if matches(c.match, signal.params)
    )
    released: list[tuple[int, str]] = []
    for pk, step_id, index in hits:
        # Lock every wait of the step, so two signals ending its last two waits at once
        # cannot both believe the other is still missing.
        query = sa.select(signal_waits.c.wait_index).where(
            signal_waits.c.instance_pk == pk, signal_waits.c.step_id == step_id
        )
        query = dialect.of(conn).lock(query)
        left = set(conn.execute(query).scalars())
        if index not in left:
            continue
        conn.execute(
            signal_waits.delete().where(
                signal_waits.c.instance_pk == pk,
                signal_waits.c.step_id == step_id,
                signal_waits.c.wait_index == index,
            )
        )
        if left == {index}:
            released.append((pk, step_id))
    if released:
        add_work(
            conn,
            [
                work_row(WorkKind.SIGNALED, pk, step_id=step_id, due_at=now)
                for pk, step_id in released
            ],
        )
    return released


def list_signals(conn: sa.Connection, name: str | None = None, limit: int = 50) -> list[SignalRow]:
    query = sa.select(*_COLUMNS).order_by(signals.c.id.desc()).limit(limit)
    if name is not None:
        query = query.where(signals.c.name == name)
    return [_row(r) for r in conn.execute(query)]
