"""The vault: master keys, envelope encryption and redaction, without a server or a database."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podium.errors import InvalidInput
from podium.vault import (
    MIN_SECRET_CHARS,
    REDACTED,
    Keyring,
    Redactor,
    Sealed,
    VaultError,
    add_key,
    generate_key_line,
    rewrap,
    seal,
    unseal,
)
from podium.vault import redact as redact_module

CONTEXT = b"asset:etl/warehouse-password"


def _encoded(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).rstrip(b"=").decode()


def _key_line(key_id: str) -> str:
    return f"{key_id} {_encoded(secrets.token_bytes(32))}\n"


def _write_key_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def _ring(*ids: str) -> Keyring:
    return Keyring({key_id: secrets.token_bytes(32) for key_id in ids}, ids[0])


# --- the keyring ------------------------------------------------------------------------------


def test_inline_keys_make_the_first_one_primary(tmp_path: Path) -> None:
    a, b = secrets.token_bytes(32), secrets.token_bytes(32)
    env = {"PODIUM_MASTER_KEY": f"k1:{_encoded(a)}, k2:{base64.urlsafe_b64encode(b).decode()}"}
    ring = Keyring.from_env(tmp_path, environ=env)
    assert ring.primary() == ("k1", a)
    assert ring.get("k2") == b
    assert ring.source is None
    assert not (tmp_path / "master.key").exists()


def test_a_key_file_makes_its_last_line_primary_and_skips_comments(tmp_path: Path) -> None:
    path = _write_key_file(
        tmp_path / "keys", "# rotated in May\n" + _key_line("k1") + "\n" + _key_line("k2")
    )
    ring = Keyring.from_env(tmp_path / "home", environ={"PODIUM_MASTER_KEY_FILE": str(path)})
    assert ring.primary_id == "k2"
    assert ring.ids == ("k1", "k2")
    assert ring.source == path


def test_the_default_key_file_is_created_private_and_silently(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "podium-home"
    first = Keyring.from_env(home, environ={})
    path = home / "master.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    again = Keyring.from_env(home, environ={})
    assert again.primary() == first.primary()
    assert [p.name for p in home.iterdir()] == ["master.key"]
    assert capsys.readouterr() == ("", "")


def test_a_key_file_open_to_others_is_refused(tmp_path: Path) -> None:
    path = _write_key_file(tmp_path / "keys", _key_line("k1"), mode=0o640)
    with pytest.raises(InvalidInput, match=r"chmod 600"):
        Keyring.from_file(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"k1 {_encoded(b'short')}\n", r"is 5 bytes, not 32"),
        (f"bad/id {_encoded(bytes(32))}\n", r"key id 'bad/id' is invalid"),
        (f"{'x' * 33} {_encoded(bytes(32))}\n", r"key id of 33 characters is invalid"),
        (f"k1 {_encoded(bytes(32))}\nk1 {_encoded(bytes(32))}\n", r"k1 appears twice"),
        ("# nothing yet\n\n", r"holds no master key"),
        ("k1:" + _encoded(bytes(32)) + "\n", r"expected `ID BASE64URL`"),
        ("k1 not*base64\n", r"not base64url"),
    ],
)
def test_bad_key_files_are_refused_with_what_to_fix(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _write_key_file(tmp_path / "keys", text)
    with pytest.raises(InvalidInput, match=message) as caught:
        Keyring.from_file(path)
    assert _encoded(bytes(32)) not in caught.value.message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", r"entry 1 is not `ID:BASE64URL`"),
        (_encoded(bytes(32)), r"entry 1 is not `ID:BASE64URL`"),
        (f"k1:{_encoded(bytes(16))}", r"is 16 bytes, not 32"),
        (f"k1:{_encoded(bytes(32))},k1:{_encoded(bytes(32))}", r"appears twice"),
        (f"k 1:{_encoded(bytes(32))}", r"key id 'k 1' is invalid"),
    ],
)
def test_bad_inline_keys_are_refused(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        Keyring.from_env(tmp_path, environ={"PODIUM_MASTER_KEY": value})
    assert _encoded(bytes(32)) not in caught.value.message


def test_a_missing_named_key_file_is_refused(tmp_path: Path) -> None:
    env = {"PODIUM_MASTER_KEY_FILE": str(tmp_path / "nope")}
    with pytest.raises(InvalidInput, match=r"does not exist"):
        Keyring.from_env(tmp_path, environ=env)


def test_an_in_memory_ring_refuses_bad_keys() -> None:
    with pytest.raises(InvalidInput, match=r"not 32 bytes"):
        Keyring({"k1": b"x" * 31}, "k1")
    with pytest.raises(InvalidInput, match=r"holds no master key"):
        Keyring({}, "k1")
    with pytest.raises(InvalidInput, match=r"primary key id 'k2'"):
        Keyring({"k1": bytes(32)}, "k2")


def test_an_unknown_key_id_says_where_to_add_it(tmp_path: Path) -> None:
    path = _write_key_file(tmp_path / "keys", _key_line("k1"))
    with pytest.raises(VaultError, match=rf"no master key with id k9: add it to {path}") as caught:
        Keyring.from_file(path).get("k9")
    assert caught.value.code == "vault_error"


def test_a_key_added_while_running_is_found_without_a_new_ring(tmp_path: Path) -> None:
    path = _write_key_file(tmp_path / "keys", _key_line("k1"))
    ring = Keyring.from_file(path)
    line = _key_line("k2")
    with path.open("a", encoding="utf-8") as out:
        out.write(line)
    assert ring.get("k2") == base64.urlsafe_b64decode(line.split()[1] + "=")


def test_the_repr_shows_ids_never_keys() -> None:
    key = secrets.token_bytes(32)
    shown = repr(Keyring({"k1": key}, "k1"))
    assert "k1" in shown
    assert repr(key) not in shown
    assert _encoded(key) not in shown


def test_add_key_creates_a_private_file_and_makes_each_new_key_primary(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "podium.keys"
    first = add_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ring = Keyring.from_file(path)
    assert ring.primary_id == first
    second = add_key(path)
    assert second != first
    assert ring.primary_id == second
    assert ring.ids == (first, second)


def test_add_key_refuses_a_file_open_to_others(tmp_path: Path) -> None:
    path = _write_key_file(tmp_path / "keys", _key_line("k1"), mode=0o644)
    with pytest.raises(InvalidInput, match=r"chmod 600"):
        add_key(path)
    assert path.read_text(encoding="utf-8").count("\n") == 1


def test_generate_key_line_is_a_valid_key_file_line(tmp_path: Path) -> None:
    line = generate_key_line()
    path = _write_key_file(tmp_path / "keys", line + "\n")
    assert Keyring.from_file(path).primary_id == line.split()[0]


# --- envelope encryption ----------------------------------------------------------------------


def test_seal_and_unseal_round_trip_through_bytes_and_text() -> None:
    ring = _ring("k1")
    sealed = seal(ring, b"hunter2 \x00\xff", context=CONTEXT)
    assert sealed.key_id == "k1"
    assert b"hunter2" not in sealed.to_bytes()
    assert Sealed.from_bytes(sealed.to_bytes()) == sealed
    assert Sealed.from_text(sealed.to_text()) == sealed
    assert unseal(ring, Sealed.from_text(sealed.to_text()), context=CONTEXT) == b"hunter2 \x00\xff"
    assert unseal(ring, seal(ring, b"", context=b""), context=b"") == b""


def test_every_seal_uses_a_fresh_data_key_and_nonce() -> None:
    ring = _ring("k1")
    one, two = (seal(ring, b"same", context=CONTEXT) for _ in range(2))
    assert one.nonce != two.nonce
    assert one.wrapped_key != two.wrapped_key
    assert one.ciphertext != two.ciphertext


def _flipped(value: bytes, index: int = 0) -> bytes:
    return value[:index] + bytes([value[index] ^ 0x01]) + value[index + 1 :]


@pytest.mark.parametrize("name", ["wrapped_key", "nonce", "ciphertext"])
@pytest.mark.parametrize("where", [0, -1])
def test_a_flipped_byte_in_any_field_is_detected(name: str, where: int) -> None:
    ring = _ring("k1")
    sealed = seal(ring, b"secret data", context=CONTEXT)
    field = getattr(sealed, name)
    changes: dict[str, Any] = {name: _flipped(field, where % len(field))}
    tampered = dataclasses.replace(sealed, **changes)
    with pytest.raises(VaultError, match=r"tampered") as caught:
        unseal(ring, tampered, context=CONTEXT)
    assert caught.value.code == "vault_error"


def test_a_changed_key_id_is_detected() -> None:
    ring = Keyring({"k1": secrets.token_bytes(32), "k0": secrets.token_bytes(32)}, "k1")
    sealed = seal(ring, b"secret data", context=CONTEXT)
    with pytest.raises(VaultError, match=r"cannot unwrap the data key under master key k0"):
        unseal(ring, dataclasses.replace(sealed, key_id="k0"), context=CONTEXT)
    with pytest.raises(VaultError, match=r"no master key with id k2"):
        unseal(ring, dataclasses.replace(sealed, key_id="k2"), context=CONTEXT)


def test_any_flipped_byte_of_the_blob_fails_to_load_or_to_open() -> None:
    ring = _ring("k1")
    blob = seal(ring, b"abc", context=CONTEXT).to_bytes()
    for index in range(len(blob)):
        with pytest.raises(VaultError):
            unseal(ring, Sealed.from_bytes(_flipped(blob, index)), context=CONTEXT)


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda blob: b"XSV1" + blob[4:], r"does not start with b'PSV1'"),
        (lambda blob: blob[:-1], r"ciphertext is cut short"),
        (lambda blob: blob + b"\x00", r"bytes follow its last field"),
        (lambda blob: blob[:6], r"ends before its key id"),
        (lambda blob: b"", r"does not start"),
    ],
)
def test_malformed_blobs_are_refused_clearly(
    mangle: Callable[[bytes], bytes], message: str
) -> None:
    blob = seal(_ring("k1"), b"abc", context=CONTEXT).to_bytes()
    with pytest.raises(VaultError, match=message):
        Sealed.from_bytes(mangle(blob))


def test_malformed_text_and_fields_are_refused() -> None:
    with pytest.raises(VaultError, match=r"not base64url"):
        Sealed.from_text("not base64!")
    with pytest.raises(VaultError, match=r"nonce is not 12 bytes"):
        Sealed("k1", bytes(60), bytes(11), bytes(16))
    with pytest.raises(VaultError, match=r"wrapped key is not 60 bytes"):
        Sealed("k1", bytes(59), bytes(12), bytes(16))
    with pytest.raises(VaultError, match=r"master key id"):
        Sealed("k/1", bytes(60), bytes(12), bytes(16))


def test_a_blob_moved_to_another_context_fails_to_open() -> None:
    ring = _ring("k1")
    sealed = seal(ring, b"secret", context=b"asset:a")
    with pytest.raises(VaultError, match=r"another context"):
        unseal(ring, sealed, context=b"asset:b")
    rotated = Keyring({"k1": ring.get("k1"), "k2": secrets.token_bytes(32)}, "k2")
    with pytest.raises(VaultError, match=r"another context"):
        rewrap(rotated, sealed, context=b"asset:b")


def test_a_wrapped_key_swapped_between_blobs_fails_to_open() -> None:
    ring = _ring("k1")
    one = seal(ring, b"one", context=CONTEXT)
    two = seal(ring, b"two", context=CONTEXT)
    with pytest.raises(VaultError, match=r"tampered"):
        unseal(ring, dataclasses.replace(one, wrapped_key=two.wrapped_key), context=CONTEXT)


def test_errors_never_show_the_key_or_the_plaintext() -> None:
    key = secrets.token_bytes(32)
    ring = Keyring({"k1": key}, "k1")
    sealed = seal(ring, b"plaintext-value", context=CONTEXT)
    with pytest.raises(VaultError) as caught:
        unseal(ring, sealed, context=b"elsewhere")
    text = str(caught.value) + repr(caught.value.details)
    assert "plaintext-value" not in text
    assert _encoded(key) not in text
    assert key.hex() not in text


def test_rewrap_under_the_primary_key_is_a_no_op() -> None:
    ring = _ring("k1")
    sealed = seal(ring, b"x", context=CONTEXT)
    assert rewrap(ring, sealed, context=CONTEXT) is sealed


def test_rotation_through_the_key_file_needs_no_restart(tmp_path: Path) -> None:
    k1_line, k2_line = _key_line("k1"), _key_line("k2")
    path = _write_key_file(tmp_path / "keys", k1_line)
    ring = Keyring.from_file(path)
    sealed = seal(ring, b"warehouse password", context=CONTEXT)
    never_rewrapped = seal(ring, b"forgotten", context=CONTEXT)
    assert sealed.key_id == "k1"

    with path.open("a", encoding="utf-8") as out:
        out.write(k2_line)
    assert ring.primary_id == "k2"
    moved = rewrap(ring, sealed, context=CONTEXT)
    assert moved.key_id == "k2"
    assert (moved.nonce, moved.ciphertext) == (sealed.nonce, sealed.ciphertext)
    assert unseal(ring, moved, context=CONTEXT) == b"warehouse password"
    assert seal(ring, b"new", context=CONTEXT).key_id == "k2"

    _write_key_file(path, k2_line)
    assert ring.ids == ("k2",)
    assert unseal(ring, moved, context=CONTEXT) == b"warehouse password"
    with pytest.raises(VaultError, match=rf"no master key with id k1: add it to {path}"):
        unseal(ring, never_rewrapped, context=CONTEXT)
    with pytest.raises(VaultError, match=r"no master key with id k1"):
        rewrap(ring, never_rewrapped, context=CONTEXT)


def test_a_key_file_broken_while_running_is_refused_not_ignored(tmp_path: Path) -> None:
    path = _write_key_file(tmp_path / "keys", _key_line("k1"))
    ring = Keyring.from_file(path)
    path.chmod(0o644)
    path.write_text(_key_line("k1") + _key_line("k2"), encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"chmod 600"):
        seal(ring, b"x", context=CONTEXT)


def test_seal_takes_bytes_only() -> None:
    with pytest.raises(TypeError, match=r"encode text first"):
        seal(_ring("k1"), "text", context=CONTEXT)  # type: ignore[arg-type]


# --- redaction --------------------------------------------------------------------------------


def test_secrets_are_masked_with_the_same_length() -> None:
    redactor = Redactor.of(["hunter22", "s3cr3t-token"])
    line = "login hunter22 with s3cr3t-token, again hunter22"
    masked = redactor.text(line)
    assert masked == "login ******** with ************, again ********"
    assert len(masked) == len(line)
    assert redactor.bytes(line.encode()) == masked.encode()


def test_overlapping_secrets_are_masked_as_their_union() -> None:
    redactor = Redactor.of(["abcdef", "defghi", "cdef"])
    assert redactor.text("xxabcdefghiyy") == "xx*********yy"
    assert redactor.text("aaaa-aaaaa") == "aaaa-aaaaa"
    assert Redactor.of(["aaaa"]).text("aaaaaa-aaa") == "******-aaa"


def test_json_escaped_secrets_are_masked_and_the_json_stays_valid() -> None:
    secret = 'pa"ss\\wörd\n'
    redactor = Redactor.of([secret])
    for ensure_ascii in (True, False):
        shown = json.dumps({"password": secret}, ensure_ascii=ensure_ascii)
        masked = redactor.text(shown)
        assert len(masked) == len(shown)
        value = json.loads(masked)["password"]
        assert set(value) == {"*"}
        masked_bytes = redactor.bytes(shown.encode())
        assert len(masked_bytes) == len(shown.encode())
        assert set(json.loads(masked_bytes)["password"]) == {"*"}
        assert secret.encode() not in masked_bytes


def test_multibyte_secrets_are_masked_byte_for_byte() -> None:
    redactor = Redactor.of(["clé-secrète"])
    data = "x clé-secrète y".encode()
    masked = redactor.bytes(data)
    assert len(masked) == len(data)
    assert masked == b"x " + b"*" * len("clé-secrète".encode()) + b" y"


def test_short_secrets_are_hidden_only_as_whole_values() -> None:
    redactor = Redactor.of(["no", "7", "longer-secret"])
    assert MIN_SECRET_CHARS == 4
    assert redactor.text("no way, 7 times") == "no way, 7 times"
    assert redactor.redact_value("no") == "****"
    assert redactor.redact_value("longer-secret") == "*" * 13
    assert redactor.redact_value("nothing") == "nothing"


def test_json_values_are_masked_in_a_copy() -> None:
    redactor = Redactor.of(["no", "4242", "hunter22"])
    value = {
        "user": "me",
        "password": "hunter22",
        "answer": "no",
        "pin": 4242,
        "flags": [True, None, 1.5, "say hunter22", ("no",)],
        "hunter22": 1,
    }
    assert redactor.json(value) == {
        "user": "me",
        "password": "********",
        "answer": "****",
        "pin": "****",
        "flags": [True, None, 1.5, "say ********", ["****"]],
        "********": 1,
    }
    assert value["password"] == "hunter22"


def test_an_empty_redactor_is_false_and_changes_nothing() -> None:
    redactor = Redactor.of(["", ""])
    assert not redactor
    assert redactor.text("anything") == "anything"
    assert redactor.json({"a": 1}) == {"a": 1}
    assert redactor.margin == 0
    assert Redactor.of(["ab"])
    assert "ab" not in repr(Redactor.of(["ab"]))
    assert REDACTED == "[secret]"


def test_a_secret_split_across_two_chunks_is_masked_in_both_windows() -> None:
    secret = "split-me-secret"
    redactor = Redactor.of([secret])
    data = ("a" * 50 + secret + "b" * 50).encode()
    cut = 50 + 6
    margin = redactor.margin
    assert margin == len(secret) - 1
    first = redactor.window_bytes(data[: cut + margin], 0, cut)
    second_start = cut - margin
    second = redactor.window_bytes(
        data[second_start:], cut - second_start, len(data) - second_start
    )
    assert first + second == redactor.bytes(data)
    assert secret.encode()[:6] not in first
    assert secret.encode()[6:] not in second
    with pytest.raises(ValueError, match=r"not inside"):
        redactor.window_bytes(data, 10, 5)


def test_a_file_is_rewritten_in_place_with_every_secret_masked(tmp_path: Path) -> None:
    secret_a, secret_b = "alpha-SECRET-value", "bêta-sécret"
    redactor = Redactor.of([secret_a, secret_b])
    chunk = redact_module.FILE_CHUNK_BYTES
    size = 5 * 1024 * 1024
    data = bytearray(b"log line\n" * (size // 9 + 1))[:size]
    a, b = secret_a.encode(), secret_b.encode()
    spots = [0, 1000, size - len(a)]
    spots += [boundary - cut for boundary in range(chunk, size, chunk) for cut in (1, 7)]
    for index, spot in enumerate(spots):
        needle = a if index % 2 else b
        data[spot : spot + len(needle)] = needle
    original = bytes(data)
    path = tmp_path / "step.log"
    path.write_bytes(original)

    assert redactor.file(path) is True
    rewritten = path.read_bytes()
    assert len(rewritten) == len(original)
    assert a not in rewritten and b not in rewritten
    assert rewritten == redactor.bytes(original)
    assert redactor.file(path) is False


def test_file_rewrite_with_small_chunks_masks_secrets_on_every_boundary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redact_module, "FILE_CHUNK_BYTES", 5)
    redactor = Redactor.of(["0123456789abc", "89ab"])
    text = ("xx0123456789abcyy89abz" * 20).encode()
    path = tmp_path / "log"
    path.write_bytes(text)
    assert redactor.file(path)
    assert path.read_bytes() == redactor.bytes(text)
    assert b"89ab" not in path.read_bytes()


def test_file_rewrite_leaves_symlinks_and_special_files_alone(tmp_path: Path) -> None:
    redactor = Redactor.of(["hunter22"])
    target = tmp_path / "target"
    target.write_text("hunter22\n", encoding="utf-8")
    link = tmp_path / "link"
    link.symlink_to(target)
    assert redactor.file(link) is False
    assert target.read_text(encoding="utf-8") == "hunter22\n"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert redactor.file(fifo) is False
    assert redactor.file(tmp_path) is False
    assert redactor.file(target) is True
    assert target.read_text(encoding="utf-8") == "********\n"
    assert redactor.file(tmp_path / "missing") is False


def test_file_rewrite_leaves_a_hard_linked_file_alone(tmp_path: Path) -> None:
    """A job could hard-link someone else's file into its own directory."""
    redactor = Redactor.of(["hunter22"])
    theirs = tmp_path / "theirs"
    theirs.write_text("root:hunter22\n", encoding="utf-8")
    os.link(theirs, tmp_path / "planted")
    assert redactor.file(tmp_path / "planted") is False
    assert theirs.read_text(encoding="utf-8") == "root:hunter22\n"
    os.unlink(tmp_path / "planted")
    directory = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert redactor.file("theirs", dir_fd=directory) is True
    finally:
        os.close(directory)
    assert theirs.read_text(encoding="utf-8") == "root:********\n"


_SECRET = st.text(min_size=MIN_SECRET_CHARS, max_size=12).filter(lambda s: "*" not in s)


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(st.text(max_size=20), min_size=1, max_size=6),
    secret_values=st.lists(_SECRET, min_size=1, max_size=3),
    picks=st.lists(st.integers(min_value=0, max_value=2), max_size=6),
)
def test_no_secret_survives_and_the_length_is_unchanged(
    pieces: list[str], secret_values: list[str], picks: list[int]
) -> None:
    chosen = [secret_values[i % len(secret_values)] for i in picks]
    text = "".join(p + (chosen[i] if i < len(chosen) else "") for i, p in enumerate(pieces))
    redactor = Redactor.of(secret_values)
    masked = redactor.text(text)
    assert len(masked) == len(text)
    for secret in secret_values:
        assert secret not in masked
    masked_bytes = redactor.bytes(text.encode())
    assert len(masked_bytes) == len(text.encode())
    for secret in secret_values:
        assert secret.encode() not in masked_bytes
