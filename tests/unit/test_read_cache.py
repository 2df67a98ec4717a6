"""The status reads' cache holds a bounded amount, whatever the documents it is given."""

from __future__ import annotations

from types import SimpleNamespace

from podium.api.routes_instances import _Bounded, _ReadCache


def test_the_oldest_entries_go_once_the_weights_pass_the_budget() -> None:
    bounded = _Bounded(10)
    for key in range(5):
        bounded.put(key, f"v{key}", 3)
    assert [bounded.get(key) for key in range(5)] == [None, None, "v2", "v3", "v4"]
    bounded.put(4, "again", 9)  # the same key weighs anew
    assert [bounded.get(key) for key in range(5)] == [None, None, None, None, "again"]


def test_an_ended_document_is_kept_only_while_small_and_unchanged() -> None:
    cache = _ReadCache()
    row = SimpleNamespace(pk=1, status="SUCCEEDED", started_at=1.0, ended_at=2.0, version=1)
    cache.remember_ended(row, {"steps": []})
    assert cache.ended_document(row) == {"steps": []}
    restarted = SimpleNamespace(**{**vars(row), "status": "IN_PROGRESS"})
    assert cache.ended_document(restarted) is None
    ended_again = SimpleNamespace(**{**vars(row), "ended_at": 3.0})
    assert cache.ended_document(ended_again) is None
    huge = SimpleNamespace(**{**vars(row), "pk": 2})
    cache.remember_ended(huge, {"steps": ["x" * _ReadCache.DOCUMENT_MAX]})
    assert cache.ended_document(huge) is None
