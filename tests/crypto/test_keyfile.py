"""Passphrase-protected key files."""

import struct

import pytest

from crypto.errors import KeyFileError, UnsupportedKeyFile, WrongPassphrase
from crypto.keyfile import (
    KEYFILE_BYTES,
    open_private_key,
    read_public_key,
    seal_private_key,
)
from crypto.keys import PrivateKey
from crypto.params import KEYFILE_LIMITS, TEST_LIMITS, Argon2Limits


@pytest.fixture(scope="module")
def sealed():
    key = PrivateKey.generate()
    return key, seal_private_key(key, "correct horse ünïcode", limits=TEST_LIMITS)


def test_round_trip_and_public_key_without_passphrase(sealed):
    key, data = sealed
    assert len(data) == KEYFILE_BYTES == 144
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


@pytest.mark.parametrize("offset", [40, 70, 100, 130, 143])
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
        read_public_key(data[:7] + b"\x02" + data[8:])


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
