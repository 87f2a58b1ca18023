"""The session box: a small secret sealed under a key only the server holds.

Flask's session cookie is signed, not encrypted: whatever the server puts in
it, the browser (and anything that reads the browser's cookie store) can read.
The applicant's reply private key must live somewhere between requests so the
case page can decrypt replies without asking for the codename again; it goes
into the cookie sealed with secretbox under a key derived from the server's
secret key. Neither the cookie alone nor the server alone yields the key.

The box key is BLAKE2b-256 over a label, keyed with the server's secret
(docs/format.md, "Session box"). The label names what the box holds and whom
it belongs to (e.g. the case id), so a box copied into another session, or
made for another purpose, does not open.
"""

from __future__ import annotations

import nacl.exceptions
import nacl.hash
import nacl.secret
import nacl.utils
from nacl.encoding import RawEncoder

from crypto.errors import CryptoError

KEY_BYTES = 32
MIN_SECRET_BYTES = 16
#: BLAKE2b takes a key of at most 64 bytes; a longer secret is hashed down first.
MAX_DIRECT_SECRET_BYTES = 64
#: At most this much may be sealed: the box is for keys, not documents.
MAX_SECRET_BYTES = 1024

_PERSON_LONG = b"refuge-sbox-pre1"
_PERSON_KEY = b"refuge-sbox-key1"


class SessionBoxError(CryptoError):
    message = "the sealed session value cannot be opened"


def derive_key(server_secret: bytes, label: bytes) -> bytes:
    """The 32-byte box key for `label`: BLAKE2b-256(label; key=secret, person)."""
    if len(server_secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the server secret must be at least {MIN_SECRET_BYTES} bytes")
    if len(server_secret) > MAX_DIRECT_SECRET_BYTES:
        server_secret = nacl.hash.blake2b(
            server_secret, digest_size=64, person=_PERSON_LONG, encoder=RawEncoder
        )
    key: bytes = nacl.hash.blake2b(
        label, digest_size=KEY_BYTES, key=server_secret, person=_PERSON_KEY, encoder=RawEncoder
    )
    return key


def seal(key: bytes, secret: bytes) -> bytes:
    """nonce (24 random bytes) || secretbox(secret); 40 bytes longer than `secret`."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"a session box key is {KEY_BYTES} bytes")
    if len(secret) > MAX_SECRET_BYTES:
        raise ValueError(f"at most {MAX_SECRET_BYTES} bytes can be sealed")
    box = nacl.secret.SecretBox(key)
    return bytes(box.encrypt(secret, nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)))


def open_box(key: bytes, sealed: object) -> bytes:
    """The secret, or SessionBoxError for anything that is not a box sealed under `key`."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"a session box key is {KEY_BYTES} bytes")
    overhead = nacl.secret.SecretBox.NONCE_SIZE + nacl.secret.SecretBox.MACBYTES
    if not isinstance(sealed, bytes) or not overhead <= len(sealed) <= overhead + MAX_SECRET_BYTES:
        raise SessionBoxError()
    try:
        return bytes(nacl.secret.SecretBox(key).decrypt(sealed))
    except nacl.exceptions.CryptoError:
        raise SessionBoxError() from None
