"""The vault: secrets Podium must keep, and secrets it must never show.

Assets and secret params are stored sealed (envelope encryption under rotatable master keys),
so a copied database, backup or log holds nothing usable without the key file; whatever is
shown (logs, params, outputs, the UI) passes a :class:`Redactor` first (design decision 11).
The package is pure apart from reading and writing key files and redacting files in place.
"""

from __future__ import annotations

from podium.vault.envelope import Sealed, rewrap, seal, unseal
from podium.vault.errors import VaultError
from podium.vault.keyring import Keyring, add_key, generate_key_line
from podium.vault.redact import MIN_SECRET_CHARS, REDACTED, Redactor

__all__ = [
    "MIN_SECRET_CHARS",
    "REDACTED",
    "Keyring",
    "Redactor",
    "Sealed",
    "VaultError",
    "add_key",
    "generate_key_line",
    "rewrap",
    "seal",
    "unseal",
]
