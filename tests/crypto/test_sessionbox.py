"""crypto.sessionbox: seal and open a small secret under a key derived from the server secret."""

from __future__ import annotations

import hashlib

import pytest

from crypto.sessionbox import SessionBoxError, derive_key, open_box, seal

SECRET = bytes(range(32))


def test_round_trip_and_size() -> None:
    key = derive_key(SECRET, b"reply-key abc")
    sealed = seal(key, b"k" * 32)
    assert len(sealed) == 32 + 40
    assert open_box(key, sealed) == b"k" * 32
    assert seal(key, b"k" * 32) != sealed  # a fresh nonce each time


def test_key_is_keyed_blake2b_of_the_label() -> None:
    expected = hashlib.blake2b(b"label", digest_size=32, key=SECRET,
                               person=b"refuge-sbox-key1").digest()
    assert derive_key(SECRET, b"label") == expected


def test_other_label_secret_or_tampering_does_not_open() -> None:
    key = derive_key(SECRET, b"reply-key a")
    sealed = seal(key, b"secret")
    for wrong_key in (derive_key(SECRET, b"reply-key b"), derive_key(bytes(32), b"reply-key a")):
        with pytest.raises(SessionBoxError):
            open_box(wrong_key, sealed)
    for bad in (sealed[:-1], sealed[:10], sealed + b"x", bytes([sealed[0] ^ 1]) + sealed[1:],
                "text", None, b""):
        with pytest.raises(SessionBoxError):
            open_box(key, bad)


def test_secret_lengths() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        derive_key(b"short", b"x")
    long = b"a very long secret key string given in the environment " * 3
    assert len(derive_key(long, b"x")) == 32
    assert derive_key(long, b"x") != derive_key(long + b"!", b"x")
    with pytest.raises(ValueError):
        seal(b"short", b"x")
    with pytest.raises(ValueError):
        seal(derive_key(SECRET, b"x"), b"x" * 2000)
