"""The envelope: round trips, padding, streaming, and every way to break one.

The committed vectors (tests/crypto/test_vectors.py) pin the format byte by byte; these
tests check behaviour across sizes and random damage.
"""

import io
import os
import tracemalloc
from typing import BinaryIO, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto import envelope
from crypto.envelope import (
    CHUNK_CT_SIZE,
    CHUNK_SIZE,
    MAGIC,
    STANZA_BYTES,
    EnvelopeWriter,
    decrypt_bytes,
    decrypt_stream,
    encrypt,
    encrypt_bytes,
    padded_size,
    recipient_key_ids,
)
from crypto.errors import (
    DecryptError,
    EncryptError,
    HeaderError,
    HeaderMacError,
    NoMatch,
    NotAnEnvelope,
    PayloadError,
    TrailingDataError,
    TruncatedError,
    UnsupportedVersion,
)
from crypto.keys import PrivateKey

HEADER_1 = len(MAGIC) + 1 + STANZA_BYTES + 24 + 32  # header bytes with one recipient

ALICE = PrivateKey.generate()
BOB = PrivateKey.generate()
MALLORY = PrivateKey.generate()


@pytest.mark.parametrize(
    "size",
    [0, 1, 4094, 4095, 4096, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 1_000_003],
)
def test_round_trip_sizes(size):
    data = os.urandom(size)
    sealed = encrypt_bytes(data, [ALICE.public_key, BOB.public_key])
    assert decrypt_bytes(sealed, [ALICE]) == data
    assert decrypt_bytes(sealed, [BOB]) == data


@pytest.mark.parametrize("count", [1, 2, 5])
@pytest.mark.parametrize("size", [0, CHUNK_SIZE, 2 * CHUNK_SIZE, 100_000])
def test_round_trip_every_recipient(count, size):
    keys = [PrivateKey.generate() for _ in range(count)]
    data = os.urandom(size)
    sealed = encrypt_bytes(data, [k.public_key for k in keys])
    for key in keys:
        assert decrypt_bytes(sealed, [key]) == data
    with pytest.raises(NoMatch):
        decrypt_bytes(sealed, [MALLORY])


def test_any_write_pattern_gives_the_same_content():
    data = os.urandom(5 * CHUNK_SIZE + 123)
    for step in (1, 7, 4096, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE * 2 + 5, len(data)):
        out = io.BytesIO()
        writer = EnvelopeWriter(out, [ALICE.public_key])
        for i in range(0, len(data), step):
            writer.write(data[i : i + step])
        assert writer.close() == len(data)
        assert decrypt_bytes(out.getvalue(), [ALICE]) == data


def test_non_final_chunks_are_exactly_full_size():
    data = os.urandom(3 * CHUNK_SIZE + 10)
    sealed = encrypt_bytes(data, [ALICE.public_key])
    body = len(sealed) - HEADER_1
    assert body // CHUNK_CT_SIZE == (padded_size(len(data) + 1) - 1) // CHUNK_SIZE


def test_padding_hides_small_differences():
    sizes = {len(encrypt_bytes(os.urandom(n), [ALICE.public_key])) for n in range(0, 4000, 97)}
    assert len(sizes) == 1
    assert padded_size(1) == 4096
    for n in (5000, 70_000, 1 << 20, 10**9):
        assert n <= padded_size(n) <= n * 1.12
    assert padded_size(1 << 20) == 1 << 20 and padded_size((1 << 20) + 1) > 1 << 20


def test_old_key_among_several_opens_old_envelope():
    sealed = encrypt_bytes(b"old material", [ALICE.public_key])
    assert decrypt_bytes(sealed, [BOB, ALICE]) == b"old material"


def test_no_match():
    sealed = encrypt_bytes(b"secret", [ALICE.public_key])
    with pytest.raises(NoMatch):
        decrypt_bytes(sealed, [MALLORY])


def test_recipients_are_listed_without_decrypting():
    sealed = encrypt_bytes(b"x", [ALICE.public_key, BOB.public_key])
    assert recipient_key_ids(io.BytesIO(sealed)) == [ALICE.public_key.key_id, BOB.public_key.key_id]


