"""Tag limits: cap the steps carrying a tag that run at once, across all workflows."""

from __future__ import annotations

from dataclasses import dataclass

from podium.control.access import audit, authorize
from podium.control.identity import Caller
from podium.control.services import Services
from podium.definition.fields import tag_problem
from podium.engine.work import WorkKind, work_row
from podium.errors import InvalidInput
from podium.store import permits, queue


@dataclass(frozen=True)
class LimitRequest:
    tag: str
    limit: int | None
    """How many steps carrying the tag may run at once; None removes the limit."""


def checked_tag(tag: str) -> str:
    """``tag``, or InvalidInput saying what is wrong with it."""
    problem = tag_problem(tag)
    if problem is not None:
        raise InvalidInput(problem)
    return tag


def set_limit(svc: Services, request: LimitRequest, caller: Caller) -> permits.TagView:
    """Set a tag's limit. Steps waiting for it start at once if it rose; if it fell below
    the steps running, they finish and no new one starts until there is room."""
    tag = checked_tag(request.tag)
    now = svc.clock()
    with svc.db.transaction() as conn:
        authorize(conn, caller, "tag.limit")
        granted = permits.set_limit(conn, tag, request.limit, now)
        audit(conn, caller, "tag.limit", target=tag, detail={"limit": request.limit}, now=now)
        queue.add_work(
            conn,
            [work_row(WorkKind.PERMIT, pk, step_id=step_id, due_at=now) for pk, step_id in granted],
        )
        view = permits.tag_views(conn, tag)[0]
    if granted:
        svc.on_work()
    return view
