"""Assets: files stored sealed that jobs receive in ``$PODIUM_ASSETS`` while they run.

The API stores and lists them and never returns their content; only the worker opens one, at
launch, for a job whose run-as identity may read it (decision 49). Each is sealed under its own
data key wrapped by the primary master key, with its name as the sealing context, so a blob
copied to another row does not open; :func:`rewrap_assets` moves every data key to a new
primary without touching the data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from podium.control.access import audit, authorize
from podium.control.identity import Caller
from podium.control.keys import KEY_HINT, MasterKeyUnavailable, redactor_of
from podium.control.services import Services
from podium.definition.assets import asset_name_problem, asset_size_problem
from podium.definition.fields import principal_name_problem
from podium.errors import InvalidInput, NotFound, PodiumError
from podium.store import assets as store
from podium.store import principals as store_principals
from podium.store import sealed as store_sealed
from podium.store.database import Database
from podium.vault import Keyring, Redactor, Sealed, VaultError, rewrap, seal, unseal
from podium.vault.params import context_of as params_context
from podium.vault.redact import asset_secrets

REWRAP_PAGE = 100
"""Assets re-wrapped per transaction: a rotation never holds the database for long."""


class AssetNotFound(NotFound):
    code = "asset_not_found"


class AssetUnavailable(PodiumError):
    """A job's asset is missing, not the job's to read, or cannot be opened: its step fails
    with this message, as a user error (retrying elsewhere would not change the answer)."""

    code = "asset_unavailable"
    http_status = 403


def checked_asset_name(name: str) -> str:
    problem = asset_name_problem(name)
    if problem is not None:
        raise InvalidInput(problem)
    return name


def seal_context(name: str) -> bytes:
    """What a sealed asset is bound to: its name, so a blob moved to another row fails."""
    return b"asset:" + name.encode("utf-8")


@dataclass(frozen=True)
class Stored:
    asset: store.AssetRow
    created: bool


def put_asset(
    svc: Services,
    name: str,
    content: bytes,
    caller: Caller,
    *,
    owner: str | None = None,
) -> Stored:
    """Store ``content`` sealed as asset ``name``, replacing one of that name.

    A new asset is owned by ``owner`` (default: the caller), whose jobs may read it; naming an
    owner other than yourself or a group of yours, or replacing an asset you do not own,
    needs admin. A replaced asset keeps its owner unless ``owner`` is given.
    """
    name = checked_asset_name(name)
    if owner is not None:
        problem = principal_name_problem(owner, "an asset's owner")
        if problem is not None:
            raise InvalidInput(problem)
    too_large = asset_size_problem(name, len(content))
    if too_large is not None:
        raise InvalidInput(too_large)
    now = svc.clock()
    with svc.db.transaction() as conn:
        authorize(conn, caller, "asset.manage")
        current = store.get_asset(conn, name)
        if current is not None and current.owner not in caller.names:
            authorize(
                conn,
                caller,
                "asset.admin",
                doing=f"replace asset {name!r}, which {current.owner!r} owns",
            )
        new_owner = owner or (current.owner if current is not None else caller.name)
        if new_owner not in caller.names and (current is None or new_owner != current.owner):
            authorize(
                conn,
                caller,
                "asset.admin",
                doing=f"store an asset owned by {new_owner!r}, not itself or its group",
            )
        sealed = seal(svc.keys(), content, context=seal_context(name))
        created = store.put_asset(
            conn,
            name=name,
            owner=new_owner,
            size=len(content),
            sealed=sealed.to_bytes(),
            key_id=sealed.key_id,
            by=caller.recorded_name,
            now=now,
        )
        audit(
            conn,
            caller,
            "asset.put",
            target=f"asset {name}",
            detail={"owner": new_owner, "size": len(content), "created": created},
            now=now,
        )
        row = store.get_asset(conn, name)
    assert row is not None
    return Stored(row, created)


def put_asset_unless_same(
    svc: Services,
    name: str,
    content: bytes,
    caller: Caller,
    *,
    owner: str | None = None,
) -> Stored | None:
    """:func:`put_asset`, unless the asset already holds ``content`` for that owner (None):
    ``podium server --load`` ships the same files at every start."""
    with svc.db.read() as conn:
        current = store.sealed_assets(conn, [checked_asset_name(name)]).get(name)
    if current is not None and (owner is None or owner == current.row.owner):
        try:
            kept = unseal(svc.keys(), Sealed.from_bytes(current.sealed), context=seal_context(name))
        except VaultError:
            kept = None  # under a key that is gone: store it anew
        if kept == content:
            return None
    return put_asset(svc, name, content, caller, owner=owner)


def list_assets(svc: Services, caller: Caller) -> list[store.AssetRow]:
    """Every asset's name, owner, size, key and times: there is no way to read its content."""
    with svc.db.read() as conn:
        authorize(conn, caller, "asset.list")
        return store.list_assets(conn)


