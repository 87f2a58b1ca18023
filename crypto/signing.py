"""Ed25519 signing keys: who wrote a team record.

Envelopes are anonymous (any recipient can make one the others accept), so a
team record carries an Ed25519 signature by its author (docs/team.md). The
signing key lives in the reviewer's key file beside the X25519 key
(crypto.keyfile, version 2). Its public half has a text form, like the X25519
key's, and a fingerprint under its own personalisation, so the two can never
be mistaken for each other:

    refuge-sig1-<52 lowercase base32 digits, unpadded, last digit's unused bits zero>

A public key is refused unless it is the one canonical encoding of an Ed25519
point that is not of small order (libsodium's crypto_core_ed25519_is_valid_point).
"""

from __future__ import annotations

import base64
import binascii
import os

import nacl.bindings
import nacl.exceptions
import nacl.hash
import nacl.signing
from nacl.encoding import RawEncoder

from crypto.errors import InvalidPublicKey
from crypto.keys import FINGERPRINT_BYTES, RandomSource

SIGNING_KEY_PREFIX = "refuge-sig1-"
SIGNING_KEY_BYTES = 32
SEED_BYTES = 32
SIGNATURE_BYTES = 64
_FINGERPRINT_PERSON = b"refuge-sfpr-v1"


def is_valid_point(raw: bytes) -> bool:
    """True for 32 bytes that are a canonical Ed25519 point not of small order."""
    return len(raw) == SIGNING_KEY_BYTES and bool(
        nacl.bindings.crypto_core_ed25519_is_valid_point(raw)
    )


class SigningPublicKey:
    """An author's Ed25519 public key (a team record's `author`)."""

    __slots__ = ("raw",)

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes) or not is_valid_point(raw):
            raise InvalidPublicKey("not a valid refuge-intake signing key")
        self.raw = raw

    @classmethod
    def from_text(cls, text: str) -> SigningPublicKey:
        """Parse the text form exactly (no surrounding whitespace is allowed)."""
        if not isinstance(text, str) or not text.startswith(SIGNING_KEY_PREFIX):
            raise InvalidPublicKey(
                f"not a valid refuge-intake signing key: it must start with {SIGNING_KEY_PREFIX!r}"
            )
        body = text[len(SIGNING_KEY_PREFIX) :]
        if len(body) != 52:
            raise InvalidPublicKey("not a valid refuge-intake signing key: wrong length")
        try:
            raw = base64.b32decode(body.upper() + "====")
        except (binascii.Error, ValueError):
            raise InvalidPublicKey(
                "not a valid refuge-intake signing key: it contains characters outside base32"
            ) from None
        if _text(raw) != text:
            raise InvalidPublicKey("not a valid refuge-intake signing key: the text is not canonical")
        return cls(raw)

    def to_text(self) -> str:
        return _text(self.raw)

    @property
    def fingerprint(self) -> str:
        """Twenty hex digits in groups of four (BLAKE2b-256, person refuge-sfpr-v1)."""
        h = nacl.hash.blake2b(
            self.raw, digest_size=32, person=_FINGERPRINT_PERSON, encoder=RawEncoder
        )
        digits = h[:FINGERPRINT_BYTES].hex()
        return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True if `signature` is this key's Ed25519 signature of `message`."""
        if len(signature) != SIGNATURE_BYTES:
            return False
        try:
            nacl.bindings.crypto_sign_open(signature + message, self.raw)
        except nacl.exceptions.BadSignatureError:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SigningPublicKey) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"SigningPublicKey({self.fingerprint!r})"


def _text(raw: bytes) -> str:
    return SIGNING_KEY_PREFIX + base64.b32encode(raw).decode().rstrip("=").lower()


class SigningKey:
    """An Ed25519 signing key, held in memory only while a command runs."""

    __slots__ = ("_public", "_sk")

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, bytes) or len(seed) != SEED_BYTES:
            raise ValueError("a signing key seed is exactly 32 bytes")
        self._sk = nacl.signing.SigningKey(seed)
        self._public = SigningPublicKey(bytes(self._sk.verify_key))

    @classmethod
    def generate(cls, random: RandomSource = os.urandom) -> SigningKey:
        seed = random(SEED_BYTES)
        if len(seed) != SEED_BYTES:
            raise ValueError("the random source returned too few bytes")
        return cls(seed)

    @property
    def public_key(self) -> SigningPublicKey:
        return self._public

    def seed(self) -> bytes:
        return bytes(self._sk)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of `message` (detached)."""
        return bytes(self._sk.sign(message).signature)

    def __repr__(self) -> str:
        return f"SigningKey(public={self._public.fingerprint!r})"
