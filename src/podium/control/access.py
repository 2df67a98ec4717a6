"""Authorization: the one seam every operation passes through before it changes anything.

PLACEHOLDER: there are no checks yet; :func:`authorize` allows every caller every action.
The next issue (identities) fills it in, here and nowhere else; audit records go here too.
"""

from __future__ import annotations

from typing import Literal

from podium.control.identity import Caller

Action = Literal[
    "workflow.push",
    "workflow.activate",
    "workflow.deactivate",
    "workflow.unblock",
    "instance.start",
    "instance.dry_run",
    "instance.stop",
    "instance.restart",
    "step.skip",
    "step.resume",
    "breakpoint.set",
    "breakpoint.clear",
    "tag.limit",
    "signal.announce",
    "template.register",
]


def authorize(caller: Caller, action: Action, workflow_id: str | None = None) -> None:
    """Allow ``caller`` to do ``action`` (on ``workflow_id``), or raise. Today: allows
    everything (no identities yet); a refusal will raise a PodiumError subclass."""
    del caller, action, workflow_id
