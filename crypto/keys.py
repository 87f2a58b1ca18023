"""X25519 key pairs, the public key's text form and its fingerprint.

A public key travels from the reviewer's offline machine to the operator as a
line of text, and the two compare its fingerprint over the phone. The text form
is `refuge-pk1-` followed by the lowercase, unpadded base32 of the 32 key bytes;
anything that does not re-encode to the same string, or whose 32 bytes are not the
one canonical encoding of the X25519 point, is refused, so there is
exactly one way to write each key.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable

import nacl.bindings
import nacl.exceptions
import nacl.hash
import nacl.public
from nacl.encoding import RawEncoder

from crypto.errors import InvalidPublicKey

PUBLIC_KEY_PREFIX = "refuge-pk1-"
KEY_BYTES = 32
#: Bytes of the fingerprint hash shown to people (80 bits, 20 hex digits).
FINGERPRINT_BYTES = 10
#: Bytes of the fingerprint hash that name a recipient inside an envelope.
KEY_ID_BYTES = 8
_FINGERPRINT_PERSON = b"refuge-fpr-v1"
#: Any scalar will do: X25519 clamps it to a multiple of 8, so every low-order
#: point maps to the all-zero output, which libsodium refuses.
_PROBE_SCALAR = bytes([0x42]) * KEY_BYTES
#: The field prime of Curve25519: a u-coordinate is canonical only below it.
FIELD_PRIME = 2**255 - 19

#: A text-form body that is already canonical: 52 lowercase RFC 4648 base32
#: digits, the last one's 4 unused bits zero ("a" is 0, "q" is 16).
_CANONICAL_BODY = re.compile(r"[a-z2-7]{51}[aq]")
#: RFC 4648 base32 digits to the digits int(text, 32) reads, same values.
_TO_INT_DIGITS = str.maketrans(
    "abcdefghijklmnopqrstuvwxyz234567", "0123456789abcdefghijklmnopqrstuv"
)

#: Where randomness comes from: os.urandom, or a seeded source in vector generation.
RandomSource = Callable[[int], bytes]


def is_low_order(raw: bytes) -> bool:
    """True for the X25519 points no secret key has (the all-zero key among them).

    A sealed box to such a point fails inside libsodium, so a key read from
    outside is refused when it is read, not with a library traceback later.
    """
    try:
        nacl.bindings.crypto_scalarmult(_PROBE_SCALAR, raw)
    except nacl.exceptions.RuntimeError:
        return True
    return False


#: The u-coordinates below 2^255 - 19 (bit 255 clear) of X25519's low-order
#: points: 0 (order 2), 1 and p - 1 (order 4, one on the curve, one on its
#: twist) and the two of order 8. They are the canonical entries of the
#: blocklist libsodium's own crypto_scalarmult tests before multiplying
#: (its others, p and p + 1 and the same with bit 255 set, are not canonical).
_LOW_ORDER_CANONICAL = frozenset(
    u.to_bytes(KEY_BYTES, "little")
    for u in (
        0,
        1,
        FIELD_PRIME - 1,
        0xB8495F16056286FDB1329CEB8D09DA6AC49FF1FAE35616AEB8413B7C7AEBE0,
        0x57119FD0DD4E22D8868E1C58C45C44045BEF839C55B1D0B1248C50A3BC959C5F,
    )
)


def is_low_order_canonical(raw: bytes) -> bool:
    """is_low_order for a key already found canonical, without an X25519 multiplication.

    Only for 32 bytes `noncanonical_reason` passed (bit 255 clear, u below
    2^255 - 19): for those it answers as is_low_order does (docs/format.md
    "Conventions" says why; tests/crypto/test_keys.py compares the two on
    every listed point, on the smallest and largest numbers and on random
    keys). A speed trick: a bundle's manifest carries one reply key per case,
    and the multiplication took 58 to 67 microseconds of CPU a key (0.58 s
    for a 10,000-case bundle) where a set lookup takes 0.1.
    """
    return raw in _LOW_ORDER_CANONICAL


def noncanonical_reason(raw: bytes) -> str | None:
    """Why these 32 bytes are not the one encoding of an X25519 public key, or None.

    libsodium ignores bit 255 and reduces u modulo 2^255 - 19, so a key with
    bit 255 set, or with u at or above the prime, is the same point as another
    32-byte string: a second text, fingerprint and key id for one key. An
    envelope sealed to such a text names a key id its holder does not have.
    """
    if raw[31] & 0x80:
        return "bit 255 is set"
    if int.from_bytes(raw, "little") >= FIELD_PRIME:
        return "its number is 2^255 - 19 or more"
    return None


def _fingerprint_hash(raw: bytes) -> bytes:
    return nacl.hash.blake2b(
        raw, digest_size=32, person=_FINGERPRINT_PERSON, encoder=RawEncoder
    )


class PublicKey:
    """A recipient's X25519 public key."""

    __slots__ = ("_key_id", "_text", "raw")

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes) or len(raw) != KEY_BYTES:
            raise InvalidPublicKey("a public key is exactly 32 bytes")
        self.raw = raw
        self._key_id: bytes | None = None
        self._text: str | None = None

    @classmethod
    def from_text(cls, text: str, *, refuse_low_order: bool = True) -> PublicKey:
        """Parse the text form, refusing anything docs/format.md refuses.

        Non-canonical key bytes (bit 255 set, u at or above 2^255 - 19) are
        refused here, always: they are cheap to test. `refuse_low_order=False`
        skips only the last rule, the low-order test
        (one X25519 multiplication), for a caller that runs is_low_order over
        many keys itself and refuses them before using any (crypto.bundle's
        manifest reader, which may spread that work over cores).
        """
        text = text.strip()
        if not text.startswith(PUBLIC_KEY_PREFIX):
            raise InvalidPublicKey(
                f"not a valid refuge-intake public key: it must start with {PUBLIC_KEY_PREFIX!r}"
            )
        body = text[len(PUBLIC_KEY_PREFIX) :]
        if len(body) != 52:
            raise InvalidPublicKey(
                "not a valid refuge-intake public key: wrong length (was it cut short?)"
            )
        if _CANONICAL_BODY.fullmatch(body):
            # Already canonical, which is every key a program wrote: decode in C
            # (a bundle carries one reply key per case, and base64.b32decode and
            # b32encode are Python loops). Anything else takes the path below,
            # which finds the first rule broken.
            raw = (int(body.translate(_TO_INT_DIGITS), 32) >> 4).to_bytes(KEY_BYTES, "big")
            key = cls(raw)
        else:
            try:
                raw = base64.b32decode(body.upper() + "====")
            except (binascii.Error, ValueError):
                raise InvalidPublicKey(
                    "not a valid refuge-intake public key: it contains characters outside base32"
                ) from None
            key = cls(raw)
            if key.to_text() != text:
                raise InvalidPublicKey(
                    "not a valid refuge-intake public key: the key text is not canonical "
                    "(upper-case letters, or non-zero unused bits)"
                )
        reason = noncanonical_reason(raw)
        if reason is not None:
            raise InvalidPublicKey(
                f"not a valid refuge-intake public key: the key text is not canonical ({reason}; "
                "the same X25519 key has another text)"
            )
        if refuse_low_order and is_low_order(raw):
            raise InvalidPublicKey(
                "not a valid refuge-intake public key: it is a low-order point"
            )
        key._text = text
        return key

    def to_text(self) -> str:
        if self._text is None:
            encoded = base64.b32encode(self.raw).decode().rstrip("=").lower()
            self._text = PUBLIC_KEY_PREFIX + encoded
        return self._text

    @property
    def fingerprint(self) -> str:
        """Twenty hex digits in groups of four, to read aloud and compare."""
        digits = _fingerprint_hash(self.raw)[:FINGERPRINT_BYTES].hex()
        return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))

    @property
    def key_id(self) -> bytes:
        """The short identifier that names this key in an envelope's stanza."""
        # Kept once computed: opening an envelope looks up the key id of each
        # of the reviewer's keys, and an import opens thousands.
        if self._key_id is None:
            self._key_id = _fingerprint_hash(self.raw)[:KEY_ID_BYTES]
        return self._key_id

    def to_nacl(self) -> nacl.public.PublicKey:
        return nacl.public.PublicKey(self.raw)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"PublicKey({self.fingerprint!r})"


class PrivateKey:
    """An X25519 private key, held in memory only while a command runs."""

    __slots__ = ("_pk", "_sk")

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes) or len(raw) != KEY_BYTES:
            raise ValueError("a private key is exactly 32 bytes")
        self._sk = nacl.public.PrivateKey(raw)
        # One PublicKey for the life of the key, so its key id is computed once.
        self._pk = PublicKey(bytes(self._sk.public_key))

    @classmethod
    def generate(cls) -> PrivateKey:
        return cls(bytes(nacl.public.PrivateKey.generate()))

    @property
    def public_key(self) -> PublicKey:
        return self._pk

    def to_nacl(self) -> nacl.public.PrivateKey:
        return self._sk

    def raw(self) -> bytes:
        return bytes(self._sk)

    def __repr__(self) -> str:
        return f"PrivateKey(public={self.public_key.fingerprint!r})"
