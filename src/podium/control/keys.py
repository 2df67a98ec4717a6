"""The master keys of a process: loaded on first use, shared by everything that seals.

Assets and secret params are sealed under them (:mod:`podium.vault`); the API and every worker
need the same keys.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from podium.config import podium_home
from podium.errors import PodiumError
from podium.vault import Keyring, Redactor
from podium.vault.keyring import ENV_KEY_FILE, ENV_KEYS
from podium.vault.params import open_secrets

KEY_HINT = (
    f"set {ENV_KEYS}=ID:BASE64URL (the first key seals, the others still open), or "
    f"{ENV_KEY_FILE}=PATH to a key file (one `ID BASE64URL` a line, the last one seals; "
    "podium keys add appends one), or unset both to use PODIUM_HOME/master.key, created on "
    "first use; the API and every worker need the same keys"
)


class MasterKeyUnavailable(PodiumError):
    """The process cannot load its master keys: the operator's configuration, not the caller's."""

    code = "master_key_unavailable"
    http_status = 500


class MasterKeys:
    """The master keyring of this process, loaded on first use (a server that seals no asset
    and no secret param needs no key), then kept: a ring read from a key file follows the file while it runs."""

    def __init__(self, load: Callable[[], Keyring] | None = None) -> None:
        self._load = load or (lambda: Keyring.from_env(podium_home()))
        self._lock = threading.Lock()
        self._keyring: Keyring | None = None

    def __call__(self) -> Keyring:
        with self._lock:
            if self._keyring is None:
                try:
                    self._keyring = self._load()
                except PodiumError as exc:
                    raise MasterKeyUnavailable(
                        "cannot load the master keys that seal assets and secret params: "
                        f"{exc.message}. {KEY_HINT}"
                    ) from None
            return self._keyring


def redactor_of(
    keys: Callable[[], Keyring], workflow_id: str, sealed: str | None
) -> Redactor | None:
    """What an instance hides (from its ``sealed_params``), or None when it has no secrets."""
    if not sealed:
        return None
    return open_secrets(keys(), workflow_id, sealed).redactor
