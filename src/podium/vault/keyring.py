"""Master keys: where they come from, how they rotate, and how a bad one is refused.

Master keys only wrap data keys (see :mod:`podium.vault.envelope`), so rotating one means
appending a line to the key file and re-wrapping small blobs, never re-encrypting the data.
A ring read from a file follows that file while running: appending a key makes it the primary
and removing one revokes it, both without a restart (each access costs one ``stat``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import os
import re
import secrets
import stat
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

from podium.errors import InvalidInput
from podium.vault.errors import VaultError

KEY_BYTES = 32
"""A master key is 32 random bytes: AES-256."""

KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,32}")
"""A key id, matched whole (``fullmatch``): short, printable, safe in a file, a blob and a log."""

MAX_KEY_FILE_BYTES = 1 << 20
"""A key file larger than this is refused rather than read: thousands of keys fit in it."""

ENV_KEYS = "PODIUM_MASTER_KEY"
ENV_KEY_FILE = "PODIUM_MASTER_KEY_FILE"
DEFAULT_KEY_FILE_NAME = "master.key"

_KEY_FILE_HEADER = (
    "# Podium master keys: one `ID BASE64URL` a line; the LAST line seals new values.\n"
    "# Rotate by appending a line (`podium keys add`). Keep every key that still opens data:\n"
    "# without it, values sealed under it cannot be opened. Keep this file mode 0600.\n"
)
_BASE64 = re.compile(r"[A-Za-z0-9_+/-]+={0,2}")
_GENERATE_HINT = "generate one with `podium keys add`"

_Signature = tuple[int, int, int, int]


@dataclass(frozen=True)
class _Entry:
    """One key as written, with where it was written (for messages), before validation."""

    key_id: str
    encoded: str
    where: str


@dataclass(frozen=True)
class _Ring:
    keys: Mapping[str, bytes]
    primary_id: str
    signature: _Signature | None = None


class Keyring:
    """Master keys by id, and the primary id that seals new values.

    Build it with :meth:`from_env` (the server's way), :meth:`from_file`, or directly from a
    mapping (tests, tools). Its ``repr`` never shows a key.
    """

    def __init__(self, keys: Mapping[str, bytes], primary_id: str) -> None:
        self._ring = _ring_of(dict(keys), primary_id, origin="the keyring")
        self._source: Path | None = None
        self._origin = "the keyring"
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, home: Path, *, environ: Mapping[str, str] | None = None) -> Keyring:
        """The keys named by the environment, else the key file under ``home``.

        ``PODIUM_MASTER_KEY`` (``ID:BASE64URL[,ID:BASE64URL...]``, the first is primary) wins;
        then the key file named by ``PODIUM_MASTER_KEY_FILE``; then ``home / "master.key"``,
        created with one fresh key on first use so an embedded server needs no setup.
        """
        env = os.environ if environ is None else environ
        inline = env.get(ENV_KEYS)
        if inline is not None:
            return cls._from_inline(inline)
        named = env.get(ENV_KEY_FILE)
        if named is not None:
            if not named.strip():
                raise InvalidInput(
                    f"{ENV_KEY_FILE} is set but empty: unset it, or set it to the key file's path"
                )
            return cls.from_file(Path(named).expanduser())
        path = home / DEFAULT_KEY_FILE_NAME
        _create_default_key_file(path)
        return cls.from_file(path)

    @classmethod
    def from_file(cls, path: Path) -> Keyring:
        """The keys of a key file (one ``ID BASE64URL`` a line; the last line is primary)."""
        ring = _read_key_file(path)
        keyring = cls(ring.keys, ring.primary_id)
        keyring._ring = ring
        keyring._source = path
        keyring._origin = str(path)
        return keyring

    @classmethod
    def _from_inline(cls, text: str) -> Keyring:
        entries: list[_Entry] = []
        for number, item in enumerate(text.split(","), start=1):
            key_id, colon, encoded = item.strip().partition(":")
            if not colon:
                raise InvalidInput(
                    f"{ENV_KEYS} entry {number} is not `ID:BASE64URL`: write each key as its id, "
                    "a colon and the key, separated by commas (the first is primary)"
                )
            entries.append(_Entry(key_id.strip(), encoded.strip(), f"{ENV_KEYS} entry {number}"))
        keys = _validated(entries, origin=ENV_KEYS)
        keyring = cls(keys, entries[0].key_id)
        keyring._origin = ENV_KEYS
        return keyring

    @property
    def source(self) -> Path | None:
        """The key file this ring follows, or ``None`` when it came from memory or the env."""
        return self._source

    @property
    def primary_id(self) -> str:
        return self._current().primary_id

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._current().keys)

    def primary(self) -> tuple[str, bytes]:
        """The primary key id and key, read together so a concurrent rotation cannot split them."""
        ring = self._current()
        return ring.primary_id, ring.keys[ring.primary_id]

    def get(self, key_id: str) -> bytes:
        """The key with this id; an unknown id re-reads the key file once before giving up."""
        key = self._current().keys.get(key_id)
        if key is None and self._source is not None:
            key = self._current(force=True).keys.get(key_id)
        if key is None:
            raise VaultError(f"no master key with id {key_id}: add it to {self._origin}")
        return key

    def __contains__(self, key_id: object) -> bool:
        return isinstance(key_id, str) and key_id in self._current().keys

    def __repr__(self) -> str:
        ring = self._ring
        ids, primary = list(ring.keys), ring.primary_id
        return f"Keyring(ids={ids!r}, primary={primary!r}, origin={self._origin!r})"

    def _current(self, *, force: bool = False) -> _Ring:
        if self._source is None:
            return self._ring
        with self._lock:
            if force or _signature_of(self._source) != self._ring.signature:
                self._ring = _read_key_file(self._source)
            return self._ring


def generate_key_line() -> str:
    """A fresh ``ID BASE64URL`` line (no newline) for a key file."""
    return _key_line(_new_key_id(()))


def add_key(path: Path) -> str:
    """Append a fresh key to the key file at ``path`` (created 0600) and return its new id.

    The new key becomes the primary: running servers pick it up on their next seal. The file is
    locked while it is read and appended, so two concurrent adds get two different ids.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _check_key_file_stat(path, os.fstat(fd))
        existing = _read_bounded(fd, path)
        entries = _parse_key_file(existing, path)
        taken = _validated(entries, origin=str(path), allow_empty=True)
        key_id = _new_key_id(taken)
        prefix = "" if not existing or existing.endswith(b"\n") else "\n"
        header = "" if existing.strip() else _KEY_FILE_HEADER
        os.write(fd, f"{prefix}{header}{_key_line(key_id)}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return key_id


def _key_line(key_id: str) -> str:
    encoded = base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).rstrip(b"=").decode()
    return f"{key_id} {encoded}"


def _new_key_id(taken: Mapping[str, object] | Sequence[str]) -> str:
    base = "k" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate, suffix = base, 2
    while candidate in taken:
        candidate, suffix = f"{base}-{suffix}", suffix + 1
    return candidate


def _create_default_key_file(path: Path) -> None:
    """Create ``path`` with one fresh key unless it exists; safe when two processes race."""
    if os.path.lexists(path):
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(_KEY_FILE_HEADER + generate_key_line() + "\n")
            out.flush()
            os.fsync(out.fileno())
        # A hard link publishes the complete file, or fails if another process won the race.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


def _signature_of(path: Path) -> _Signature | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _read_key_file(path: Path) -> _Ring:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise InvalidInput(
            f"master key file {path} does not exist: restore it, create it with "
            f"`podium keys add`, or point {ENV_KEY_FILE} at the right file"
        ) from None
    try:
        st = os.fstat(fd)
        _check_key_file_stat(path, st)
        raw = _read_bounded(fd, path)
    finally:
        os.close(fd)
    entries = _parse_key_file(raw, path)
    keys = _validated(entries, origin=str(path))
    signature = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    return _Ring(MappingProxyType(keys), entries[-1].key_id, signature)


def _check_key_file_stat(path: Path, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise InvalidInput(f"master key file {path} is not a regular file: point at a file")
    if st.st_mode & 0o077:
        raise InvalidInput(
            f"master key file {path} is open to group or others "
            f"(mode {stat.S_IMODE(st.st_mode):04o}): run `chmod 600 {path}`"
        )


def _read_bounded(fd: int, path: Path) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := os.pread(fd, 65536, size):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_KEY_FILE_BYTES:
            raise InvalidInput(
                f"master key file {path} is larger than {MAX_KEY_FILE_BYTES} bytes: "
                "it should hold one short line per key"
            )
    return b"".join(chunks)


def _parse_key_file(raw: bytes, path: Path) -> list[_Entry]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"master key file {path} is not UTF-8 text") from None
    entries: list[_Entry] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = stripped.split()
        if len(parts) != 2:
            raise InvalidInput(
                f"{path}:{number}: expected `ID BASE64URL` (an id, a space, the key); "
                "start a comment line with #"
            )
        entries.append(_Entry(parts[0], parts[1], f"{path}:{number}"))
    return entries


def _validated(
    entries: Sequence[_Entry], *, origin: str, allow_empty: bool = False
) -> dict[str, bytes]:
    if not entries and not allow_empty:
        raise InvalidInput(
            f"{origin} holds no master key: add one (`ID BASE64URL` a line in a key file, "
            f"`ID:BASE64URL` in {ENV_KEYS}); {_GENERATE_HINT}"
        )
    keys: dict[str, bytes] = {}
    for entry in entries:
        _check_key_id(entry.key_id, entry.where)
        if entry.key_id in keys:
            raise InvalidInput(
                f"{entry.where}: key id {entry.key_id} appears twice in {origin}: "
                "give every key its own id"
            )
        keys[entry.key_id] = _decode_key(entry)
    return keys


def _ring_of(keys: dict[str, bytes], primary_id: str, *, origin: str) -> _Ring:
    if not keys:
        raise InvalidInput(f"{origin} holds no master key: add one; {_GENERATE_HINT}")
    for key_id, key in keys.items():
        _check_key_id(key_id, origin)
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise InvalidInput(
                f"{origin}: master key {key_id} is not {KEY_BYTES} bytes: {_GENERATE_HINT}"
            )
    if primary_id not in keys:
        raise InvalidInput(f"{origin}: the primary key id {primary_id!r} is not one of its keys")
    return _Ring(MappingProxyType(keys), primary_id)


def _check_key_id(key_id: str, where: str) -> None:
    if KEY_ID_PATTERN.fullmatch(key_id):
        return
    # A long "id" may be a key pasted in the wrong place: never echo it.
    shown = repr(key_id) if len(key_id) <= 32 else f"of {len(key_id)} characters"
    raise InvalidInput(
        f"{where}: key id {shown} is invalid: use 1 to 32 letters, digits, '_', '.' or '-'"
    )


def _decode_key(entry: _Entry) -> bytes:
    encoded = entry.encoded
    if not _BASE64.fullmatch(encoded):
        raise InvalidInput(f"{entry.where}: the key of {entry.key_id} is not base64url text")
    normalized = encoded.rstrip("=").replace("+", "-").replace("/", "_")
    try:
        key = base64.urlsafe_b64decode(normalized + "=" * (-len(normalized) % 4))
    except (binascii.Error, ValueError):
        raise InvalidInput(
            f"{entry.where}: the key of {entry.key_id} is not base64url text"
        ) from None
    if len(key) != KEY_BYTES:
        raise InvalidInput(
            f"{entry.where}: the key of {entry.key_id} is {len(key)} bytes, not {KEY_BYTES}: "
            f"a master key is {KEY_BYTES} random bytes; {_GENERATE_HINT}"
        )
    return key
