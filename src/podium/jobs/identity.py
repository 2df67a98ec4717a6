"""Who a job runs as: the workflow owner's OS user, when the worker may switch to it.

A root worker runs each job as the OS user its owner is mapped to, so a job can touch only
what that user may; a worker that is not root cannot switch and runs every job as itself.
Switching happens inside the shim, with util-linux ``setpriv`` in front of the job's command,
so the shim stays root and can still record the pid and exit files where the job cannot.
"""

from __future__ import annotations

import os
import pwd
import shutil
from dataclasses import dataclass
from functools import cache

from podium.jobs.base import LaunchFailed

DEFAULT_SETPRIV = "/usr/bin/setpriv"


@dataclass(frozen=True)
class RunAs:
    """The OS identity of a job: ``name`` is the Podium identity (``PODIUM_USER``), the rest
    the OS user it is mapped to."""

    name: str
    os_user: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    """Supplementary groups (``os.getgrouplist``; the primary group is among them)."""
    home: str


def os_identity(podium_name: str, os_user: str) -> RunAs:
    """The identity of ``os_user`` from the password and group databases."""
    try:
        entry = pwd.getpwnam(os_user)
    except KeyError:
        raise LaunchFailed(
            f"there is no OS user {os_user!r} on this worker's host (the Podium user "
            f"{podium_name!r} is mapped to it): create it (useradd {os_user}) or map "
            f"{podium_name!r} to an existing OS user",
            details={"podium_user": podium_name, "os_user": os_user},
        ) from None
    groups = tuple(dict.fromkeys(os.getgrouplist(entry.pw_name, entry.pw_gid)))
    return RunAs(
        name=podium_name,
        os_user=entry.pw_name,
        uid=entry.pw_uid,
        gid=entry.pw_gid,
        groups=groups,
        home=entry.pw_dir,
    )


def switching_users() -> bool:
    """True when this process may run jobs as other users: it is root."""
    return os.geteuid() == 0


def switches_to(run_as: RunAs | None) -> RunAs | None:
    """The identity a job is switched to: None when it runs as the worker itself (no
    ``run_as``, a worker that is not root, or ``run_as`` is root)."""
    if run_as is None or run_as.uid == 0 or not switching_users():
        return None
    return run_as


def setpriv_prefix(run_as: RunAs) -> list[str]:
    """``setpriv`` switching real, effective and saved uid and gid and the groups, then exec."""
    groups = ",".join(str(g) for g in run_as.groups)
    return [
        setpriv_path(),
        f"--reuid={run_as.uid}",
        f"--regid={run_as.gid}",
        f"--groups={groups}" if groups else "--clear-groups",
        "--",
    ]


@cache
def setpriv_path() -> str:
    found = shutil.which("setpriv") or DEFAULT_SETPRIV
    if not os.access(found, os.X_OK):
        raise LaunchFailed(
            "setpriv (util-linux) is not installed on this worker's host; a root worker needs "
            "it to run jobs as their owners' OS users: install util-linux"
        )
    return found
