"""What a timeline row or an outbox event says happened: one name per kind of change.

The stored text is the value (``step.status``), so the outbox, the timeline and the event
stream's consumers see the names docs/events.md lists.
"""

from __future__ import annotations

from enum import StrEnum


class Topic(StrEnum):
    INSTANCE_STATUS = "instance.status"
    INSTANCE_RESTART = "instance.restart"
    STEP_STATUS = "step.status"
    STEP_RETRY = "step.retry"
    STEP_RESUMED = "step.resumed"
    STEP_MILESTONE = "step.milestone"
    STEP_EMITTED = "step.emitted"
    STEP_EMIT_FAILED = "step.emit_failed"
    STEP_ITERATION_FAILED = "step.iteration_failed"
    SIGNAL_ANNOUNCED = "signal.announced"
    TRIGGER_FAILED = "trigger.failed"
    WORKFLOW_PUSHED = "workflow.pushed"
    WORKFLOW_ACTIVATED = "workflow.activated"
    WORKFLOW_DEACTIVATED = "workflow.deactivated"
    AUDIT = "audit.change"
