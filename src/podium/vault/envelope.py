"""Envelope encryption: each value under its own data key, each data key under a master key.

A fresh data key per seal keeps every value independent, and wrapping it under a master key
makes rotation cheap: :func:`rewrap` re-encrypts 32 bytes, never the data. The caller's
``context`` (say ``b"asset:<workflow>/<name>"``) is authenticated with both layers, so a
blob copied to another row, or a wrapped key swapped between blobs, fails to open.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import struct
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from podium.errors import InvalidInput
from podium.vault.errors import VaultError
from podium.vault.keyring import KEY_ID_PATTERN, Keyring

MAGIC = b"PSV1"
"""The first bytes of every sealed blob: Podium Sealed Value, format 1."""

NONCE_BYTES = 12
TAG_BYTES = 16
DATA_KEY_BYTES = 32
WRAPPED_KEY_BYTES = NONCE_BYTES + DATA_KEY_BYTES + TAG_BYTES
"""A wrapped data key holds its own nonce, then the encrypted key and its tag."""

MAX_PLAINTEXT_BYTES = 2**31 - 1 - TAG_BYTES
"""AES-GCM as ``cryptography`` offers it takes at most 2**31 - 1 bytes at once."""

MAX_CONTEXT_BYTES = 4096
"""A context names where a value lives; it is short."""

_LENGTH = struct.Struct(">I")
_WRAP_DOMAIN = b"podium-vault/wrap/v1\x00"
_BASE64URL = re.compile(rb"[A-Za-z0-9_-]*={0,2}")


@dataclass(frozen=True)
class Sealed:
    """One sealed value: which master key wraps its data key, the wrapped key, and the data.

    ``wrapped_key`` is ``wrap nonce || encrypted data key || tag``; ``nonce`` is the data's.
    Building one checks the field sizes, so a malformed blob fails here, not deep in AES.
    """

    key_id: str
    wrapped_key: bytes = field(repr=False)
    nonce: bytes = field(repr=False)
    ciphertext: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.key_id, str) or not KEY_ID_PATTERN.fullmatch(self.key_id):
            raise VaultError("sealed value is malformed: its master key id is not a valid id")
        for name, value, size in (
            ("wrapped key", self.wrapped_key, WRAPPED_KEY_BYTES),
            ("nonce", self.nonce, NONCE_BYTES),
        ):
            if not isinstance(value, bytes) or len(value) != size:
                raise VaultError(f"sealed value is malformed: its {name} is not {size} bytes")
        if not isinstance(self.ciphertext, bytes) or len(self.ciphertext) < TAG_BYTES:
            raise VaultError(
                f"sealed value is malformed: its ciphertext is shorter than a {TAG_BYTES}-byte tag"
            )

    def to_bytes(self) -> bytes:
        """``PSV1`` then each field as a 4-byte big-endian length and its bytes."""
        parts = [MAGIC]
        for value in (self.key_id.encode("ascii"), self.wrapped_key, self.nonce, self.ciphertext):
            parts.append(_LENGTH.pack(len(value)))
            parts.append(value)
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, blob: bytes) -> Sealed:
        view = memoryview(blob)
        if bytes(view[: len(MAGIC)]) != MAGIC:
            raise VaultError(
                "sealed value is malformed: it does not start with b'PSV1' "
                "(not a Podium sealed value, or a newer format)"
            )
        offset = len(MAGIC)
        fields: list[bytes] = []
        for name in ("key id", "wrapped key", "nonce", "ciphertext"):
            if len(view) - offset < _LENGTH.size:
                raise VaultError(f"sealed value is malformed: it ends before its {name}")
            (size,) = _LENGTH.unpack_from(view, offset)
            offset += _LENGTH.size
            if size > len(view) - offset:
                raise VaultError(f"sealed value is malformed: its {name} is cut short")
            fields.append(bytes(view[offset : offset + size]))
            offset += size
        if offset != len(view):
            raise VaultError("sealed value is malformed: bytes follow its last field")
        try:
            key_id = fields[0].decode("ascii")
        except UnicodeDecodeError:
            raise VaultError("sealed value is malformed: its master key id is not ASCII") from None
        return cls(key_id, fields[1], fields[2], fields[3])

    def to_text(self) -> str:
        """Base64url of :meth:`to_bytes`, for a JSON or text column."""
        return base64.urlsafe_b64encode(self.to_bytes()).decode("ascii")

    @classmethod
    def from_text(cls, text: str) -> Sealed:
        raw = text.strip().encode("ascii", errors="replace")
        if not _BASE64URL.fullmatch(raw):
            raise VaultError("sealed value is malformed: its text is not base64url")
        raw = raw.rstrip(b"=")
        try:
            blob = base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
        except (binascii.Error, ValueError):
            raise VaultError("sealed value is malformed: its text is not base64url") from None
        return cls.from_bytes(blob)


def seal(keyring: Keyring, plaintext: bytes, *, context: bytes) -> Sealed:
    """Encrypt ``plaintext`` under a fresh data key wrapped by the keyring's primary key."""
    _check_sizes(plaintext, context)
    key_id, master = keyring.primary()
    data_key = AESGCM.generate_key(bit_length=DATA_KEY_BYTES * 8)
    nonce = secrets.token_bytes(NONCE_BYTES)
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, context)
    return Sealed(key_id, _wrap(master, key_id, data_key, context), nonce, ciphertext)


