"""Who asks for a change: a principal and the roles it holds, as authentication found it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

from podium.errors import InvalidInput

CallerKind = Literal["user", "service", "server"]


class Role(IntEnum):
    """Each role can do everything the ones below it can."""

    VIEWER = 1
    OPERATOR = 2
    OWNER = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str | None, *, allow_admin: bool = True) -> Role:
        names = [r.label for r in cls if allow_admin or r is not cls.ADMIN]
        if text is None or text.lower() not in names:
            raise InvalidInput(f"unknown role {text!r}: use one of {', '.join(names)}")
        return cls[text.upper()]

    @classmethod
    def of(cls, text: str | None) -> Role | None:
        """A stored role (None for none)."""
        return cls[text.upper()] if text else None


@dataclass(frozen=True)
class Caller:
    """The identity a change is made for.

    ``role`` is the principal's global role (None: only what it was granted per workflow);
    a token narrows it: ``cap`` is the most the token may do, ``workflows`` where (None:
    everywhere). ``groups`` are matched like the name in ``owner:`` and ``access:``.
    """

    name: str
    kind: CallerKind
    role: Role | None = None
    groups: tuple[str, ...] = ()
    cap: Role | None = None
    workflows: frozenset[str] | None = None
    via: str | None = None
    """How it authenticated: ``token NAME``, ``oidc``, ``local`` (authentication off)."""

    @property
    def names(self) -> tuple[str, ...]:
        """The names a grant or an owner may use for this caller: its own, then its groups."""
        return (self.name, *self.groups)

    @property
    def recorded_name(self) -> str | None:
        """The name stored as ``created_by`` and in the audit trail."""
        return self.name

    def capped(self, role: Role | None) -> Role | None:
        if role is None or self.cap is None:
            return role
        return min(role, self.cap)


def server_caller(name: str) -> Caller:
    """The process itself acting for the person who started it (``podium server --load``)."""
    return Caller(name, "server", Role.ADMIN, via="server")


def caller_named(name: str) -> Caller:
    """A caller trusted by its name alone, as when authentication is off: an admin."""
    return Caller(name, "user", Role.ADMIN, via="local")
