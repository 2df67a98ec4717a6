"""The event stream of a workflow, or of one of its instances, as server-sent events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from podium.api.context import Context, WorkflowReader, act
from podium.api.event_stream import EventHub, Wanted, follow
from podium.api.query import MAX_ID, OptionalInstance
from podium.errors import InvalidInput
from podium.store import instances as store_instances
from podium.store import workflows as store_workflows
from podium.store.database import Database

router = APIRouter(prefix="/api/v1/workflows/{workflow_id}/events", tags=["events"])

EVENTS_OPENAPI = {
    **act("workflow.read"),
    "responses": {
        "200": {
            "description": (
                "A stream of server-sent events: each has the outbox id as its `id`, the topic "
                "as its `event` and the envelope every event sink receives as its `data`."
            ),
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
}


@router.get("", openapi_extra=EVENTS_OPENAPI, response_class=StreamingResponse)
async def events(
    workflow_id: str,
    request: Request,
    ctx: Context,
    _: WorkflowReader,
    instance: OptionalInstance = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="Send the events after this id first")
    ] = None,
    last_event_id: Annotated[str | None, Header(max_length=32)] = None,
) -> StreamingResponse:
    """Follow the workflow's changes (or one instance's) as they are committed: instance and
    step status, retries, milestones, emitted signals, pushes and activations. A client that
    reconnects with ``Last-Event-ID`` (or ``after``) first gets what it missed."""
    resume = after if after is not None else _event_id(last_event_id)
    await run_in_threadpool(_check_exists, ctx.db, workflow_id, instance)
    hub: EventHub = request.app.state.event_hub
    frames = follow(hub, ctx.db, Wanted(workflow_id, instance), after=resume)
    return StreamingResponse(
        frames,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _event_id(header: str | None) -> int | None:
    if header is None or not header.strip():
        return None
    text = header.strip()
    if not text.isdigit() or int(text) > MAX_ID:
        raise InvalidInput(f"Last-Event-ID must be an event id (a whole number), not {text!r}")
    return int(text)


def _check_exists(db: Database, workflow_id: str, instance_id: int | None) -> None:
    with db.read() as conn:
        store_workflows.get_workflow(conn, workflow_id)
        if instance_id is not None:
            store_instances.find_instance(conn, workflow_id, instance_id)
