"""Workflows: push (the one path from a validated model to a stored version), activate,
deactivate, unblock; and loading definition files at server start."""

from __future__ import annotations

import dataclasses
import getpass
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from podium.control import changes
from podium.control.access import audit, authorize
from podium.control.assets import put_asset_unless_same
from podium.control.identity import Caller, server_caller
from podium.control.services import Services
from podium.definition import (
    Workflow,
    canonical_yaml,
    definition_json,
    load_workflow,
)
from podium.definition.assets import shipped_asset_files
from podium.definition.expressions import script_warnings
from podium.definition.problems import Problem
from podium.engine.work import WorkKind, work_row
from podium.errors import (
    Conflict,
    InvalidDefinition,
    InvalidInput,
    VersionNotFound,
    WorkflowNotFound,
)
from podium.job_templates.registry import server_catalog
from podium.store import Connection, permits, queue
from podium.store import access as store_access
from podium.store import admission as store_admission
from podium.store import workflows as store_workflows
from podium.store.database import Database

log = logging.getLogger("podium.catalog")  # the name its log lines always had


@dataclass(frozen=True)
class Pushed:
    workflow_id: str
    version: int
    active: bool
    created: bool
    warnings: tuple[Problem, ...] = ()
    """Valid but dangerous (see :func:`script_warnings`): told to whoever pushed."""


@dataclass(frozen=True)
class PushRequest:
    """A definition as YAML text; ``active`` makes the new version the active one."""

    yaml: str
    active: bool = True


def push(svc: Services, request: PushRequest, caller: Caller, *, now: float) -> Pushed:
    """Validate a definition (against this server's templates) and store it as the
    workflow's next version."""
    wf = load_workflow(request.yaml, source="request", templates=server_catalog(svc.db))
    pushed = push_workflow(svc.db, wf, caller, active=request.active, now=now)
    return dataclasses.replace(pushed, warnings=tuple(script_warnings(wf)))


def push_workflow(
    db: Database,
    wf: Workflow,
    caller: Caller,
    *,
    active: bool,
    now: float,
    skip_unchanged: bool = False,
) -> Pushed:
    """Store ``wf`` as the next version; with ``skip_unchanged``, an identical latest version
    is reused instead (so reloading the same files at every start adds nothing).

    A definition without ``owner:`` keeps the workflow's owner, or is owned by whoever
    creates it. Pushing needs the owner role on the workflow (creating one, operator on the
    server), and naming an owner other than yourself or your group needs admin: the owner
    is the identity its jobs run as.
    """
    created_by = caller.recorded_name
    text = canonical_yaml(wf)
    with db.transaction() as conn:
        try:
            current: store_workflows.WorkflowRow | None = store_workflows.get_workflow(conn, wf.id)
        except WorkflowNotFound:
            current = None
        authorize(conn, caller, "workflow.push" if current else "workflow.create", wf.id)
        owner = wf.owner or (current.owner if current else None) or created_by
        if owner not in caller.names and (current is None or owner != current.owner):
            authorize(
                conn,
                caller,
                "workflow.push_owner",
                doing=f"push a definition whose owner is {owner!r}, not itself or its group",
            )
        check_subworkflow_cycles(conn, wf)
        if skip_unchanged and current is not None:
            latest = store_workflows.get_version(conn, wf.id, current.latest_version)
            if latest.canonical_yaml == text:
                return Pushed(
                    wf.id, latest.version, current.active_version == latest.version, False
                )
        version = store_workflows.push_version(
            conn,
            workflow_id=wf.id,
            canonical_yaml=text,
            definition=definition_json(wf),
            owner=owner,
            description=wf.description,
            created_by=created_by,
            activate=active,
            now=now,
        )
        store_access.replace_definition_access(conn, wf.id, wf.access, by=created_by, now=now)
        permits.known_tags(conn, _step_tags(wf.steps), now)
        audit(
            conn,
            caller,
            "workflow.push",
            workflow_id=wf.id,
            target=f"version {version}",
            detail={"version": version, "active": active, "owner": owner},
            now=now,
        )
    if active:
        changes.announce()
    return Pushed(wf.id, version, active, True)


def _step_tags(steps: Any) -> set[str]:
    """Every concurrency tag the steps (and the steps of their foreach loops) carry."""
    found: set[str] = set()
    for step in steps:
        found.update(step.tags)
        if step.foreach is not None and step.foreach.steps:
            found |= _step_tags(step.foreach.steps)
    return found


def _called(definition: dict[str, Any]) -> list[tuple[str, str]]:
    """(location, workflow) of every subworkflow a definition calls."""
    found = []
    for index, step in enumerate(definition.get("steps") or []):
        if step.get("subworkflow"):
            found.append((f"steps[{index}].subworkflow", str(step["subworkflow"]["workflow"])))
        each = step.get("foreach") or {}
        if each.get("subworkflow"):
            found.append(
                (f"steps[{index}].foreach.subworkflow", str(each["subworkflow"]["workflow"]))
            )
        for inner, sub in _called({"steps": each.get("steps") or []}):
            found.append((f"steps[{index}].foreach.{inner}", sub))
    return found


def check_subworkflow_cycles(conn: Connection, wf: Workflow) -> None:
    """Refuse a workflow that would call itself through its subworkflows (as they are
    stored now: their active versions, else their latest)."""
    problems = []
    for location, called in _called(definition_json(wf)):
        path = _path_back(conn, called, wf.id, [wf.id, called], set())
        if path:
            message = f"subworkflow cycle: {' -> '.join(path)}; a workflow cannot call itself"
            problems.append({"location": location, "message": message})
    if problems:
        raise InvalidDefinition(
            f"workflow {wf.id!r} would call itself; nothing was stored", problems
        )


