"""The key ring: AES-256-GCM with key ids, authenticated context, and where keys come from."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from legato.errors import EncryptionError
from legato.security.keyring import (
    KeyRing,
    WrappedKeyProvider,
    keyring_from_env,
    load_key_file,
    new_key,
    write_key_file,
)

K1, K2 = new_key(), new_key()


def test_round_trip_names_the_key_and_hides_the_plaintext() -> None:
    ring = KeyRing.of({"k1": K1})
    token = ring.encrypt(b"987-65-4321", b"state/42")
    assert token.startswith("k1.")
    assert b"987-65-4321" not in token.encode()
    assert ring.decrypt(token, b"state/42") == b"987-65-4321"
    # A fresh nonce each time: the same value never gives the same ciphertext.
    assert ring.encrypt(b"987-65-4321", b"state/42") != token


def test_the_primary_key_is_the_last_and_older_keys_still_decrypt() -> None:
    old = KeyRing.of({"k1": K1})
    token = old.encrypt(b"x", b"c")
    ring = KeyRing.of({"k1": K1, "k2": K2})
    assert ring.primary_key_id == "k2"
    assert ring.encrypt(b"x", b"c").startswith("k2.")
    assert ring.decrypt(token, b"c") == b"x"


def test_a_wrong_key_under_the_same_id_does_not_decrypt() -> None:
    token = KeyRing.of({"k1": K1}).encrypt(b"secret", b"c")
    with pytest.raises(EncryptionError, match=r"'k1'.*changed or moved"):
        KeyRing.of({"k1": K2}).decrypt(token, b"c")


def test_a_tampered_ciphertext_does_not_decrypt() -> None:
    ring = KeyRing.of({"k1": K1})
    token = ring.encrypt(b"secret", b"c")
    raw = bytearray(base64.urlsafe_b64decode(token[3:]))
    raw[-1] ^= 1
    tampered = "k1." + base64.urlsafe_b64encode(bytes(raw)).decode()
    with pytest.raises(EncryptionError, match="changed or moved"):
        ring.decrypt(tampered, b"c")
    with pytest.raises(EncryptionError, match="not a ciphertext"):
        ring.decrypt("k1.%%%", b"c")


def test_a_ciphertext_moved_to_another_row_does_not_decrypt() -> None:
    ring = KeyRing.of({"k1": K1})
    token = ring.encrypt(b"secret", b"state/42")
    with pytest.raises(EncryptionError, match="state/43"):
        ring.decrypt(token, b"state/43")


def test_an_unknown_key_id_is_named() -> None:
    token = KeyRing.of({"gone": K1}).encrypt(b"secret", b"c")
    with pytest.raises(EncryptionError, match="'gone' is not in the key ring"):
        KeyRing.of({"k1": K1}).decrypt(token, b"c")


def test_bad_keys_are_refused_naming_them() -> None:
    with pytest.raises(EncryptionError, match="'k1' has 16 bytes"):
        KeyRing.of({"k1": b"x" * 16})
    with pytest.raises(EncryptionError, match=r"key id 'a\.b'"):
        KeyRing.of({"a.b": K1})
    with pytest.raises(EncryptionError, match="at least one key"):
        KeyRing.of({})


def test_a_key_file_is_written_for_its_owner_only_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    write_key_file(path, {"k1": K1, "k2": K2})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ring = load_key_file(path)
    assert ring.key_ids == ["k1", "k2"]
    assert ring.keys() == {"k1": K1, "k2": K2}


def test_a_broken_key_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text('{"keys": [{"id": "k1"}]}')
    with pytest.raises(EncryptionError, match=f"{path}: not a key file"):
        load_key_file(path)
    with pytest.raises(EncryptionError, match="cannot read key file"):
        load_key_file(tmp_path / "missing.json")


def test_a_file_ring_takes_a_key_added_since_it_was_read(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    write_key_file(path, {"k1": K1})
    running = load_key_file(path)
    write_key_file(path, {"k1": K1, "k2": K2})
    token = load_key_file(path).encrypt(b"new", b"c")
    assert running.decrypt(token, b"c") == b"new"
    assert running.primary_key_id == "k2"
    assert running.encrypt(b"x", b"c").startswith("k2.")


def test_the_environment_names_a_key_file_or_holds_it(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    write_key_file(path, {"k1": K1})
    assert keyring_from_env({}) is None
    from_path = keyring_from_env({"LEGATO_KEYRING": str(path)})
    assert from_path is not None and from_path.key_ids == ["k1"]
    inline = keyring_from_env({"LEGATO_KEYRING": path.read_text()})
    assert inline is not None
    assert inline.decrypt(from_path.encrypt(b"v", b"c"), b"c") == b"v"
    with pytest.raises(EncryptionError, match="LEGATO_KEYRING: not a key file"):
        keyring_from_env({"LEGATO_KEYRING": json.dumps({"nokeys": []})})


class FakeKms:
    """A key management service: wraps data keys with a master key it never hands out."""

    def __init__(self) -> None:
        self._master = KeyRing.of({"master": new_key()})
        self.unwrapped = 0

    def wrap(self, key: bytes) -> bytes:
        return self._master.encrypt(key, b"kms").encode()

    def unwrap(self, wrapped: bytes) -> bytes:
        self.unwrapped += 1
        return self._master.decrypt(wrapped.decode(), b"kms")


def test_a_kms_provider_unwraps_each_data_key_once() -> None:
    kms = FakeKms()
    ring = KeyRing(WrappedKeyProvider({"d1": kms.wrap(K1), "d2": kms.wrap(K2)}, kms.unwrap))
    tokens = [ring.encrypt(b"v%d" % i, b"c") for i in range(5)]
    assert [ring.decrypt(t, b"c") for t in tokens] == [b"v%d" % i for i in range(5)]
    old = KeyRing.of({"d1": K1}).encrypt(b"old", b"c")
    assert ring.decrypt(old, b"c") == b"old"
    assert kms.unwrapped == 2
    with pytest.raises(EncryptionError, match="'d3' is not in the key ring"):
        ring.decrypt(KeyRing.of({"d3": K1}).encrypt(b"x", b"c"), b"c")


def test_a_file_ring_takes_a_new_primary_key_without_reading_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from legato.security import keyring

    path = tmp_path / "keys.json"
    write_key_file(path, {"k1": K1})
    monkeypatch.setattr(keyring, "_LOOK_EVERY", 0.0)
    running = load_key_file(path)
    assert running.encrypt(b"x", b"c").startswith("k1.")
    write_key_file(path, {"k1": K1, "k2": K2})
    os.utime(path, (1, 1))  # a different stamp, however coarse the file system's clock
    assert running.encrypt(b"x", b"c").startswith("k2.")