def test_encrypt_refuses_bad_recipient_lists():
    with pytest.raises(EncryptError):
        encrypt_bytes(b"x", [])
    with pytest.raises(EncryptError):
        encrypt_bytes(b"x", [ALICE.public_key, ALICE.public_key])
    with pytest.raises(EncryptError):
        encrypt_bytes(b"x", [PrivateKey.generate().public_key for _ in range(33)])


def test_structural_failures_have_distinct_classes():
    sealed = encrypt_bytes(os.urandom(100_000), [ALICE.public_key])
    with pytest.raises(NotAnEnvelope):
        decrypt_bytes(b"%PDF-1.7" + sealed[8:], [ALICE])
    with pytest.raises(UnsupportedVersion):
        decrypt_bytes(sealed[:7] + b"\x02" + sealed[8:], [ALICE])
    with pytest.raises(HeaderError):
        decrypt_bytes(sealed[:8] + b"\x00" + sealed[9:], [ALICE])
    with pytest.raises(TruncatedError):
        # Cut exactly at a chunk boundary: every chunk present authenticates.
        decrypt_bytes(sealed[: HEADER_1 + CHUNK_CT_SIZE], [ALICE])
    with pytest.raises(PayloadError):
        decrypt_bytes(sealed[:-1], [ALICE])
    # After a short final chunk, extra bytes become part of it and fail its tag.
    with pytest.raises(PayloadError):
        decrypt_bytes(sealed + b"\0", [ALICE])
    # After a full-size final chunk (content + marker fill it exactly) they are trailing.
    exact = encrypt_bytes(os.urandom(CHUNK_SIZE - 1), [ALICE.public_key])
    assert len(exact) == HEADER_1 + CHUNK_CT_SIZE
    with pytest.raises(TrailingDataError):
        decrypt_bytes(exact + b"\0", [ALICE])


def test_public_messages_are_opaque():
    sealed = encrypt_bytes(b"x", [ALICE.public_key])
    with pytest.raises(DecryptError) as info:
        decrypt_bytes(sealed[:-1], [ALICE])
    assert info.value.public_message == "cannot decrypt: the envelope is damaged or has been tampered with"
    with pytest.raises(HeaderMacError) as mac:
        mac_byte = HEADER_1 - 1
        decrypt_bytes(sealed[:mac_byte] + bytes([sealed[mac_byte] ^ 1]) + sealed[mac_byte + 1 :], [ALICE])
    assert "MAC" not in mac.value.public_message


def test_stanza_swap_and_strip_detected():
    sealed = encrypt_bytes(b"two readers", [ALICE.public_key, BOB.public_key])
    s1 = sealed[9 : 9 + STANZA_BYTES]
    s2 = sealed[9 + STANZA_BYTES : 9 + 2 * STANZA_BYTES]
    rest = sealed[9 + 2 * STANZA_BYTES :]
    swapped = sealed[:9] + s2 + s1 + rest
    with pytest.raises(HeaderMacError):
        decrypt_bytes(swapped, [ALICE])
    stripped = sealed[:8] + b"\x01" + s1 + rest
    with pytest.raises(HeaderMacError):
        decrypt_bytes(stripped, [ALICE])


def test_partial_output_is_only_authenticated_chunks():
    data = os.urandom(3 * CHUNK_SIZE)
    sealed = encrypt_bytes(data, [ALICE.public_key])
    damaged = bytearray(sealed)
    damaged[HEADER_1 + CHUNK_CT_SIZE + 100] ^= 1  # inside the second chunk
    released = []
    with pytest.raises(PayloadError):
        for part in decrypt_stream(io.BytesIO(bytes(damaged)), [ALICE]):
            released.append(part)
    assert b"".join(released) == data[:CHUNK_SIZE]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.binary(max_size=3 * CHUNK_SIZE + 10),
    position=st.floats(min_value=0, max_value=1, exclude_max=True),
    xor=st.integers(min_value=1, max_value=255),
)
def test_any_flipped_byte_is_detected(data, position, xor):
    sealed = bytearray(encrypt_bytes(data, [ALICE.public_key, BOB.public_key]))
    sealed[int(position * len(sealed))] ^= xor
    with pytest.raises(DecryptError):
        decrypt_bytes(bytes(sealed), [ALICE])


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=2 * CHUNK_SIZE + 10),
    cut=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_any_truncation_is_detected(data, cut):
    sealed = encrypt_bytes(data, [ALICE.public_key])
    with pytest.raises(DecryptError):
        decrypt_bytes(sealed[: int(cut * len(sealed))], [ALICE])


