"""Reviewer private-key files, encrypted under a passphrase.

The file (docs/format.md, "Key file") is a magic, the Argon2id limits, the
salt, the public keys in the clear (so `pubkey` needs no passphrase), and the
private keys in a secretbox under the Argon2id output. Version 2 (208 bytes)
holds the X25519 key and the Ed25519 signing key of team records
(docs/team.md); version 1 (144 bytes, the X25519 key alone) is still read,
and reviewer.keyring rewrites it as version 2 on first unlock.
Limits are stored so they can be raised later without breaking old files, but
a file asking for limits outside a fixed range is refused before any work.
"""

from __future__ import annotations

import os
import struct
import unicodedata
from dataclasses import dataclass

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
from crypto.signing import SEED_BYTES, SIGNING_KEY_BYTES, SigningKey, is_valid_point

#: Version 2, written by this version: the X25519 key and the Ed25519 signing key.
KEYFILE_MAGIC = b"RFGKEY\x00\x02"
#: Version 1, still read (and upgraded by reviewer.keyring on first unlock).
KEYFILE_MAGIC_V1 = b"RFGKEY\x00\x01"
_MAGIC_PREFIX = KEYFILE_MAGIC[:6]
_SALT_BYTES = nacl.pwhash.argon2id.SALTBYTES  # 16
_NONCE_BYTES = nacl.secret.SecretBox.NONCE_SIZE  # 24
_MAC_BYTES = nacl.secret.SecretBox.MACBYTES  # 16
_LIMITS = struct.Struct("<QQ")
_HEAD_BYTES = len(KEYFILE_MAGIC) + _LIMITS.size + _SALT_BYTES  # 40
#: Version 1: head, X25519 public key, nonce, secretbox(X25519 secret).
KEYFILE_V1_BYTES = _HEAD_BYTES + KEY_BYTES + _NONCE_BYTES + _MAC_BYTES + KEY_BYTES  # 144
#: Version 2: head, X25519 public key, Ed25519 public key, nonce,
#: secretbox(X25519 secret || Ed25519 seed).
KEYFILE_BYTES = (
    _HEAD_BYTES + KEY_BYTES + SIGNING_KEY_BYTES + _NONCE_BYTES + _MAC_BYTES + KEY_BYTES + SEED_BYTES
)  # 208


@dataclass(frozen=True)
class OpenedKeyFile:
    """What a key file holds once unlocked.

    `signing` is None for a version 1 file (made before signing keys), which
    the caller upgrades with `seal_private_key` under the same passphrase and
    `limits`.
    """

    private: PrivateKey
    signing: SigningKey | None
    limits: Argon2Limits
    version: int


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


def _salt_nonce_key(
    passphrase: str, limits: Argon2Limits, random: RandomSource
) -> tuple[bytes, bytes, bytes]:
    if not passphrase:
        raise KeyFileError("the passphrase must not be empty")
    if not _limits_supported(limits.opslimit, limits.memlimit):
        # A file we could not open again would lock the reviewer out of their key.
        raise ValueError("Argon2 limits outside the range a key file may carry")
    salt = random(_SALT_BYTES)
    nonce = random(_NONCE_BYTES)
    if len(salt) != _SALT_BYTES or len(nonce) != _NONCE_BYTES:
        raise ValueError("the random source returned too few bytes")
    return salt, nonce, _derive(passphrase, salt, limits)


def seal_private_key(
    key: PrivateKey,
    passphrase: str,
    *,
    signing_key: SigningKey | None = None,
    limits: Argon2Limits = KEYFILE_LIMITS,
    random: RandomSource = os.urandom,
) -> bytes:
    """Return the bytes of a version 2 key file holding `key` and a signing key.

    Without `signing_key` a new one is made (its seed drawn from `random` after
    the salt and the nonce).
    """
    salt, nonce, box_key = _salt_nonce_key(passphrase, limits, random)
    if signing_key is None:
        signing_key = SigningKey.generate(random)
    boxed = nacl.bindings.crypto_secretbox(key.raw() + signing_key.seed(), nonce, box_key)
    out = (
        KEYFILE_MAGIC
        + _LIMITS.pack(limits.opslimit, limits.memlimit)
        + salt
        + key.public_key.raw
        + signing_key.public_key.raw
        + nonce
        + boxed
    )
    if len(out) != KEYFILE_BYTES:  # a layout change that forgot the spec
        raise KeyFileError("internal error: key file has the wrong length")
    return out


