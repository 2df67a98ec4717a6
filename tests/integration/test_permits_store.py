"""The permit ledger on a real database: counts, first come first served, tag order."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from podium.store import permits
from podium.store.database import Database
from podium.store.migrate import upgrade
from podium.store.schema import instances, permit_waiters


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    upgrade(database)
    with database.transaction() as conn:  # the holders' instances, pk 1 to 3
        conn.execute(
            instances.insert(),
            [
                {
                    "pk": pk,
                    "workflow_id": "wf",
                    "instance_id": pk,
                    "version": 1,
                    "status": "IN_PROGRESS",
                    "params": {},
                    "trigger": {},
                    "created_at": 1.0,
                }
                for pk in (1, 2, 3)
            ],
        )
    try:
        yield database
    finally:
        database.dispose()


def ledger(conn: sa.Connection, *tags: str) -> permits.Ledger:
    return permits.Ledger.open(conn, tags, now=1.0)


def test_a_limit_is_never_passed_and_waiters_go_in_order(db: Database) -> None:
    with db.transaction() as conn:
        permits.set_limit(conn, "db", 2, now=1.0)
        book = ledger(conn, "db")
        results = [book.acquire((1, f"s{i}"), ["db"]) for i in range(5)]
    assert results == [None, None, "db", "db", "db"]
    with db.transaction() as conn:
        book = ledger(conn, "db")
        book.release([(1, "s0")])
        assert book.grant_waiters() == [(1, "s2")]
        assert book.grant_waiters() == []  # nothing free any more
        # A newcomer queues behind the waiters even when a permit is free.
        book.release([(1, "s1")])
        assert book.acquire((2, "late"), ["db"]) == "db"
        assert book.grant_waiters() == [(1, "s3")]
    with db.read() as conn:
        view = permits.tag_views(conn, "db")[0]
    assert len(view.holders) == 2 and len(view.waiters) == 2


def test_a_lower_limit_lets_holders_finish_and_starts_nobody(db: Database) -> None:
    with db.transaction() as conn:
        permits.set_limit(conn, "db", 3, now=1.0)
        book = ledger(conn, "db")
        assert [book.acquire((1, f"s{i}"), ["db"]) for i in range(4)] == [None, None, None, "db"]
        assert permits.set_limit(conn, "db", 1, now=2.0) == []
    with db.transaction() as conn:
        book = ledger(conn, "db")
        book.release([(1, "s0")])
        assert book.grant_waiters() == []  # 2 still hold it, above the new limit of 1
        book.release([(1, "s1"), (1, "s2")])
        assert book.grant_waiters() == [(1, "s3")]


def test_several_tags_are_taken_in_order_and_kept_while_waiting(db: Database) -> None:
    with db.transaction() as conn:
        permits.set_limit(conn, "a", 1, now=1.0)
        permits.set_limit(conn, "b", 1, now=1.0)
        book = ledger(conn, "a", "b")
        assert book.acquire((1, "holds_b"), ["b"]) is None
        assert book.acquire((2, "both"), ["a", "b"]) == "b"  # keeps a, waits for b
        assert book.acquire((3, "only_a"), ["a"]) == "a"
    with db.transaction() as conn:
        book = ledger(conn, "a", "b")
        book.release([(1, "holds_b")])
        assert book.grant_waiters() == [(2, "both")]
        assert book.acquire((2, "both"), ["a", "b"], granted=True) is None
    with db.transaction() as conn:
        book = ledger(conn, "a", "b")
        book.release([(2, "both")])
        assert book.grant_waiters() == [(3, "only_a")]
        left = conn.execute(sa.select(sa.func.count()).select_from(permit_waiters)).scalar_one()
    assert left == 0


def test_a_tag_without_a_limit_records_its_holders(db: Database) -> None:
    with db.transaction() as conn:
        book = ledger(conn, "free")
        assert all(book.acquire((1, f"s{i}"), ["free"]) is None for i in range(50))
    with db.transaction() as conn:
        view = permits.tag_views(conn, "free")[0]
        assert (view.limit, len(view.holders)) == (None, 50)
        # A limit set now counts the steps already running.
        permits.set_limit(conn, "free", 10, now=2.0)
        assert ledger(conn, "free").acquire((2, "new"), ["free"]) == "free"
