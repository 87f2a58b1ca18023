"""The bundle code's speed tricks, each one named function that could be removed.

Nothing here changes what a bundle is or which bundle is accepted: each
function gives the same result as the plain code its docstring names, faster,
and says what it buys, measured. The format (format.py), the manifest rules
(manifest.py) and the reading and writing (reader.py, writer.py) call these
and hold no trick themselves.
"""

from __future__ import annotations

import hmac

import nacl.bindings
from nacl._sodium import ffi as _ffi
from nacl._sodium import lib as _lib

from crypto.bundle.format import DIGEST_BYTES, PERSON_MEMBER

#: The member hash with its parameters set, checked once by PyNaCl; a member of
#: more than one chunk starts from a copy of it (see member_hash).
_MEMBER_HASH_INIT = nacl.bindings.crypto_generichash_blake2b_init(
    person=PERSON_MEMBER, digest_size=DIGEST_BYTES
)
#: The personalisation zero-padded as PyNaCl pads it, and its all-zero salt.
_PERSON_PADDED = PERSON_MEMBER.ljust(nacl.bindings.crypto_generichash_PERSONALBYTES, b"\0")
_NO_SALT = bytes(nacl.bindings.crypto_generichash_SALTBYTES)


def _one_shot(data: bytes) -> bytes:
    """The member hash of `data` in one libsodium call (see MemberHash)."""
    out = _ffi.new("unsigned char[]", DIGEST_BYTES)
    rc = _lib.crypto_generichash_blake2b_salt_personal(
        out, DIGEST_BYTES, data, len(data), _ffi.NULL, 0, _NO_SALT, _PERSON_PADDED
    )
    if rc != 0:  # libsodium refuses only out-of-range sizes, which these are not
        raise RuntimeError("crypto_generichash_blake2b_salt_personal failed")
    return bytes(_ffi.buffer(out, DIGEST_BYTES))


class MemberHash:
    """libsodium BLAKE2b-256, personalisation `refuge-bndl-mb1`, for one member.

    The first chunk is held until a second arrives: a member of one chunk (every
    envelope under COPY_CHUNK, which is most of a submissions bundle) is hashed
    in one libsodium call at `digest` (`_one_shot`), without a streaming state.
    """

    __slots__ = ("_first", "_state")

    def __init__(self) -> None:
        self._first: bytes | None = None
        self._state: nacl.bindings.crypto_generichash.Blake2State | None = None

    def update(self, data: bytes) -> None:
        if self._state is None:
            if self._first is None:
                self._first = bytes(data)
                return
            self._state = _MEMBER_HASH_INIT.copy()
            nacl.bindings.crypto_generichash_blake2b_update(self._state, self._first)
            self._first = None
        nacl.bindings.crypto_generichash_blake2b_update(self._state, data)

    def digest(self) -> bytes:
        """The digest; call once (it finalises the state)."""
        if self._state is None:
            return _one_shot(self._first if self._first is not None else b"")
        digest: bytes = nacl.bindings.crypto_generichash_blake2b_final(self._state)
        return digest

    def hexdigest(self) -> str:
        return self.digest().hex()


def member_hash() -> MemberHash:
    """A fresh member hash: the plain code is
    `nacl.hashlib.blake2b(digest_size=32, person=b"refuge-bndl-mb1")`.

    What it buys: PyNaCl checks and pads the parameters and builds a new
    state for each nacl.hashlib.blake2b; a bundle has one member per envelope,
    and for a small envelope that set-up cost more than the hashing. Here the
    state is initialised once and a member of several chunks starts from a
    copy, through PyNaCl's own libsodium binding. Measured (CPU time, 2 shared
    cores): a 1,500-byte member hashed 20,000 times, 0.26 s plainly and 0.12 s
    this way, about 7 microseconds a member: 0.07 s of reading a 10,000-member
    bundle, and as much again in writing one. A member of one chunk is hashed
    in one call (`_one_shot`, libsodium's crypto_generichash_blake2b_salt_personal
    with no key, the function nacl.hash.blake2b calls) instead of the state's
    copy, update and final, each checked by PyNaCl: a 4,300-byte member (an
    answers envelope) 10.4 against 6.8 to 7.5 microseconds (timeit, CPU time,
    best of 5, three alternated runs), about 35 ms of the parent's reading of a
    10,000-case bundle, a part of the import no other process shares.
    """
    return MemberHash()


def member_digest_matches(digest: bytes, listed: str) -> bool:
    """Whether a member's digest is the one the manifest lists (64 hex digits).

    The plain code: `nacl.bindings.sodium_memcmp(digest, bytes.fromhex(listed))`.
    hmac.compare_digest gives the same answer, also in constant time, without
    PyNaCl's argument checks and buffers: 3.2 to 5.7 against 0.5 microseconds
    a member (timeit, best of 5, three runs), 30 to 50 ms of the command's own
    process for a 10,000-case bundle, while it reads the members. The digest
    covers ciphertext the bundle carries in the open, so no secret is compared.
    """
    return hmac.compare_digest(digest, bytes.fromhex(listed))