def delete_asset(svc: Services, name: str, caller: Caller) -> store.AssetRow:
    """Remove an asset (its owner or an admin); jobs that name it fail from then on."""
    name = checked_asset_name(name)
    now = svc.clock()
    with svc.db.transaction() as conn:
        authorize(conn, caller, "asset.manage")
        current = store.get_asset(conn, name)
        if current is None:
            raise AssetNotFound(f"no asset {name!r}: podium asset list shows them")
        if current.owner not in caller.names:
            authorize(
                conn,
                caller,
                "asset.admin",
                doing=f"remove asset {name!r}, which {current.owner!r} owns",
            )
        store.delete_asset(conn, name)
        audit(conn, caller, "asset.delete", target=f"asset {name}", now=now)
    return current


@dataclass(frozen=True)
class Rewrapped:
    primary_key_id: str
    rewrapped: int
    """Assets whose data key was wrapped anew under the primary key."""
    total: int
    """Assets stored; all of them are now under the primary key."""
    params_rewrapped: int = 0
    """Sealed secret params (of instances and foreach steps) wrapped anew."""

    def as_json(self) -> dict[str, Any]:
        return {
            "primary_key_id": self.primary_key_id,
            "rewrapped": self.rewrapped,
            "total": self.total,
            "params_rewrapped": self.params_rewrapped,
        }


def rewrap_assets(svc: Services, caller: Caller) -> Rewrapped:
    """Wrap the data key of every asset sealed under an older master key under the primary
    one, a page at a time, while jobs keep reading theirs: a row is swapped only if it did not
    change since it was read (an asset put meanwhile is already under the primary key). Once
    it returns, the older keys open nothing and may be removed from the key file."""
    with svc.db.read() as conn:
        authorize(conn, caller, "asset.rewrap")
    keyring = svc.keys()
    primary = keyring.primary_id
    done, after = 0, ""
    while True:
        with svc.db.read() as conn:
            page = store.assets_to_rewrap(conn, primary, after=after, limit=REWRAP_PAGE)
        if not page:
            break
        fresh = [(asset, _rewrapped(keyring, asset, done)) for asset in page]
        with svc.db.transaction() as conn:
            for asset, sealed in fresh:
                done += store.replace_sealed(
                    conn, asset, sealed=sealed.to_bytes(), key_id=sealed.key_id
                )
        after = page[-1].row.name
    params_done = _rewrap_sealed_params(svc, keyring)
    now = svc.clock()
    with svc.db.transaction() as conn:
        authorize(conn, caller, "asset.rewrap")
        total = store.count_assets(conn)
        audit(
            conn,
            caller,
            "asset.rewrap",
            detail={
                "primary_key_id": primary,
                "rewrapped": done,
                "params_rewrapped": params_done,
            },
            now=now,
        )
    return Rewrapped(primary, done, total, params_done)


def _rewrap_sealed_params(svc: Services, keyring: Keyring) -> int:
    """The secret params of instances and foreach steps, under the primary key."""
    done = 0
    after_instance, after_loop = 0, (0, "")
    while True:
        with svc.db.read() as conn:
            page = store_sealed.instances_page(conn, after=after_instance, limit=REWRAP_PAGE)
            page += store_sealed.loops_page(conn, after=after_loop, limit=REWRAP_PAGE)
        fresh = [(found, _rewrapped_params(keyring, found)) for found in page]
        changed = [(found, sealed) for found, sealed in fresh if sealed != found.sealed]
        if changed:
            with svc.db.transaction() as conn:
                done += sum(store_sealed.replace(conn, f, sealed) for f, sealed in changed)
        instances_seen = [f for f in page if f.step_id is None]
        loops_seen = [f for f in page if f.step_id is not None]
        if instances_seen:
            after_instance = instances_seen[-1].instance_pk
        if loops_seen:
            after_loop = (loops_seen[-1].instance_pk, str(loops_seen[-1].step_id))
        if len(instances_seen) < REWRAP_PAGE and len(loops_seen) < REWRAP_PAGE:
            return done


