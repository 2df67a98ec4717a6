"""Whom a job runs as: the identity its instance runs as (the workflow's owner when it was
created), and on a root worker the OS user that identity is mapped to.

A worker that is not root runs every job as itself, with ``PODIUM_USER`` naming the owner. A
root worker never runs a job as root by default: an owner mapped to no OS user (nor any of its
groups) makes its steps fail with what to do. An admin who wants root jobs maps the owner to
``root``, explicitly (``podium user os-user NAME root``); the operator of the worker may name
one login for every unmapped owner (``PODIUM_RUN_UNMAPPED_AS``).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass

from podium import jobs
from podium.control.workflows import os_user
from podium.store import principals as store_principals
from podium.store.database import Database

MAPPING_TTL_S = 10.0
"""How long a worker keeps a looked-up mapping: a changed mapping applies within this time."""


@dataclass(frozen=True)
class Refusal:
    """Why a job may not run: the step fails with this (no platform retry: only an admin's
    mapping changes the answer)."""

    message: str


class RunAsResolver:
    """Looks up (and briefly caches) the OS user of a Podium identity, for one worker."""

    def __init__(self, db: Database, *, unmapped: str | None = None) -> None:
        """``unmapped``: the OS login of owners mapped to none (an operator's choice,
        ``PODIUM_RUN_UNMAPPED_AS``); None refuses their jobs."""
        self._db = db
        self._unmapped = unmapped
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._own: jobs.RunAs | None = None

    def run_as(self, name: str | None) -> jobs.RunAs | Refusal | None:
        """The identity of a job of ``name``; None when there is nobody to run as (an
        instance created before identities existed, on a worker that is not root)."""
        if not jobs.switching_users():
            own = self._own_identity()
            return None if name is None or own is None else dataclasses.replace(own, name=name)
        os_user = (self._os_user(name) if name is not None else None) or self._unmapped
        if os_user is None and name is None:
            return Refusal(
                "this instance records no owner to run its jobs as, and the worker runs as "
                "root: start a new instance (it runs as the workflow's owner), or the operator "
                "sets PODIUM_RUN_UNMAPPED_AS"
            )
        if os_user is None:
            return Refusal(
                f"the worker runs as root and {name!r} (the owner these jobs run as) is mapped "
                f"to no OS user: an admin maps it with podium user os-user {name} LOGIN "
                f"(LOGIN root lets its jobs run as root), or the operator sets "
                "PODIUM_RUN_UNMAPPED_AS for every unmapped owner"
            )
        try:
            return jobs.os_identity(name or os_user, os_user)
        except jobs.LaunchFailed as exc:
            return Refusal(str(exc))

    def _os_user(self, name: str) -> str | None:
        now = time.monotonic()
        with self._lock:
            found = self._cache.get(name)
        if found is not None and now - found[0] < MAPPING_TTL_S:
            return found[1]
        with self._db.read() as conn:
            principal = store_principals.get_principal(conn, name)
            groups = list(principal.groups) if principal is not None else []
            os_user = store_principals.os_user_of(conn, [name, *groups])
        with self._lock:
            self._cache[name] = (now, os_user)
        return os_user

    def _own_identity(self) -> jobs.RunAs | None:
        """This process's own OS identity, looked up once."""
        if self._own is None:
            login = os_user()
            if login is None:
                return None
            try:
                self._own = jobs.os_identity("", login)
            except jobs.LaunchFailed:
                return None
        return self._own
