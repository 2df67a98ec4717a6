"""Who asks for a change: a placeholder until identities land (the next issue)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CallerKind = Literal["user", "anonymous", "server", "trigger"]


@dataclass(frozen=True)
class Caller:
    """The identity a change is made for. Today ``name`` is what the client says it is
    (the CLI sends its login name as ``X-Podium-User``): nothing checks it yet."""

    name: str
    kind: CallerKind

    @property
    def recorded_name(self) -> str | None:
        """The name stored as ``created_by``: None for a caller nobody named (as before
        identities, an anonymous push stores no author)."""
        return self.name if self.kind in ("user", "server") else None


ANONYMOUS = Caller("anonymous", "anonymous")
TRIGGER = Caller("trigger", "trigger")


def caller_named(name: str | None) -> Caller:
    """The caller a client names (``X-Podium-User``), or the anonymous one."""
    return Caller(name, "user") if name else ANONYMOUS
