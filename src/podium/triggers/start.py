"""Starting an instance for a trigger (not a person): the start itself is the operations
layer's (:mod:`podium.control.starts`); these names stay for the callers that fire
triggers (the scheduler, the engine's ``emits`` and signal paths)."""

from __future__ import annotations

from podium.control.starts import TriggerStart as Start
from podium.control.starts import start_active, start_for_trigger, start_many, trigger_name

__all__ = ["Start", "start_active", "start_for_trigger", "start_many", "trigger_name"]