def _rewrapped_params(keyring: Keyring, found: store_sealed.SealedParams) -> str:
    sealed = Sealed.from_text(found.sealed)
    try:
        again = rewrap(keyring, sealed, context=params_context(found.workflow_id))
    except VaultError as exc:
        where = f"instance pk {found.instance_pk}" + (
            f" step {found.step_id!r}" if found.step_id else ""
        )
        raise VaultError(
            f"the secret params of {found.workflow_id!r} ({where}) cannot be re-wrapped: "
            f"{exc.message}; run the rewrap again once it is fixed"
        ) from None
    return found.sealed if again is sealed else again.to_text()


def _rewrapped(keyring: Keyring, asset: store.SealedAsset, done: int) -> Sealed:
    name = asset.row.name
    try:
        return rewrap(keyring, Sealed.from_bytes(asset.sealed), context=seal_context(name))
    except VaultError as exc:
        raise VaultError(
            f"asset {name!r} cannot be re-wrapped: {exc.message} "
            f"({done} assets were re-wrapped before it; run the rewrap again once it is fixed)"
        ) from None


def assets_for_launch(
    db: Database, keys: Callable[[], Keyring], run_as: str | None, names: Sequence[str]
) -> dict[str, bytes]:
    """The plaintext of the assets a job names, by name; AssetUnavailable unless each exists
    and is owned by ``run_as`` (the identity the job runs as) or one of its groups."""
    if not names:
        return {}
    if run_as is None:
        raise AssetUnavailable(
            "this instance records no owner to run its jobs as, so its steps may read no "
            "asset: restart it (it then runs as the workflow's current owner)"
        )
    with db.read() as conn:
        principal = store_principals.get_principal(conn, run_as)
        found = store.sealed_assets(conn, names)
    readers = (run_as, *(principal.groups if principal is not None else ()))
    for name in names:
        asset = found.get(name)
        if asset is None:
            raise AssetUnavailable(
                f"asset {name!r} does not exist: store it with podium asset put {name} FILE "
                f"(owned by {run_as!r}, whom this workflow's jobs run as), or remove it from "
                "the step's assets",
                details={"asset": name},
            )
        if asset.row.owner not in readers:
            raise AssetUnavailable(
                f"asset {name!r} is owned by {asset.row.owner!r}, and this workflow's jobs run "
                f"as {run_as!r}: a job reads only the assets of the identity it runs as or of "
                f"one of its groups. An admin can store it for them with podium asset put "
                f"{name} FILE --owner {run_as}; its owner can, for a group both belong to",
                details={"asset": name, "owner": asset.row.owner, "run_as": run_as},
            )
    try:
        keyring = keys()
    except MasterKeyUnavailable as exc:
        raise AssetUnavailable(f"this worker cannot open assets: {exc.message}") from None
    opened: dict[str, bytes] = {}
    for name in names:
        try:
            opened[name] = unseal(
                keyring, Sealed.from_bytes(found[name].sealed), context=seal_context(name)
            )
        except VaultError as exc:
            raise AssetUnavailable(
                f"asset {name!r} cannot be opened on this worker: {exc.message}. {KEY_HINT}",
                details={"asset": name},
            ) from None
    return opened


def asset_redactor(
    db: Database,
    keys: Callable[[], Keyring],
    run_as: str | None,
    names: Sequence[str],
    redactor: Redactor | None = None,
) -> Redactor | None:
    """``redactor`` (or none) also hiding what a job could print of these assets (see
    :func:`~podium.vault.redact.asset_secrets`); an asset that cannot be opened here adds
    nothing (its job could not read it either)."""
    if not names:
        return redactor
    try:
        opened = assets_for_launch(db, keys, run_as, names)
    except AssetUnavailable:
        return redactor
    found = set().union(*(asset_secrets(content) for content in opened.values()))
    if not found:
        return redactor
    return (redactor or Redactor()).including(found)


def step_redactor(
    svc: Services, row: Any, assets: Sequence[str], *, running: bool
) -> Redactor | None:
    """What a view of a step's files masks: its instance's secret params and, while the job
    runs (its files are masked on disk once it ends), what it could print of its assets."""
    redactor = redactor_of(svc.keys, row.workflow_id, row.sealed_params)
    if not running:
        return redactor
    return asset_redactor(svc.db, svc.keys, row.run_as, assets, redactor)
