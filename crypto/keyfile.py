"""Reviewer private-key files, encrypted under a passphrase.

The file is 144 bytes (docs/format.md, "Key file"): a magic, the Argon2id
limits, the salt, the public key in the clear (so `pubkey` needs no
passphrase), and the private key in a secretbox under the Argon2id output.
Limits are stored so they can be raised later without breaking old files, but
a file asking for limits outside a fixed range is refused before any work.
"""

from __future__ import annotations

import os
import struct
import unicodedata

import nacl.bindings
import nacl.exceptions
import nacl.pwhash.argon2id
import nacl.secret
import nacl.utils

from crypto.errors import KeyFileError, UnsupportedKeyFile, WrongPassphrase
from crypto.keys import (
    KEY_BYTES,
    PrivateKey,
    PublicKey,
    RandomSource,
    is_low_order,
    noncanonical_reason,
)
from crypto.params import (
    KEYFILE_LIMITS,
    KEYFILE_MEMLIMIT_RANGE,
    KEYFILE_OPSLIMIT_RANGE,
    Argon2Limits,
)

KEYFILE_MAGIC = b"RFGKEY\x00\x01"
_MAGIC_PREFIX = KEYFILE_MAGIC[:6]
_SALT_BYTES = nacl.pwhash.argon2id.SALTBYTES  # 16
_NONCE_BYTES = nacl.secret.SecretBox.NONCE_SIZE  # 24
_BOX_BYTES = KEY_BYTES + nacl.secret.SecretBox.MACBYTES  # 48
_LIMITS = struct.Struct("<QQ")
KEYFILE_BYTES = len(KEYFILE_MAGIC) + _LIMITS.size + _SALT_BYTES + KEY_BYTES + _NONCE_BYTES + _BOX_BYTES


def normalise_passphrase(passphrase: str) -> bytes:
    """NFC-normalise so the same passphrase typed on another keyboard still works."""
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def _derive(passphrase: str, salt: bytes, limits: Argon2Limits) -> bytes:
    return nacl.pwhash.argon2id.kdf(
        nacl.secret.SecretBox.KEY_SIZE,
        normalise_passphrase(passphrase),
        salt,
        opslimit=limits.opslimit,
        memlimit=limits.memlimit,
    )


def seal_private_key(
    key: PrivateKey,
    passphrase: str,
    *,
    limits: Argon2Limits = KEYFILE_LIMITS,
    random: RandomSource = os.urandom,
) -> bytes:
    """Return the bytes of a key file holding `key` under `passphrase`."""
    if not passphrase:
        raise KeyFileError("the passphrase must not be empty")
    if not _limits_supported(limits.opslimit, limits.memlimit):
        # A file we could not open again would lock the reviewer out of their key.
        raise ValueError("Argon2 limits outside the range a key file may carry")
    salt = random(_SALT_BYTES)
    nonce = random(_NONCE_BYTES)
    if len(salt) != _SALT_BYTES or len(nonce) != _NONCE_BYTES:
        raise ValueError("the random source returned too few bytes")
    box_key = _derive(passphrase, salt, limits)
    boxed = nacl.bindings.crypto_secretbox(key.raw(), nonce, box_key)
    out = (
        KEYFILE_MAGIC
        + _LIMITS.pack(limits.opslimit, limits.memlimit)
        + salt
        + key.public_key.raw
        + nonce
        + boxed
    )
    if len(out) != KEYFILE_BYTES:  # a layout change that forgot the spec
        raise KeyFileError("internal error: key file has the wrong length")
    return out


def _limits_supported(opslimit: int, memlimit: int) -> bool:
    return (
        KEYFILE_OPSLIMIT_RANGE[0] <= opslimit <= KEYFILE_OPSLIMIT_RANGE[1]
        and KEYFILE_MEMLIMIT_RANGE[0] <= memlimit <= KEYFILE_MEMLIMIT_RANGE[1]
    )


def _parse(data: bytes) -> tuple[Argon2Limits, bytes, PublicKey, bytes, bytes]:
    if len(data) < len(KEYFILE_MAGIC) or data[:6] != _MAGIC_PREFIX:
        raise KeyFileError("not a refuge-intake key file")
    if data[: len(KEYFILE_MAGIC)] != KEYFILE_MAGIC:
        raise UnsupportedKeyFile("this key file was made by a newer, unknown version")
    if len(data) != KEYFILE_BYTES:
        raise KeyFileError("the key file is damaged: wrong length")
    pos = len(KEYFILE_MAGIC)
    opslimit, memlimit = _LIMITS.unpack_from(data, pos)
    pos += _LIMITS.size
    if not _limits_supported(opslimit, memlimit):
        raise UnsupportedKeyFile("the key file asks for Argon2 limits outside the supported range")
    salt = data[pos : pos + _SALT_BYTES]
    pos += _SALT_BYTES
    public = PublicKey(data[pos : pos + KEY_BYTES])
    if noncanonical_reason(public.raw) is not None or is_low_order(public.raw):
        raise KeyFileError("the key file is damaged: its public key is invalid")
    pos += KEY_BYTES
    nonce = data[pos : pos + _NONCE_BYTES]
    pos += _NONCE_BYTES
    boxed = data[pos:]
    return Argon2Limits(opslimit, memlimit), salt, public, nonce, boxed


def read_public_key(data: bytes) -> PublicKey:
    """The public key of a key file, without the passphrase."""
    return _parse(data)[2]


def open_private_key(data: bytes, passphrase: str) -> PrivateKey:
    """Unlock a key file. Raises WrongPassphrase, KeyFileError or UnsupportedKeyFile."""
    limits, salt, public, nonce, boxed = _parse(data)
    box_key = _derive(passphrase, salt, limits)
    try:
        raw = nacl.bindings.crypto_secretbox_open(boxed, nonce, box_key)
    except nacl.exceptions.CryptoError:
        raise WrongPassphrase() from None
    key = PrivateKey(raw)
    if key.public_key != public:
        raise KeyFileError("the key file is damaged: its public and private keys do not match")
    return key

