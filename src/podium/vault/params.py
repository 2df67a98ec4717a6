"""Secret params: stored sealed, shown masked, opened only by the engine that runs them.

An instance's ``params`` column holds what anyone may see: a param declared ``secret: true``
is ``[secret]``, and any other value that contains a secret (``dsn: "pg://u:${ pw }@db"``) is
masked. The real values of those params sit sealed beside it (``sealed_params``) with the
list of strings to hide, which child instances (foreach iterations, subworkflows) inherit, so
a secret passed on under another name stays hidden there too. Instances without secrets have
no sealed value and cost nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from podium.vault.envelope import Sealed, seal, unseal
from podium.vault.errors import VaultError
from podium.vault.keyring import Keyring
from podium.vault.redact import REDACTED, Redactor


@dataclass(frozen=True)
class Secrets:
    """What an instance must hide: the strings, and the real values of its masked params."""

    hide: frozenset[str]
    values: Mapping[str, Any]

    @cached_property
    def redactor(self) -> Redactor:
        return Redactor(self.hide)


def hidden_strings(value: Any) -> set[str]:
    """The texts that give a secret value away: each string in it, and the JSON of the rest
    (a numeric PIN shows as ``1234`` in a log). The keys of a mapping name its parts
    (``password``) and are not hidden."""
    found: set[str] = set()
    if value is None or isinstance(value, bool):
        return found
    if isinstance(value, str):
        found.add(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            found |= hidden_strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            found |= hidden_strings(item)
    else:
        found.add(json.dumps(value))
    return {text for text in found if text}


def context_of(workflow_id: str) -> bytes:
    """What sealed params are bound to: their workflow, so a blob moved to another fails."""
    return b"params:" + workflow_id.encode("utf-8")


def mask_params(
    params: Mapping[str, Any], secret: Collection[str], *, hide: Iterable[str] = ()
) -> tuple[dict[str, Any], Secrets | None]:
    """(the params as shown, what they hide, or None when nothing is secret).

    ``secret`` names the params declared secret; ``hide`` adds strings inherited from a parent.
    """
    strings = set(hide)
    for name in secret:
        strings |= hidden_strings(params.get(name))
    if not strings:
        return dict(params), None
    redactor = Redactor(strings)
    shown: dict[str, Any] = {}
    real: dict[str, Any] = {}
    for name, value in params.items():
        if name in secret and value is not None:
            shown[name] = REDACTED
        else:
            shown[name] = redactor.json(value)
        if shown[name] != value:
            real[name] = value
    return shown, Secrets(frozenset(strings), real)


def seal_params(
    keys: Callable[[], Keyring],
    workflow_id: str,
    params: Mapping[str, Any],
    secret: Collection[str],
    *,
    hide: Iterable[str] = (),
) -> tuple[dict[str, Any], str | None]:
    """(the params as stored and shown, their secrets sealed, or None when there are none).
    ``keys`` is only called when there is something to seal."""
    shown, secrets = mask_params(params, secret, hide=hide)
    if secrets is None:
        return shown, None
    return shown, seal_secrets(keys(), workflow_id, secrets)


def seal_secrets(keyring: Keyring, workflow_id: str, secrets: Secrets) -> str:
    document = {"hide": sorted(secrets.hide), "values": dict(secrets.values)}
    plaintext = json.dumps(document, ensure_ascii=False).encode("utf-8")
    return seal(keyring, plaintext, context=context_of(workflow_id)).to_text()


def open_secrets(keyring: Keyring, workflow_id: str, sealed: str) -> Secrets:
    """The secrets sealed for ``workflow_id``; VaultError when they cannot be opened."""
    plaintext = unseal(keyring, Sealed.from_text(sealed), context=context_of(workflow_id))
    try:
        document = json.loads(plaintext)
        hide = frozenset(str(text) for text in document["hide"])
        values = dict(document["values"])
    except (ValueError, KeyError, TypeError):
        raise VaultError("sealed params are malformed: not the document Podium seals") from None
    return Secrets(hide, values)


def open_params(
    keyring: Keyring, workflow_id: str, shown: Mapping[str, Any], sealed: str
) -> tuple[dict[str, Any], Secrets]:
    """The real params of an instance (``shown`` with its sealed values put back)."""
    secrets = open_secrets(keyring, workflow_id, sealed)
    return {**shown, **secrets.values}, secrets
