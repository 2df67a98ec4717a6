"""The one error the vault raises when a sealed value cannot be opened or trusted."""

from __future__ import annotations

from podium.errors import PodiumError


class VaultError(PodiumError):
    """A sealed value is malformed, was tampered with, belongs elsewhere, or its key is gone.

    The message says which, and never holds key material or plaintext.
    """

    code = "vault_error"
    http_status = 500
