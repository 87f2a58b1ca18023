"""The envelope: one encrypted object, streamed in both directions.

Layout (docs/format.md, "Envelope"): a header of magic and version, one stanza
per recipient (an 8-byte key id and the 32-byte file key in an X25519 sealed
box), the secretstream header, and a keyed BLAKE2b MAC over all of it; then
the payload as XChaCha20-Poly1305 secretstream chunks of 64 KiB with a final
tag. The content is followed by a 0x80 marker and zero padding (the chunk
holding the marker carries the PUSH tag) so that stored sizes say little about
what is inside.

Memory stays flat: the writer holds at most one chunk and the reader one
chunk plus what the caller asks for. The reader hands out a chunk's plaintext
only after that chunk has authenticated; it raises at the end if the stream
was truncated, so a caller writing to disk must discard its output on error
(`decrypt` into a file that is renamed only on success, as the CLI does).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO

import nacl.bindings as sodium
import nacl.exceptions
import nacl.public
from nacl._sodium import ffi as _ffi
from nacl._sodium import lib as _lib

from crypto.errors import (
    ChunkAuthError,
    EncryptError,
    HeaderError,
    HeaderMacError,
    NoMatch,
    NonZeroPaddingError,
    NotAnEnvelope,
    PaddingError,
    PaddingLengthError,
    PayloadError,
    StanzaError,
    TrailingDataError,
    TruncatedError,
    UnsupportedVersion,
)
from crypto.keys import KEY_ID_BYTES, PrivateKey, PublicKey, RandomSource, is_low_order

MAGIC = b"RFGENV\x00\x01"
MAGIC_PREFIX = MAGIC[:6]
MAX_RECIPIENTS = 32
FILE_KEY_BYTES = 32
SEALED_BYTES = FILE_KEY_BYTES + sodium.crypto_box_SEALBYTES  # 80
STANZA_BYTES = KEY_ID_BYTES + SEALED_BYTES  # 88
STREAM_HEADER_BYTES = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES  # 24
MAC_BYTES = 32
CHUNK_SIZE = 64 * 1024
ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES  # 17
CHUNK_CT_SIZE = CHUNK_SIZE + ABYTES
#: Contents shorter than this are padded up to it, so short answers all look alike.
MIN_PADDED_SIZE = 4096

TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
TAG_PUSH = sodium.crypto_secretstream_xchacha20poly1305_TAG_PUSH
TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL

_PERSON_PAYLOAD = b"refuge-payload"
_PERSON_MAC = b"refuge-hdr-mac"
_ZERO_CHUNK = bytes(CHUNK_SIZE)


_NO_SALT = bytes(sodium.crypto_generichash_SALTBYTES)


def _keyed_blake2b(data: bytes, key: bytes, person: bytes) -> bytes:
    """32-byte keyed BLAKE2b with a personalisation: libsodium's
    crypto_generichash_blake2b_salt_personal, the function nacl.hash.blake2b calls.

    Called directly through PyNaCl's libsodium binding because the wrapper's
    parameter checks cost five times the hash itself (about 14 us against
    2.5 us), three times per envelope; that was a quarter of opening a small
    envelope, paid 10,000 times by a reviewer importing 10,000 cases. Every
    argument here is fixed by this module (a 32-byte key; a constant
    personalisation of at most 16 bytes, or none, zero-padded exactly as PyNaCl
    pads it; no salt), and is checked here all the same;
    tests/crypto/test_envelope.py checks the result equals nacl.hash.blake2b.
    """
    if len(key) != FILE_KEY_BYTES or len(person) > sodium.crypto_generichash_PERSONALBYTES:
        raise ValueError("a 32-byte key and a personalisation of at most 16 bytes")
    out = _ffi.new("unsigned char[]", MAC_BYTES)
    padded = person.ljust(sodium.crypto_generichash_PERSONALBYTES, b"\0")
    rc = _lib.crypto_generichash_blake2b_salt_personal(
        out, MAC_BYTES, data, len(data), key, len(key), _NO_SALT, padded
    )
    if rc != 0:  # libsodium refuses only out-of-range sizes, which these are not
        raise RuntimeError("crypto_generichash_blake2b_salt_personal failed")
    return bytes(_ffi.buffer(out, MAC_BYTES))


def _subkey(file_key: bytes, person: bytes) -> bytes:
    return _keyed_blake2b(b"", file_key, person)


def _header_mac(file_key: bytes, header: bytes) -> bytes:
    return _keyed_blake2b(header, _subkey(file_key, _PERSON_MAC), b"")


def padded_size(length: int) -> int:
    """The padded plaintext size for `length` bytes (content plus marker).

    Padmé (Nikitin et al., PETS 2019), with a floor of MIN_PADDED_SIZE.

    Leaks O(log log n) bits of the length; above the floor it adds at most
    6.25% (1/16, reached just past 4 KiB) and less as sizes grow.
    """
    if length <= MIN_PADDED_SIZE:
        return MIN_PADDED_SIZE
    e = length.bit_length() - 1
    s = e.bit_length()
    mask = (1 << (e - s)) - 1
    return (length + mask) & ~mask


class EnvelopeWriter:
    """Encrypts a stream of writes into `dst`. Call `close()` to finish.

    The header is written at construction; `write` emits each 64 KiB chunk of
    content as soon as it is full (the end-of-content marker always follows in
    a later chunk, so a full content chunk is never the last); `close` writes
    the marker chunk, the padding and the final tag. Nothing is written to `dst`
    that is not ciphertext.
    """

    def __init__(
        self,
        dst: BinaryIO,
        recipients: Sequence[PublicKey],
        *,
        random: RandomSource = os.urandom,
    ) -> None:
        if not recipients:
            raise EncryptError("cannot encrypt: no recipient keys")
        if len(recipients) > MAX_RECIPIENTS:
            raise EncryptError(f"cannot encrypt: more than {MAX_RECIPIENTS} recipients")
        if len({r.key_id for r in recipients}) != len(recipients):
            raise EncryptError("cannot encrypt: the same recipient is named twice")
        self._dst = dst
        file_key = random(FILE_KEY_BYTES)
        if len(file_key) != FILE_KEY_BYTES:
            raise EncryptError("cannot encrypt: the random source returned too few bytes")
        header = bytearray(MAGIC)
        header.append(len(recipients))
        for recipient in recipients:
            if is_low_order(recipient.raw):
                raise EncryptError("cannot encrypt: a recipient key is not a usable public key")
            header += recipient.key_id
            header += nacl.public.SealedBox(recipient.to_nacl()).encrypt(file_key)
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        stream_header = sodium.crypto_secretstream_xchacha20poly1305_init_push(
            self._state, _subkey(file_key, _PERSON_PAYLOAD)
        )
        header += stream_header
        header += _header_mac(file_key, bytes(header))
        dst.write(bytes(header))
        self._buffer = bytearray()
        self._length = 0
        self._closed = False

    def _push(self, chunk: bytes, tag: int) -> None:
        self._dst.write(
            sodium.crypto_secretstream_xchacha20poly1305_push(self._state, chunk, None, tag)
        )

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closed:
            raise ValueError("write to a closed EnvelopeWriter")
        self._length += len(data)
        if not self._buffer and len(data) >= CHUNK_SIZE:
            # Large writes: push whole chunks straight from the caller's buffer.
            view = memoryview(data)
            full = len(view) // CHUNK_SIZE * CHUNK_SIZE
            for start in range(0, full, CHUNK_SIZE):
                self._push(bytes(view[start : start + CHUNK_SIZE]), TAG_MESSAGE)
            self._buffer += view[full:]
            return
        self._buffer += data
        while len(self._buffer) >= CHUNK_SIZE:
            self._push(bytes(self._buffer[:CHUNK_SIZE]), TAG_MESSAGE)
            del self._buffer[:CHUNK_SIZE]

    def close(self) -> int:
        """Write the end-of-content marker, the padding and the final tag.

        Returns the content length.
        """
        if self._closed:
            return self._length
        self._closed = True
        tail = padded_size(self._length + 1) - (self._length - len(self._buffer))
        first = min(tail, CHUNK_SIZE)
        marked = bytes(self._buffer) + b"\x80" + _ZERO_CHUNK[: first - len(self._buffer) - 1]
        self._buffer = bytearray()
        remaining = tail - first
        self._push(marked, TAG_PUSH if remaining else TAG_FINAL)
        while remaining > CHUNK_SIZE:
            self._push(_ZERO_CHUNK, TAG_MESSAGE)
            remaining -= CHUNK_SIZE
        if remaining:
            self._push(_ZERO_CHUNK[:remaining], TAG_FINAL)
        return self._length

    def __enter__(self) -> EnvelopeWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.close()


def encrypt(
    src: BinaryIO,
    dst: BinaryIO,
    recipients: Sequence[PublicKey],
    *,
    random: RandomSource = os.urandom,
) -> int:
    """Encrypt everything readable from `src` into `dst`; returns the content length."""
    writer = EnvelopeWriter(dst, recipients, random=random)
    while chunk := src.read(CHUNK_SIZE):
        writer.write(chunk)
    return writer.close()


def encrypt_bytes(
    data: bytes, recipients: Sequence[PublicKey], *, random: RandomSource = os.urandom
) -> bytes:
    import io

    out = io.BytesIO()
    writer = EnvelopeWriter(out, recipients, random=random)
    writer.write(data)
    writer.close()
    return out.getvalue()


def _read_exact(src: BinaryIO, n: int) -> bytes:
    """Read up to n bytes, looping over short reads; fewer only at end of file."""
    first = src.read(n)
    if len(first) == n or not first:  # the usual case: one read was enough
        return first
    parts: list[bytes] = [first]
    remaining = n - len(first)
    while remaining:
        part = src.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def read_header(src: BinaryIO, identities: Iterable[PrivateKey]) -> bytes:
    """Parse and authenticate the header; return the file key.

    Checks, in order: magic, version, recipient count, stanza bytes present,
    no duplicate key id, stream header and MAC present, a stanza for one of
    `identities`, that stanza opens, the MAC verifies.
    """
    magic = _read_exact(src, len(MAGIC))
    if len(magic) < len(MAGIC) or magic[: len(MAGIC_PREFIX)] != MAGIC_PREFIX:
        raise NotAnEnvelope()
    if magic != MAGIC:
        raise UnsupportedVersion()
    count_byte = _read_exact(src, 1)
    if not count_byte:
        raise HeaderError("header truncated before the recipient count")
    count = count_byte[0]
    if not 1 <= count <= MAX_RECIPIENTS:
        raise HeaderError(f"recipient count {count} outside 1..{MAX_RECIPIENTS}")
    stanza_bytes = _read_exact(src, count * STANZA_BYTES)
    if len(stanza_bytes) != count * STANZA_BYTES:
        raise HeaderError("header truncated inside the recipient stanzas")
    stanzas = [
        stanza_bytes[i * STANZA_BYTES : (i + 1) * STANZA_BYTES] for i in range(count)
    ]
    key_ids = [s[:KEY_ID_BYTES] for s in stanzas]
    if len(set(key_ids)) != count:
        raise HeaderError("two stanzas name the same recipient")
    rest = _read_exact(src, STREAM_HEADER_BYTES + MAC_BYTES)
    if len(rest) != STREAM_HEADER_BYTES + MAC_BYTES:
        raise HeaderError("header truncated before the MAC")
    stream_header, mac = rest[:STREAM_HEADER_BYTES], rest[STREAM_HEADER_BYTES:]

    file_key = None
    for identity in identities:
        kid = identity.public_key.key_id
        if kid in key_ids:
            sealed = stanzas[key_ids.index(kid)][KEY_ID_BYTES:]
            try:
                file_key = nacl.public.SealedBox(identity.to_nacl()).decrypt(sealed)
            except nacl.exceptions.CryptoError:
                raise StanzaError("the stanza for this key does not open") from None
            break
    if file_key is None:
        raise NoMatch()
    header = magic + count_byte + stanza_bytes + stream_header
    if not sodium.sodium_memcmp(_header_mac(file_key, header), mac):
        raise HeaderMacError("header MAC does not verify")
    return file_key + stream_header


def decrypt_stream(src: BinaryIO, identities: Iterable[PrivateKey]) -> Iterator[bytes]:
    """Yield the content, one authenticated chunk at a time.

    Raises a DecryptError subclass on the first failed check; a truncated or
    extended stream is only detected at its end, so a consumer must treat all
    output as void unless the generator finishes without raising.
    """
    material = read_header(src, identities)
    file_key, stream_header = material[:FILE_KEY_BYTES], material[FILE_KEY_BYTES:]
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    sodium.crypto_secretstream_xchacha20poly1305_init_pull(
        state, stream_header, _subkey(file_key, _PERSON_PAYLOAD)
    )
    in_padding = False
    content = 0  # bytes of content released
    total = 0  # bytes of plaintext authenticated, content + marker + padding
    while True:
        chunk = _read_exact(src, CHUNK_CT_SIZE)
        if not chunk:
            raise TruncatedError("the payload ends before its final chunk")
        if len(chunk) < ABYTES:
            raise PayloadError("short chunk")
        try:
            plain, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(state, chunk, None)
        except nacl.exceptions.CryptoError:
            raise ChunkAuthError("a payload chunk failed authentication") from None
        if tag not in (TAG_MESSAGE, TAG_PUSH, TAG_FINAL):
            raise PayloadError("unexpected chunk tag")
        if tag != TAG_FINAL and len(chunk) != CHUNK_CT_SIZE:
            raise PayloadError("short chunk before the end of the payload")
        if tag == TAG_FINAL and not plain:
            # The writer never emits one; allowing it would give some contents
            # a second valid encoding (a full PUSH chunk then an empty final).
            raise PayloadError("empty final chunk")
        total += len(plain)
        if in_padding:
            if tag == TAG_PUSH:
                raise PaddingError("a second end-of-content chunk")
            if plain != _ZERO_CHUNK[: len(plain)]:
                raise NonZeroPaddingError("padding is not all zero")
        elif tag == TAG_MESSAGE:
            content += len(plain)
            yield plain
        else:
            # The end-of-content chunk: content, the 0x80 marker, then zeros.
            end = marked_content_end(plain)
            if end is None:
                raise PaddingError("no end-of-content marker")
            in_padding = True
            if end:
                content += end
                yield plain[:end]
        if tag == TAG_FINAL:
            if total != padded_size(content + 1):
                raise PaddingLengthError("padding length is not the canonical one")
            if src.read(1):
                raise TrailingDataError("data after the final chunk")
            return


def marked_content_end(plain: bytes) -> int | None:
    """Where the content of an end-of-content chunk ends: the index of its 0x80
    marker, if the marker is the chunk's last non-zero byte; None otherwise.

    A speed trick. The plain code is
    `s = plain.rstrip(b"\\0"); return len(s) - 1 if s.endswith(b"\\x80") else None`;
    here the last 0x80 is found with rfind and the bytes after it are compared
    with zeros (both in C, a memrchr and a memcmp). The two agree on every input:
    the last non-zero byte is a 0x80 exactly when the bytes after the last 0x80
    are all zero (tests/crypto/test_envelope.py compares them).

    What it buys: `bytes.rstrip` with an argument tests each stripped byte against
    the argument in a loop: 17.6 microseconds for the 4 KiB chunk of a small
    answers document (478 bytes of content), 1.7 this way (timeit, best of 7, a
    shared 2-core machine). Every envelope has such a chunk; a 10,000-case import
    opens 10,000 of them in its checks (docs/performance.md).
    """
    marker = plain.rfind(b"\x80")
    if marker < 0 or plain[marker + 1 :] != _ZERO_CHUNK[: len(plain) - marker - 1]:
        return None
    return marker


def decrypt(src: BinaryIO, dst: BinaryIO, identities: Iterable[PrivateKey]) -> int:
    """Decrypt `src` into `dst`; returns the content length.

    On error `dst` holds a prefix of the content that must be discarded.
    """
    length = 0
    for plain in decrypt_stream(src, identities):
        dst.write(plain)
        length += len(plain)
    return length


def decrypt_bytes(data: bytes, identities: Iterable[PrivateKey]) -> bytes:
    """Decrypt a whole envelope held in memory; returns only fully verified content."""
    import io

    return b"".join(decrypt_stream(io.BytesIO(data), identities))


def recipient_key_ids(src: BinaryIO) -> list[bytes]:
    """The key ids named in an envelope's header, without decrypting anything."""
    magic = _read_exact(src, len(MAGIC))
    if magic[: len(MAGIC_PREFIX)] != MAGIC_PREFIX or len(magic) < len(MAGIC):
        raise NotAnEnvelope()
    if magic != MAGIC:
        raise UnsupportedVersion()
    count_byte = _read_exact(src, 1)
    if not count_byte or not 1 <= count_byte[0] <= MAX_RECIPIENTS:
        raise HeaderError("bad recipient count")
    stanza_bytes = _read_exact(src, count_byte[0] * STANZA_BYTES)
    if len(stanza_bytes) != count_byte[0] * STANZA_BYTES:
        raise HeaderError("header truncated inside the recipient stanzas")
    return [
        stanza_bytes[i : i + KEY_ID_BYTES] for i in range(0, len(stanza_bytes), STANZA_BYTES)
    ]