def seal_private_key_v1(
    key: PrivateKey,
    passphrase: str,
    *,
    limits: Argon2Limits = KEYFILE_LIMITS,
    random: RandomSource = os.urandom,
) -> bytes:
    """A version 1 key file (no signing key), as versions before signing keys wrote.

    For the vectors and the upgrade's tests only: nothing in the tools writes
    version 1 any more.
    """
    salt, nonce, box_key = _salt_nonce_key(passphrase, limits, random)
    boxed = nacl.bindings.crypto_secretbox(key.raw(), nonce, box_key)
    out = (
        KEYFILE_MAGIC_V1
        + _LIMITS.pack(limits.opslimit, limits.memlimit)
        + salt
        + key.public_key.raw
        + nonce
        + boxed
    )
    if len(out) != KEYFILE_V1_BYTES:  # the layout above is fixed: a length off is a bug here
        raise RuntimeError(f"a version 1 key file of {len(out)} bytes")
    return out


def _limits_supported(opslimit: int, memlimit: int) -> bool:
    return (
        KEYFILE_OPSLIMIT_RANGE[0] <= opslimit <= KEYFILE_OPSLIMIT_RANGE[1]
        and KEYFILE_MEMLIMIT_RANGE[0] <= memlimit <= KEYFILE_MEMLIMIT_RANGE[1]
    )


@dataclass(frozen=True)
class _Parsed:
    version: int
    limits: Argon2Limits
    salt: bytes
    public: PublicKey
    signing_public: bytes | None
    nonce: bytes
    boxed: bytes


def _parse(data: bytes) -> _Parsed:
    """Checks 1 to 6 of docs/format.md "Key file": everything but the passphrase."""
    if len(data) < len(KEYFILE_MAGIC) or data[:6] != _MAGIC_PREFIX:
        raise KeyFileError("not a refuge-intake key file")
    if data[:8] == KEYFILE_MAGIC:
        version, length = 2, KEYFILE_BYTES
    elif data[:8] == KEYFILE_MAGIC_V1:
        version, length = 1, KEYFILE_V1_BYTES
    else:
        raise UnsupportedKeyFile("this key file was made by a newer, unknown version")
    if len(data) != length:
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
    signing_public: bytes | None = None
    if version == 2:
        signing_public = data[pos : pos + SIGNING_KEY_BYTES]
        if not is_valid_point(signing_public):
            raise KeyFileError("the key file is damaged: its signing public key is invalid")
        pos += SIGNING_KEY_BYTES
    nonce = data[pos : pos + _NONCE_BYTES]
    pos += _NONCE_BYTES
    return _Parsed(version, Argon2Limits(opslimit, memlimit), salt, public, signing_public,
                   nonce, data[pos:])


def read_public_key(data: bytes) -> PublicKey:
    """The X25519 public key of a key file, without the passphrase."""
    return _parse(data).public


def key_file_version(data: bytes) -> int:
    """1 or 2, once the checks that need no passphrase have passed."""
    return _parse(data).version


def open_key_file(data: bytes, passphrase: str) -> OpenedKeyFile:
    """Unlock a key file of either version. Raises WrongPassphrase, KeyFileError or
    UnsupportedKeyFile."""
    parsed = _parse(data)
    box_key = _derive(passphrase, parsed.salt, parsed.limits)
    try:
        raw = nacl.bindings.crypto_secretbox_open(parsed.boxed, parsed.nonce, box_key)
    except nacl.exceptions.CryptoError:
        raise WrongPassphrase() from None
    key = PrivateKey(raw[:KEY_BYTES])
    if key.public_key != parsed.public:
        raise KeyFileError("the key file is damaged: its public and private keys do not match")
    signing: SigningKey | None = None
    if parsed.version == 2:
        signing = SigningKey(raw[KEY_BYTES:])
        if signing.public_key.raw != parsed.signing_public:
            raise KeyFileError(
                "the key file is damaged: its signing public and private keys do not match"
            )
    return OpenedKeyFile(key, signing, parsed.limits, parsed.version)


def open_private_key(data: bytes, passphrase: str) -> PrivateKey:
    """Unlock a key file's X25519 key. Raises WrongPassphrase, KeyFileError or
    UnsupportedKeyFile."""
    return open_key_file(data, passphrase).private