def _path_back(
    conn: Connection, current: str, target: str, path: list[str], seen: set[str]
) -> list[str] | None:
    if current == target:
        return path
    if current in seen:
        return None
    seen.add(current)
    try:
        row = store_workflows.get_workflow(conn, current)
    except WorkflowNotFound:
        return None
    definition = store_workflows.get_version(
        conn, current, row.active_version or row.latest_version
    ).definition
    for _, called in _called(definition):
        found = _path_back(conn, called, target, [*path, called], seen)
        if found:
            return found
    return None


def workflow_files(paths: list[Path]) -> list[Path]:
    """The YAML files named, or found directly inside the directories named."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml")))
        elif path.is_file():
            files.append(path)
        else:
            raise InvalidInput(f"{path}: no such file or directory")
    return files


def read_definition_text(path: Path) -> str:
    """The text of a definition file; a file that is not UTF-8 text is bad input, said so."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{path} is not a UTF-8 text file (byte {exc.object[exc.start]:#04x} at offset "
            f"{exc.start}); a workflow definition is a YAML text file"
        ) from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None


def load_files(db: Database, paths: list[Path], *, now: float) -> list[Pushed]:
    """Push every definition found at ``paths`` whose text changed since its latest version."""
    pushed = []
    templates = server_catalog(db)
    # The user who started the server pushes the files it loads.
    pusher = server_caller(os_user() or "podium-server")
    svc = Services(db, clock=lambda: now)
    for path in workflow_files(paths):
        text = read_definition_text(path)
        wf = load_workflow(text, source=str(path), base_dir=path.parent, templates=templates)
        for shipped in shipped_asset_files(text, path.parent):
            content = read_asset_file(shipped.path)
            put_asset_unless_same(svc, shipped.name, content, pusher, owner=wf.owner)
        result = push_workflow(db, wf, pusher, active=True, now=now, skip_unchanged=True)
        log.debug(
            "loaded workflow",
            extra={
                "event": "catalog.load",
                "workflow_id": wf.id,
                "version": result.version,
                "new_version": result.created,
            },
        )
        pushed.append(result)
    log.info(
        f"loaded {len(pushed)} workflows ({sum(p.created for p in pushed)} new versions)",
        extra={
            "event": "catalog.loaded",
            "workflows": len(pushed),
            "new_versions": [f"{p.workflow_id} v{p.version}" for p in pushed if p.created],
        },
    )
    return pushed


def read_asset_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read asset file {path}: {exc.strerror or exc}") from None


def os_user() -> str | None:
    """The login name of this process's user: who pushes what ``podium server --load`` loads."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None


@dataclass(frozen=True)
class Activated:
    workflow_id: str
    active_version: int | None
    latest_version: int


def activate(
    svc: Services, workflow_id: str, caller: Caller, version: int | None = None
) -> Activated:
    """Make a version the active one (the latest when none is named): also the rollback."""
    with svc.db.transaction() as conn:
        authorize(conn, caller, "workflow.activate", workflow_id)
        wf = store_workflows.get_workflow(conn, workflow_id)
        target = version if version is not None else wf.latest_version
        wf = store_workflows.set_active_version(conn, workflow_id, target, now=svc.clock())
        audit(
            conn,
            caller,
            "workflow.activate",
            workflow_id=workflow_id,
            target=f"version {target}",
            now=svc.clock(),
        )
    changes.announce()
    return Activated(workflow_id, wf.active_version, wf.latest_version)


def deactivate(svc: Services, workflow_id: str, caller: Caller) -> Activated:
    """No version active: no trigger starts it and a run must name a version."""
    with svc.db.transaction() as conn:
        authorize(conn, caller, "workflow.deactivate", workflow_id)
        wf = store_workflows.set_active_version(conn, workflow_id, None, now=svc.clock())
        audit(conn, caller, "workflow.deactivate", workflow_id=workflow_id, now=svc.clock())
    changes.announce()
    return Activated(workflow_id, None, wf.latest_version)


def unblock(svc: Services, workflow_id: str, caller: Caller) -> int:
    """strict_sequential: let the instances queued behind failed ones start; the instance
    number it is unblocked through."""
    with svc.db.transaction() as conn:
        authorize(conn, caller, "workflow.unblock", workflow_id)
        through = store_workflows.unblock(conn, workflow_id)
        audit(
            conn,
            caller,
            "workflow.unblock",
            workflow_id=workflow_id,
            detail={"through": through},
            now=svc.clock(),
        )
        for pk, _ in store_admission.queued_instances(conn, workflow_id, 1):
            queue.add_work(conn, [work_row(WorkKind.ADMIT, pk, due_at=svc.clock())])
    svc.on_work()
    return through


class HasVersions(Protocol):
    @property
    def workflow_id(self) -> str: ...
    @property
    def active_version(self) -> int | None: ...
    @property
    def latest_version(self) -> int: ...


def version_number(wf: HasVersions, version: int | str | None) -> int:
    """A version as a user names it (a number, ``active``, ``latest``) as a number."""
    if version is None or version == "active":
        if wf.active_version is None:
            raise Conflict(
                f"workflow {wf.workflow_id!r} is inactive; activate it or name a version "
                "(--version N or latest)"
            )
        return wf.active_version
    if version == "latest":
        return wf.latest_version
    try:
        number = int(version)
    except ValueError:
        raise InvalidInput(
            f"version must be a number, 'active' or 'latest', not {version!r}"
        ) from None
    if not 1 <= number <= wf.latest_version:
        raise VersionNotFound(
            f"workflow {wf.workflow_id!r} has versions 1 to {wf.latest_version}, not {number}"
        )
    return number
