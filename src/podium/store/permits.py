"""Tag limits and their permits: who holds one, who waits for one, first come first served.

Every change to a tag's permits happens under a lock on its ``tag_limits`` row (``FOR
UPDATE`` on PostgreSQL; SQLite has one writer), taken in tag order, so the holders counted
under it are exact however many workers run. A :class:`Ledger` lives for one pass of one
transaction: it locks the tags it is given, counts their holders and waiters once, and
keeps the counts in memory while it grants, releases and queues.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from podium.store import dialect
from podium.store.schema import instances, permit_waiters, permits, tag_limits

Holder = tuple[int, str]
"""A step of an instance: (instance pk, step id)."""


def _insert_missing_tags(conn: sa.Connection, tags: Sequence[str], now: float) -> None:
    rows = [{"tag": tag, "max_permits": None, "updated_at": now} for tag in tags]
    conn.execute(dialect.of(conn).insert_missing(tag_limits, ["tag"]), rows)


def _lock(conn: sa.Connection, tags: Sequence[str]) -> dict[str, int | None]:
    query = (
        sa.select(tag_limits.c.tag, tag_limits.c.max_permits)
        .where(tag_limits.c.tag.in_(list(tags)))
        .order_by(tag_limits.c.tag)
    )
    query = dialect.of(conn).lock(query)
    return {row.tag: row.max_permits for row in conn.execute(query)}


def lock_tags(conn: sa.Connection, tags: Sequence[str], now: float) -> dict[str, int | None]:
    """Lock these tags' rows, creating the missing ones (no limit); returns their limits."""
    wanted = sorted(set(tags))
    limits = _lock(conn, wanted)
    missing = [tag for tag in wanted if tag not in limits]
    if missing:
        _insert_missing_tags(conn, missing, now)
        limits.update(_lock(conn, missing))
    return limits


def _counts(conn: sa.Connection, table: sa.Table, tags: Sequence[str]) -> dict[str, int]:
    rows = conn.execute(
        sa.select(table.c.tag, sa.func.count())
        .where(table.c.tag.in_(list(tags)))
        .group_by(table.c.tag)
    ).all()
    return {row[0]: int(row[1]) for row in rows}


@dataclass
class Ledger:
    """The permits of some tags, locked for the rest of the transaction."""

    conn: sa.Connection
    now: float
    limits: dict[str, int | None] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)
    waiting: dict[str, int] = field(default_factory=dict)

    @classmethod
    def open(cls, conn: sa.Connection, tags: Iterable[str], now: float) -> Ledger:
        wanted = sorted(set(tags))
        ledger = cls(conn, now)
        if wanted:
            ledger.limits = lock_tags(conn, wanted, now)
            ledger.held = _counts(conn, permits, wanted)
            ledger.waiting = _counts(conn, permit_waiters, wanted)
        return ledger

    def _free(self, tag: str) -> int | None:
        """Permits of ``tag`` nobody holds (None: no limit)."""
        limit = self.limits[tag]
        return None if limit is None else max(0, limit - self.held.get(tag, 0))

    def release(self, holders: Sequence[Holder]) -> None:
        """Give back every permit these steps hold and take them out of every queue."""
        conn = self.conn
        for pk, step_id in holders:
            freed = conn.execute(
                permits.delete()
                .where(permits.c.instance_pk == pk, permits.c.step_id == step_id)
                .returning(permits.c.tag)
            ).scalars()
            for tag in freed:
                self.held[tag] = self.held.get(tag, 1) - 1
            left = conn.execute(
                permit_waiters.delete()
                .where(permit_waiters.c.instance_pk == pk, permit_waiters.c.step_id == step_id)
                .returning(permit_waiters.c.tag)
            ).scalars()
            for tag in left:
                self.waiting[tag] = self.waiting.get(tag, 1) - 1

    def grant_waiters(self) -> list[Holder]:
        """Hand free permits to the steps that waited longest; they go on in a work row."""
        granted: list[Holder] = []
        for tag in sorted(self.limits):
            free = self._free(tag)
            if not self.waiting.get(tag) or free == 0:
                continue
            query = sa.select(
                permit_waiters.c.id, permit_waiters.c.instance_pk, permit_waiters.c.step_id
            ).where(permit_waiters.c.tag == tag)
            query = query.order_by(permit_waiters.c.id)
            if free is not None:
                query = query.limit(free)
            rows = self.conn.execute(query).all()
            if not rows:
                continue
            self.conn.execute(
                permit_waiters.delete().where(permit_waiters.c.id.in_([r.id for r in rows]))
            )
            self.conn.execute(
                permits.insert(),
                [
                    {
                        "tag": tag,
                        "instance_pk": r.instance_pk,
                        "step_id": r.step_id,
                        "acquired_at": self.now,
                    }
                    for r in rows
                ],
            )
            self.waiting[tag] -= len(rows)
            self.held[tag] = self.held.get(tag, 0) + len(rows)
            granted += [(r.instance_pk, r.step_id) for r in rows]
        return granted

    def acquire(self, holder: Holder, tags: Sequence[str], *, granted: bool = False) -> str | None:
        """Take a permit of each tag, in order; None when all are held. Otherwise the step
        queues for the first tag it cannot get (keeping those before it: taking tags in one
        order everywhere means no two steps ever wait for each other) and that tag is
        returned. ``granted``: the step was handed a permit while it waited."""
        pk, step_id = holder
        held: set[str] = set()
        if granted:
            held = set(
                self.conn.execute(
                    sa.select(permits.c.tag).where(
                        permits.c.instance_pk == pk, permits.c.step_id == step_id
                    )
                ).scalars()
            )
        for tag in tags:
            if tag in held:
                continue
            free = self._free(tag)
            if self.waiting.get(tag, 0) == 0 and (free is None or free > 0):
                self.conn.execute(
                    permits.insert().values(
                        tag=tag, instance_pk=pk, step_id=step_id, acquired_at=self.now
                    )
                )
                self.held[tag] = self.held.get(tag, 0) + 1
                continue
            self.conn.execute(
                permit_waiters.insert().values(
                    tag=tag, instance_pk=pk, step_id=step_id, since=self.now
                )
            )
            self.waiting[tag] = self.waiting.get(tag, 0) + 1
            return tag
        return None