def test_streaming_memory_is_flat(tmp_path):
    """20 MiB through encrypt and decrypt with far less than that allocated."""

    class Zeros(io.RawIOBase):
        def __init__(self, n):
            self.left = n

        def readable(self):
            return True

        def readinto(self, buf):
            n = min(len(buf), self.left)
            buf[:n] = bytes(n)
            self.left -= n
            return n

    class Sink(io.RawIOBase):
        def writable(self):
            return True

        def write(self, b):
            return len(b)

    size = 20 * 1024 * 1024
    path = tmp_path / "big.env"
    tracemalloc.start()
    with open(path, "wb") as out:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        encrypt(io.BufferedReader(Zeros(size)), out, [ALICE.public_key])
        _, encrypt_peak = tracemalloc.get_traced_memory()
    with open(path, "rb") as spool:
        tracemalloc.reset_peak()
        assert envelope.decrypt(spool, cast(BinaryIO, Sink()), [ALICE]) == size
        _, decrypt_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert path.stat().st_size > size
    assert encrypt_peak - base < 8 * CHUNK_CT_SIZE
    assert decrypt_peak - base < 8 * CHUNK_CT_SIZE


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(max_size=300),
    key=st.binary(min_size=32, max_size=32),
    person=st.sampled_from([b"", b"refuge-payload", b"refuge-hdr-mac", b"x" * 16]),
)
def test_direct_blake2b_equals_pynacl(data: bytes, key: bytes, person: bytes) -> None:
    # The envelope calls libsodium's BLAKE2b through PyNaCl's binding without the
    # wrapper's checks (for speed); it must be the very function nacl.hash.blake2b is.
    import nacl.hash
    from nacl.encoding import RawEncoder

    from crypto.envelope import _keyed_blake2b

    expected = nacl.hash.blake2b(data, digest_size=32, key=key, person=person,
                                 encoder=RawEncoder)
    assert _keyed_blake2b(data, key, person) == expected


def test_direct_blake2b_refuses_other_sizes() -> None:
    from crypto.envelope import _keyed_blake2b

    with pytest.raises(ValueError):
        _keyed_blake2b(b"", bytes(31), b"")
    with pytest.raises(ValueError):
        _keyed_blake2b(b"", bytes(32), b"x" * 17)


def _plain_content_end(plain: bytes) -> int | None:
    """The plain code marked_content_end stands for (its docstring)."""
    stripped = plain.rstrip(b"\0")
    return len(stripped) - 1 if stripped.endswith(b"\x80") else None


@pytest.mark.parametrize(
    "plain",
    [
        b"", b"\0", b"\x80", b"\0\x80", b"\x80\0", b"\x80\x80", b"\x80\x80\0\0",
        b"ab\x80" + bytes(4093), b"ab\x80" + bytes(4092) + b"\x01", b"\x80\x01" + bytes(10),
        b"\x01" * 10, bytes(CHUNK_SIZE), b"\x80" + bytes(CHUNK_SIZE - 1),
        bytes(CHUNK_SIZE - 1) + b"\x80", "ş\x80".encode() + b"\x80" + bytes(100),
        b"\xc5\x80\x00" + bytes(50),
    ],
)
def test_marked_content_end_equals_the_plain_code(plain: bytes) -> None:
    from crypto.envelope import marked_content_end

    assert marked_content_end(plain) == _plain_content_end(plain)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    content=st.binary(max_size=200),
    tail=st.lists(st.sampled_from([0, 0, 0, 0x80, 1, 0xff]), max_size=40),
)
def test_marked_content_end_equals_the_plain_code_on_any_chunk(content: bytes,
                                                                tail: list[int]) -> None:
    # Mostly zeros after the content, with a marker or a stray byte here and there.
    from crypto.envelope import marked_content_end

    plain = content + bytes(tail)
    assert marked_content_end(plain) == _plain_content_end(plain)
