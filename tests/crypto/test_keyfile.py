"""Passphrase-protected key files."""

import struct

import pytest

from crypto.errors import KeyFileError, UnsupportedKeyFile, WrongPassphrase
from crypto.keyfile import (
    KEYFILE_BYTES,
    KEYFILE_V1_BYTES,
    key_file_version,
    open_key_file,
    open_private_key,
    read_public_key,
    seal_private_key,
    seal_private_key_v1,
)
from crypto.keys import PrivateKey
from crypto.params import KEYFILE_LIMITS, TEST_LIMITS, Argon2Limits
from crypto.signing import SigningKey


@pytest.fixture(scope="module")
def sealed():
    key = PrivateKey.generate()
    return key, seal_private_key(key, "correct horse ünïcode", limits=TEST_LIMITS)


def test_round_trip_and_public_key_without_passphrase(sealed):
    key, data = sealed
    assert len(data) == KEYFILE_BYTES == 208
    assert read_public_key(data) == key.public_key
    assert open_private_key(data, "correct horse ünïcode").raw() == key.raw()


def test_passphrase_is_nfc_normalised(sealed):
    key, data = sealed
    decomposed = "correct horse u\u0308ni\u0308code"
    assert open_private_key(data, decomposed).raw() == key.raw()


def test_wrong_passphrase(sealed):
    _, data = sealed
    with pytest.raises(WrongPassphrase):
        open_private_key(data, "correct horse")


@pytest.mark.parametrize("offset", [40, 70, 72, 103, 104, 127, 128, 170, 207])
def test_flipped_byte_after_limits_is_detected(sealed, offset):
    _, data = sealed
    damaged = bytearray(data)
    damaged[offset] ^= 1
    with pytest.raises(KeyFileError):
        open_private_key(bytes(damaged), "correct horse ünïcode")


def test_not_a_key_file():
    with pytest.raises(KeyFileError, match="not a refuge-intake key file"):
        read_public_key(b"-----BEGIN PGP PRIVATE KEY BLOCK-----\n" + bytes(200))


def test_wrong_length(sealed):
    _, data = sealed
    with pytest.raises(KeyFileError, match="wrong length"):
        read_public_key(data[:-1])
    with pytest.raises(KeyFileError, match="wrong length"):
        read_public_key(data + b"\0")


def test_unknown_version(sealed):
    _, data = sealed
    with pytest.raises(UnsupportedKeyFile):
        read_public_key(data[:7] + b"\x03" + data[8:])


@pytest.mark.parametrize("ops, mem", [(0, 8 << 20), (11, 8 << 20), (1, 8191), (1, 2 << 30)])
def test_hostile_limits_refused_before_work(sealed, ops, mem):
    _, data = sealed
    hostile = data[:8] + struct.pack("<QQ", ops, mem) + data[24:]
    with pytest.raises(UnsupportedKeyFile):
        open_private_key(hostile, "anything")


def test_mismatched_public_key_is_reported(sealed):
    _key, data = sealed
    other = PrivateKey.generate().public_key.raw
    tampered = data[:40] + other + data[72:]
    with pytest.raises(KeyFileError, match="do not match"):
        open_private_key(tampered, "correct horse ünïcode")


def test_empty_passphrase_refused():
    with pytest.raises(KeyFileError):
        seal_private_key(PrivateKey.generate(), "", limits=TEST_LIMITS)


def test_default_limits_are_the_named_pair():
    assert KEYFILE_LIMITS == Argon2Limits(opslimit=3, memlimit=256 * 1024 * 1024)


def test_a_noncanonical_public_key_is_refused_without_the_passphrase(sealed):
    # Bit 255 set: the same X25519 key to libsodium, but another text and key id;
    # `pubkey` would show that text, so it is refused before any passphrase.
    key, data = sealed
    raw = key.public_key.raw
    bad = data[:40] + raw[:31] + bytes([raw[31] | 0x80]) + data[72:]
    with pytest.raises(KeyFileError, match="its public key is invalid"):
        read_public_key(bad)


def test_version_2_holds_a_signing_key_that_opens_with_the_x25519_key(sealed):
    key, data = sealed
    opened = open_key_file(data, "correct horse ünïcode")
    assert opened.version == 2 == key_file_version(data)
    assert opened.private.raw() == key.raw()
    assert opened.signing is not None
    assert data[72:104] == opened.signing.public_key.raw
    assert opened.limits == TEST_LIMITS


def test_a_replaced_signing_public_key_is_reported(sealed):
    _key, data = sealed
    other = SigningKey.generate().public_key.raw
    with pytest.raises(KeyFileError, match="signing public and private keys do not match"):
        open_key_file(data[:72] + other + data[104:], "correct horse ünïcode")


def test_a_small_order_signing_public_key_is_refused_without_the_passphrase(sealed):
    _key, data = sealed
    identity_point = (1).to_bytes(32, "little")
    with pytest.raises(KeyFileError, match="signing public key is invalid"):
        read_public_key(data[:72] + identity_point + data[104:])


def test_version_1_is_still_read_and_has_no_signing_key():
    key = PrivateKey.generate()
    old = seal_private_key_v1(key, "pw", limits=TEST_LIMITS)
    assert len(old) == KEYFILE_V1_BYTES == 144
    opened = open_key_file(old, "pw")
    assert opened.version == 1 and opened.signing is None
    assert opened.private.raw() == key.raw()
    assert read_public_key(old) == key.public_key
    # A version 2 magic on 144 bytes is a damaged version 2 file, not a version 1 one.
    with pytest.raises(KeyFileError, match="wrong length"):
        read_public_key(old[:7] + b"\x02" + old[8:])


def test_sealing_keeps_a_given_signing_key():
    signing = SigningKey.generate()
    data = seal_private_key(PrivateKey.generate(), "pw", signing_key=signing, limits=TEST_LIMITS)
    opened = open_key_file(data, "pw")
    assert opened.signing is not None and opened.signing.seed() == signing.seed()