# -- setting limits and reading them ----------------------------------------------------


def set_limit(conn: sa.Connection, tag: str, limit: int | None, now: float) -> list[Holder]:
    """Set (or, with None, remove) a tag's limit; returns the waiters it lets go."""
    ledger = Ledger.open(conn, [tag], now)
    conn.execute(
        tag_limits.update().where(tag_limits.c.tag == tag).values(max_permits=limit, updated_at=now)
    )
    ledger.limits[tag] = limit
    return ledger.grant_waiters()


@dataclass(frozen=True)
class StepRef:
    workflow_id: str
    instance_id: int
    step_id: str
    iteration: int | None
    plan_path: str
    since: float

    def to_json(self) -> dict[str, Any]:
        where = self.step_id
        if self.iteration is not None:
            where = f"{self.plan_path}[{self.iteration}].{self.step_id}"
        return {
            "workflow_id": self.workflow_id,
            "instance_id": self.instance_id,
            "step_id": where,
            "since": self.since,
        }


@dataclass(frozen=True)
class TagView:
    tag: str
    limit: int | None
    holders: list[StepRef]
    waiters: list[StepRef]

    def to_json(self, *, full: bool = True) -> dict[str, Any]:
        view: dict[str, Any] = {
            "tag": self.tag,
            "limit": self.limit,
            "in_use": len(self.holders),
            "waiting": len(self.waiters),
        }
        if full:
            view["holders"] = [h.to_json() for h in self.holders]
            view["waiters"] = [w.to_json() for w in self.waiters]
        return view


def _refs(conn: sa.Connection, table: sa.Table, since: sa.Column[Any], tags: list[str]) -> Any:
    query = (
        sa.select(
            table.c.tag,
            instances.c.workflow_id,
            instances.c.instance_id,
            table.c.step_id,
            instances.c.iteration,
            instances.c.plan_path,
            since,
        )
        .join(instances, instances.c.pk == table.c.instance_pk)
        .where(table.c.tag.in_(tags))
    )
    order = table.c.id if "id" in table.c else since
    return conn.execute(query.order_by(table.c.tag, order)).all()


def tag_views(conn: sa.Connection, tag: str | None = None) -> list[TagView]:
    """Every known tag (or one), with its limit, holders and waiters in line order."""
    query = sa.select(tag_limits.c.tag, tag_limits.c.max_permits).order_by(tag_limits.c.tag)
    if tag is not None:
        query = query.where(tag_limits.c.tag == tag)
    limits = {row.tag: row.max_permits for row in conn.execute(query)}
    if not limits:
        return []
    names = list(limits)
    holders: dict[str, list[StepRef]] = {name: [] for name in names}
    waiters: dict[str, list[StepRef]] = {name: [] for name in names}
    for row in _refs(conn, permits, permits.c.acquired_at, names):
        holders[row[0]].append(StepRef(*row[1:]))
    for row in _refs(conn, permit_waiters, permit_waiters.c.since, names):
        waiters[row[0]].append(StepRef(*row[1:]))
    return [TagView(name, limits[name], holders[name], waiters[name]) for name in names]


def waiting_for(conn: sa.Connection, instance_pk: int) -> dict[str, dict[str, Any]]:
    """For each step of an instance waiting for a permit: the tag, its limit, how many
    hold it and how many wait ahead of the step."""
    mine = conn.execute(
        sa.select(permit_waiters.c.id, permit_waiters.c.tag, permit_waiters.c.step_id).where(
            permit_waiters.c.instance_pk == instance_pk
        )
    ).all()
    if not mine:
        return {}
    tags = sorted({row.tag for row in mine})
    limits = dict(
        conn.execute(
            sa.select(tag_limits.c.tag, tag_limits.c.max_permits).where(tag_limits.c.tag.in_(tags))
        ).all()
    )
    held = _counts(conn, permits, tags)
    detail: dict[str, dict[str, Any]] = {}
    for row in mine:
        ahead = conn.execute(
            sa.select(sa.func.count()).where(
                permit_waiters.c.tag == row.tag, permit_waiters.c.id < row.id
            )
        ).scalar_one()
        detail[row.step_id] = {
            "tag": row.tag,
            "limit": limits.get(row.tag),
            "in_use": held.get(row.tag, 0),
            "ahead": int(ahead),
        }
    return detail


def known_tags(conn: sa.Connection, tags: Iterable[str], now: float) -> None:
    """Make tags known (listed with no limit) as soon as a workflow that uses them is pushed."""
    wanted = sorted(set(tags))
    if wanted:
        _insert_missing_tags(conn, wanted, now)
