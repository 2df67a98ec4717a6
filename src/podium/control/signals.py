"""Announcing a signal: start the workflows whose signal trigger it completes (through the
one start path) and release the steps waiting for it, in one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from podium.control.access import audit, authorize
from podium.control.identity import Caller
from podium.control.services import Services
from podium.control.starts import start_for_trigger
from podium.definition.fields import signal_name_problem
from podium.errors import InvalidInput
from podium.store import Connection
from podium.store import signals as store_signals
from podium.store.trigger_failures import TriggerFailure


@dataclass(frozen=True)
class AnnounceRequest:
    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    request_id: str | None = None
    """Announcing again with the same request id does nothing a second time."""


def announce(svc: Services, request: AnnounceRequest, caller: Caller) -> store_signals.Announced:
    """Store the signal and act on it; ``failed`` in the result lists the workflows it
    could not start (their params did not resolve): the signal is stored all the same."""
    problem = signal_name_problem(request.name)
    if problem is not None:
        raise InvalidInput(problem)
    now = svc.clock()

    def start(
        conn: Connection, workflow_id: str, trigger: dict[str, Any]
    ) -> int | TriggerFailure | None:
        return start_for_trigger(conn, workflow_id, trigger, now=now, budgets=svc.budgets)

    def announce_in(conn: Connection) -> store_signals.Announced:
        authorize(conn, caller, "signal.announce")
        done = store_signals.announce(
            conn,
            request.name,
            request.params,
            now=now,
            start_instance=start,
            request_id=request.request_id,
        )
        audit(
            conn,
            caller,
            "signal.announce",
            target=f"{request.name} #{done.signal.seq}",
            detail={"duplicate": done.duplicate, "started": len(done.started)},
            now=now,
        )
        return done

    done = svc.db.run_transaction(announce_in)
    if done.started or done.released:
        svc.on_work()
    return done