def unseal(keyring: Keyring, sealed: Sealed, *, context: bytes) -> bytes:
    """The plaintext, once both layers prove it was sealed, unchanged, for this context."""
    _check_sizes(b"", context)
    data_key = _unwrap(keyring, sealed, context)
    try:
        return AESGCM(data_key).decrypt(sealed.nonce, sealed.ciphertext, context)
    except InvalidTag:
        raise VaultError(
            "sealed value failed authentication: its data was tampered with, "
            "or it was sealed for another context (copied from another row?)"
        ) from None


def rewrap(keyring: Keyring, sealed: Sealed, *, context: bytes) -> Sealed:
    """The same data under the primary key: only the data key is re-encrypted.

    Returns ``sealed`` itself when it is already under the primary key, so a rotation pass can
    compare identities to find the rows it must write.
    """
    _check_sizes(b"", context)
    key_id, master = keyring.primary()
    if sealed.key_id == key_id:
        return sealed
    data_key = _unwrap(keyring, sealed, context)
    return Sealed(key_id, _wrap(master, key_id, data_key, context), sealed.nonce, sealed.ciphertext)


def _wrap(master: bytes, key_id: str, data_key: bytes, context: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(master).encrypt(nonce, data_key, _wrap_aad(key_id, context))


def _unwrap(keyring: Keyring, sealed: Sealed, context: bytes) -> bytes:
    master = keyring.get(sealed.key_id)
    nonce, wrapped = sealed.wrapped_key[:NONCE_BYTES], sealed.wrapped_key[NONCE_BYTES:]
    try:
        return AESGCM(master).decrypt(nonce, wrapped, _wrap_aad(sealed.key_id, context))
    except InvalidTag:
        raise VaultError(
            f"cannot unwrap the data key under master key {sealed.key_id}: the sealed value was "
            "tampered with, was sealed for another context (copied from another row?), or the "
            f"key named {sealed.key_id} in the keyring is not the key it was sealed with"
        ) from None


def _wrap_aad(key_id: str, context: bytes) -> bytes:
    # The key id is length-prefixed so no (id, context) pair can pose as another.
    encoded = key_id.encode("ascii")
    return _WRAP_DOMAIN + _LENGTH.pack(len(encoded)) + encoded + context


def _check_sizes(plaintext: bytes, context: bytes) -> None:
    if not isinstance(context, bytes) or not isinstance(plaintext, bytes):
        raise TypeError("seal, unseal and rewrap take bytes: encode text first")
    if len(context) > MAX_CONTEXT_BYTES:
        raise InvalidInput(
            f"a vault context is at most {MAX_CONTEXT_BYTES} bytes: name the row, not its data"
        )
    if len(plaintext) > MAX_PLAINTEXT_BYTES:
        raise InvalidInput(
            f"a sealed value is at most {MAX_PLAINTEXT_BYTES} bytes: store large files "
            "elsewhere and seal their key"
        )
