"""Generate the test vectors in tests/vectors/ (format: tests/vectors/README.md).

Run `python tools/make_vectors.py` from the repository root. Every case is
checked against `crypto` before it is written, so the script fails loudly if a
case no longer fires the check it was built for. The file key, key-file salts
and nonces and every identity come from a seeded DRBG, but libsodium draws the
sealed boxes' ephemeral keys and the secretstream header itself: a re-run gives
different envelope bytes with the same meaning. The tests read only the
committed files.

Malformed envelopes are built here from nacl.bindings primitives with the real
file key, so each one breaks exactly one rule of docs/format.md while every
MAC and chunk tag around it stays valid: a parsing bug cannot hide behind an
authentication failure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.bindings as sodium
import nacl.public

from crypto import codename, documents, envelope, errors, keyfile
from crypto.keys import PrivateKey, PublicKey
from crypto.params import CODENAME_LIMITS, TEST_LIMITS, Argon2Limits
from crypto.signing import SigningKey

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "tests" / "vectors"

CHUNK = envelope.CHUNK_SIZE
CT_CHUNK = envelope.CHUNK_CT_SIZE
MESSAGE, PUSH, FINAL = envelope.TAG_MESSAGE, envelope.TAG_PUSH, envelope.TAG_FINAL
REKEY = sodium.crypto_secretstream_xchacha20poly1305_TAG_REKEY

#: The `expect:` value for each error class, most specific first.
EXPECT_BY_ERROR: list[tuple[type[errors.CryptoError], str]] = [
    (errors.NotAnEnvelope, "not an envelope"),
    (errors.UnsupportedVersion, "unsupported version"),
    (errors.NoMatch, "no match"),
    (errors.HeaderError, "header failure"),
    (errors.PayloadError, "payload failure"),
]


def expect_for(error: type[errors.CryptoError]) -> str:
    for cls, name in EXPECT_BY_ERROR:
        if issubclass(error, cls):
            return name
    raise ValueError(f"no expect class for {error.__name__}")


class Drbg:
    """A seeded byte source: BLAKE2b in counter mode, one stream per label."""

    def __init__(self, label: str) -> None:
        self._key = hashlib.blake2b(
            label.encode(), digest_size=32, person=b"refuge-vectors"
        ).digest()
        self._counter = 0
        self._pool = b""

    def __call__(self, n: int) -> bytes:
        blocks = [self._pool]
        have = len(self._pool)
        while have < n:
            block = self._counter.to_bytes(8, "little")
            blocks.append(hashlib.blake2b(block, key=self._key, digest_size=64).digest())
            have += 64
            self._counter += 1
        pool = b"".join(blocks)
        out, self._pool = pool[:n], pool[n:]
        return out


def identity(name: str) -> PrivateKey:
    return PrivateKey(Drbg(f"identity {name}")(32))


def content_of(name: str, length: int) -> bytes:
    return Drbg(f"content {name}")(length)


# --- building envelopes from their parts --------------------------------------


def stanza(recipient: PublicKey, file_key: bytes) -> bytes:
    return recipient.key_id + nacl.public.SealedBox(recipient.to_nacl()).encrypt(file_key)


def canonical_plain_chunks(content: bytes) -> list[tuple[bytes, int]]:
    """The (plaintext, tag) chunks the writer produces for `content`."""
    length = len(content)
    padded = content + b"\x80" + bytes(envelope.padded_size(length + 1) - length - 1)
    chunks = [padded[i : i + CHUNK] for i in range(0, len(padded), CHUNK)]
    marker = length // CHUNK
    tags = [MESSAGE] * len(chunks)
    tags[marker] = PUSH
    tags[-1] = FINAL
    return list(zip(chunks, tags, strict=True))


@dataclass
class Parts:
    """An envelope as its fields; `to_bytes` computes the MAC unless one is given."""

    file_key: bytes
    stanzas: list[bytes]
    stream_header: bytes
    chunks: list[bytes]
    magic: bytes = envelope.MAGIC
    count: int | None = None
    mac: bytes | None = None
    trailer: bytes = b""

    def header(self) -> bytes:
        count = len(self.stanzas) if self.count is None else self.count
        return self.magic + bytes([count]) + b"".join(self.stanzas) + self.stream_header

    def to_bytes(self) -> bytes:
        header = self.header()
        mac = envelope._header_mac(self.file_key, header) if self.mac is None else self.mac
        return header + mac + b"".join(self.chunks) + self.trailer


def build(
    label: str,
    recipients: list[PublicKey],
    plain_chunks: list[tuple[bytes, int]],
) -> Parts:
    """A well-formed header for `recipients` over a stream of exactly `plain_chunks`."""
    file_key = Drbg(f"file key {label}")(envelope.FILE_KEY_BYTES)
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    stream_header = sodium.crypto_secretstream_xchacha20poly1305_init_push(
        state, envelope._subkey(file_key, envelope._PERSON_PAYLOAD)
    )
    chunks = [
        sodium.crypto_secretstream_xchacha20poly1305_push(state, plain, None, tag)
        for plain, tag in plain_chunks
    ]
    return Parts(file_key, [stanza(r, file_key) for r in recipients], stream_header, chunks)


def header_length(recipients: int) -> int:
    return len(envelope.MAGIC) + 1 + recipients * envelope.STANZA_BYTES + 24 + 32


def flip(data: bytes, offset: int, mask: int = 0x01) -> bytes:
    out = bytearray(data)
    out[offset] ^= mask
    return bytes(out)


# --- cases --------------------------------------------------------------------


@dataclass
class EnvelopeCase:
    name: str
    comment: str
    data: bytes
    identities: list[PrivateKey]
    content: bytes | None = None  # on success
    error: type[errors.DecryptError] | None = None  # on failure

    def check(self) -> None:
        """Run the case through `crypto`; refuse to write one that misfires."""
        try:
            plain = envelope.decrypt_bytes(self.data, self.identities)
        except errors.DecryptError as e:
            if type(e) is not self.error:
                raise AssertionError(
                    f"{self.name}: expected {self.error}, got {type(e).__name__}: {e}"
                ) from e
            return
        if self.error is not None or plain != self.content:
            raise AssertionError(f"{self.name}: expected {self.error}, decrypted instead")

    def render(self) -> bytes:
        lines = []
        if self.error is None:
            assert self.content is not None
            lines.append("expect: success")
            lines.append(f"payload: {hashlib.sha256(self.content).hexdigest()}")
        else:
            lines.append(f"expect: {expect_for(self.error)}")
            lines.append(f"error: {self.error.__name__}")
        lines += [f"identity: {k.raw().hex()}" for k in self.identities]
        lines.append(f"comment: {self.comment}")
        return ("\n".join(lines) + "\n\n").encode() + self.data


def envelope_cases() -> list[EnvelopeCase]:
    alice, bob, carol = identity("alice"), identity("bob"), identity("carol")
    old, new = identity("old reviewer key"), identity("new reviewer key")
    cases: list[EnvelopeCase] = []

    def ok(name: str, comment: str, content: bytes, to: list[PrivateKey],
           ids: list[PrivateKey] | None = None) -> bytes:
        data = envelope.encrypt_bytes(
            content, [k.public_key for k in to], random=Drbg(f"file key {name}")
        )
        cases.append(EnvelopeCase(name, comment, data, ids or to[:1], content=content))
        return data

    def bad(name: str, comment: str, data: bytes, error: type[errors.DecryptError],
            ids: list[PrivateKey] | None = None) -> None:
        cases.append(EnvelopeCase(name, comment, data, ids or [alice], error=error))

    # Successes: the size boundaries of the padding and of the chunking.
    ok("success_empty", "empty content: one 4096-byte final chunk", b"", [alice])
    ok("success_one_byte", "one byte of content", b"A", [alice])
    for n, why in [
        (4095, "content plus marker fill the 4096-byte floor exactly"),
        (4096, "one byte over the floor: padded to 4352 by Padme"),
        (CHUNK - 1, "content plus marker fill one chunk exactly: a full final chunk"),
        (CHUNK, "exactly 64 KiB: a full content chunk, then a marker-only final chunk"),
        (CHUNK + 1, "64 KiB + 1: the marker chunk holds one byte of content"),
        (3 * CHUNK + 12345, "multi-chunk: three full content chunks and a final chunk"),
    ]:
        ok(f"success_{n}_bytes", f"{n} bytes of content: {why}", content_of(str(n), n), [alice])
    four_mib = 4 * 1024 * 1024
    ok("success_4mib_padding_chunk",
       "4 MiB of content: the marker chunk carries PUSH and a zero chunk follows with FINAL",
       content_of("4mib", four_mib), [alice])
    ok("success_content_ends_like_padding",
       "content that itself ends in 0x80 0x00 0x00: only the last 0x80 is the marker",
       b"abc\x80\x00\x00", [alice])
    ok("success_zero_content", "100 zero bytes of content: the marker is what ends it",
       bytes(100), [alice])
    two = ok("success_two_recipients_first", "two recipients, opened with the first's key",
             b"for alice and bob", [alice, bob])
    cases.append(EnvelopeCase("success_two_recipients_second",
                              "two recipients, opened with the second's key",
                              two, [bob], content=b"for alice and bob"))
    ok("success_old_key_among_several",
       "the decrypter holds three keys; only its old key is a recipient",
       b"sealed to the old key", [old, carol], ids=[new, alice, old])
    many = [identity(f"reviewer {i}") for i in range(envelope.MAX_RECIPIENTS)]
    ok("success_32_recipients", "the maximum of 32 recipients, opened with the last's key",
       b"to all", many, ids=[many[-1]])

    # Not for us.
    bad("no_match_wrong_recipient", "sealed to bob only; the decrypter holds alice's key",
        envelope.encrypt_bytes(b"x", [bob.public_key]), errors.NoMatch, [alice])

    base = envelope.encrypt_bytes(b"hello", [alice.public_key], random=Drbg("base"))
    h1 = header_length(1)
    bad("not_envelope_empty", "an empty file", b"", errors.NotAnEnvelope)
    bad("not_envelope_short", "five bytes, shorter than the magic", base[:5], errors.NotAnEnvelope)
    bad("not_envelope_flipped_magic", "first byte of the magic flipped",
        flip(base, 0), errors.NotAnEnvelope)
    bad("not_envelope_key_file", "a key file handed over as an envelope",
        keyfile.KEYFILE_MAGIC + bytes(136), errors.NotAnEnvelope)
    bad("unsupported_version_2", "version 0x0002 in the last two magic bytes",
        flip(base, 7, 0x03), errors.UnsupportedVersion)
    bad("unsupported_version_high_byte", "version byte 6 (high byte of the version) flipped",
        flip(base, 6), errors.UnsupportedVersion)

    # Header framing: each breaks one rule and the MAC is recomputed where it could matter.
    def header_case(label: str, recipients: list[PublicKey]) -> Parts:
        return build(label, recipients, canonical_plain_chunks(b"hi"))

    p = header_case("count zero", [alice.public_key])
    p.count = 0
    bad("header_count_zero", "recipient count 0 (MAC recomputed)", p.to_bytes(),
        errors.HeaderError)
    p = header_case("count 33", [identity(f"r{i}").public_key for i in range(32)]
                    + [alice.public_key])
    bad("header_count_33", "33 well-formed stanzas, MAC valid: over the limit of 32",
        p.to_bytes(), errors.HeaderError)
    p = header_case("duplicate", [alice.public_key])
    p.stanzas.append(stanza(alice.public_key, p.file_key))
    bad("header_duplicate_key_id", "two valid stanzas for the same key, MAC valid",
        p.to_bytes(), errors.HeaderError)
    bad("header_truncated_after_magic", "the file ends after the magic", base[:8],
        errors.HeaderError)
    bad("header_truncated_in_stanza", "the file ends inside the stanza", base[:9 + 40],
        errors.HeaderError)
    bad("header_truncated_in_stream_header", "the file ends inside the secretstream header",
        base[: 9 + 88 + 10], errors.HeaderError)
    bad("header_truncated_in_mac", "the file ends inside the header MAC",
        base[: h1 - 1], errors.HeaderError)
    bad("header_flipped_key_id", "a key id byte flipped: the stanza names no key we hold",
        flip(base, 9), errors.NoMatch)
    bad("header_flipped_sealed_key", "a byte of the sealed file key flipped",
        flip(base, 9 + 8 + 40), errors.StanzaError)
    p = header_case("other file key", [alice.public_key])
    p.stanzas[0] = stanza(alice.public_key, bytes(32))
    p.mac = envelope._header_mac(p.file_key, p.header())
    bad("header_stanza_seals_other_key",
        "the stanza opens but to another file key, so the MAC fails", p.to_bytes(),
        errors.HeaderMacError)
    # A recipient who knows the file key can write a bad stanza for another
    # recipient under a valid MAC; the first matching identity decides.
    p = header_case("bad stanza for alice", [alice.public_key, bob.public_key])
    p.stanzas[0] = alice.public_key.key_id + bytes(envelope.SEALED_BYTES)
    forged = p.to_bytes()
    bad("header_stanza_error_first_identity",
        "alice's stanza does not open (MAC valid); alice is the decrypter's first identity",
        forged, errors.StanzaError, [alice, bob])
    cases.append(EnvelopeCase(
        "success_bad_stanza_for_other_identity",
        "the same envelope with bob first: his stanza opens and alice's is never tried",
        forged, [bob, alice], content=b"hi"))
    bad("header_flipped_stream_header", "a byte of the secretstream header flipped",
        flip(base, 9 + 88 + 3), errors.HeaderMacError)
    bad("header_flipped_mac", "the last byte of the header MAC flipped",
        flip(base, h1 - 1), errors.HeaderMacError)
    two_hdr = header_length(2)
    swapped = two[:9] + two[9 + 88 : 9 + 176] + two[9 : 9 + 88] + two[9 + 176 :]
    bad("header_swapped_stanzas", "the two stanzas swapped, MAC left as it was",
        swapped, errors.HeaderMacError)
    removed = two[:8] + b"\x01" + two[9 : 9 + 88] + two[9 + 176 :]
    bad("header_stanza_removed", "bob's stanza removed and the count lowered",
        removed, errors.HeaderMacError)
    extra = stanza(carol.public_key, bytes(32))
    added = two[:8] + b"\x03" + two[9 : 9 + 176] + extra + two[9 + 176 :]
    bad("header_stanza_added", "a third stanza (for carol) added and the count raised",
        added, errors.HeaderMacError)
    bad("header_flipped_count", "count of a two-recipient envelope flipped to 3",
        flip(two, 8, 0x01), errors.HeaderMacError)
    assert two_hdr == 9 + 176 + 56
    # A writer that took alice's key text with bit 255 set seals to the same
    # X25519 key, but names it by the key id of those other bytes.
    alice_255 = PublicKey(alice.public_key.raw[:31] + bytes([alice.public_key.raw[31] | 0x80]))
    bad("header_noncanonical_recipient_key_id",
        "sealed to alice's key with bit 255 set: its stanza names another key id",
        build("bit 255", [alice_255], canonical_plain_chunks(b"hi")).to_bytes(), errors.NoMatch)

    # Payload: the real file key and valid chunk tags; one framing rule broken each.
    def stream_case(label: str, chunks: list[tuple[bytes, int]]) -> bytes:
        return build(label, [alice.public_key], chunks).to_bytes()

    multi = content_of("multi", 2 * CHUNK + 100)
    mparts = build("multi", [alice.public_key], canonical_plain_chunks(multi))
    for i in range(3):
        broken = list(mparts.chunks)
        broken[i] = flip(broken[i], len(broken[i]) // 2)
        bad(f"payload_flipped_chunk_{i}", f"a byte in the middle of chunk {i} of 3 flipped",
            Parts(**{**mparts.__dict__, "chunks": broken}).to_bytes(), errors.ChunkAuthError)
    reordered = [mparts.chunks[1], mparts.chunks[0], mparts.chunks[2]]
    bad("payload_chunks_reordered", "the first two chunks swapped",
        Parts(**{**mparts.__dict__, "chunks": reordered}).to_bytes(), errors.ChunkAuthError)
    bad("payload_final_chunk_missing", "the final chunk removed after two full chunks",
        Parts(**{**mparts.__dict__, "chunks": mparts.chunks[:2]}).to_bytes(),
        errors.TruncatedError)
    bad("payload_empty", "the header and nothing after it", base[:h1], errors.TruncatedError)
    bad("payload_truncated_mid_chunk", "the final chunk cut short by one byte",
        base[:-1], errors.ChunkAuthError)
    full_final = content_of("full final", CHUNK - 1)
    ffparts = build("full final", [alice.public_key], canonical_plain_chunks(full_final))
    ff = ffparts.to_bytes()
    bad("payload_trailing_byte", "one zero byte after a full-size final chunk",
        ff + b"\x00", errors.TrailingDataError)
    bad("payload_trailing_byte_after_short_final",
        "one byte after a short final chunk: read with it, so the chunk fails to open",
        base + b"\x00", errors.ChunkAuthError)
    bad("payload_two_final_chunks",
        "a full final chunk and a second valid final chunk after it",
        stream_case("two finals", [(full_final + b"\x80", FINAL), (bytes(10), FINAL)]),
        errors.TrailingDataError)
    bad("payload_short_non_final_chunk",
        "the only chunk carries MESSAGE and is shorter than 64 KiB",
        stream_case("short message", [(b"hi\x80" + bytes(4093), MESSAGE)]),
        errors.PayloadError)
    bad("payload_short_push_chunk",
        "the only chunk is the marker chunk tagged PUSH, short, and nothing follows",
        stream_case("short push", [(b"hi\x80" + bytes(4093), PUSH)]), errors.PayloadError)
    bad("payload_chunk_under_17_bytes", "ten stray bytes after a full MESSAGE chunk",
        stream_case("stray", [(bytes(CHUNK), MESSAGE)]) + bytes(10), errors.PayloadError)
    bad("payload_rekey_tag", "a chunk tagged REKEY, which the format never uses",
        stream_case("rekey", [(bytes(CHUNK), REKEY), (b"\x80" + bytes(4095), FINAL)]),
        errors.PayloadError)
    bad("payload_empty_final_chunk", "the only chunk is an empty final chunk: no marker",
        stream_case("empty final", [(b"", FINAL)]), errors.PayloadError)
    bad("payload_empty_final_after_push",
        "a full PUSH marker chunk then an empty FINAL chunk: a second encoding of 64 KiB-1",
        stream_case("empty after push", [(full_final + b"\x80", PUSH), (b"", FINAL)]),
        errors.PayloadError)
    bad("payload_full_content_then_eof",
        "one full MESSAGE chunk and then the end of the file",
        stream_case("message eof", [(bytes(CHUNK), MESSAGE)]), errors.TruncatedError)
    bad("payload_push_marker_then_eof",
        "a full PUSH marker chunk and then the end of the file: no final chunk",
        stream_case("push eof", [(b"hi\x80" + bytes(CHUNK - 3), PUSH)]), errors.TruncatedError)
    bad("payload_missing_marker", "the final chunk holds content and zeros but no 0x80",
        stream_case("no marker", [(b"hello" + bytes(4091), FINAL)]), errors.PaddingError)
    bad("payload_all_zero_final", "the final chunk is 4096 zero bytes",
        stream_case("all zero", [(bytes(4096), FINAL)]), errors.PaddingError)
    bad("payload_nonzero_after_marker",
        "a 0x01 after the marker: the last non-zero byte is not 0x80",
        stream_case("nonzero marker", [(b"hi\x80\x00\x01" + bytes(4091), FINAL)]),
        errors.PaddingError)
    bad("payload_nonzero_padding_chunk",
        "a full PUSH marker chunk, then a final padding chunk holding a 0x01 (and a length "
        "that is not canonical either)",
        stream_case("nonzero chunk", [(b"hi\x80" + bytes(CHUNK - 3), PUSH),
                                      (bytes(100) + b"\x01" + bytes(100), FINAL)]),
        errors.NonZeroPaddingError)
    # The same break with the length canonical, so that only the zero check can
    # catch it: the 4 MiB success case with one padding byte set in its final
    # chunk, which is all padding.
    padded = canonical_plain_chunks(content_of("4mib", four_mib))
    assert [tag for _plain, tag in padded[-2:]] == [PUSH, FINAL]
    assert not any(padded[-1][0])
    last = bytearray(padded[-1][0])
    last[len(last) // 2] = 0x01
    padded[-1] = (bytes(last), FINAL)
    bad("payload_nonzero_padding_canonical_length",
        "4 MiB of content, canonically padded, one 0x01 in the final chunk (all padding)",
        stream_case("nonzero canonical", padded),
        errors.NonZeroPaddingError)
    bad("payload_second_push", "a full PUSH marker chunk, then a second PUSH chunk",
        stream_case("second push", [(b"hi\x80" + bytes(CHUNK - 3), PUSH), (bytes(CHUNK), PUSH),
                                    (bytes(10), FINAL)]), errors.PaddingError)
    bad("payload_padding_too_long", "5 bytes of content padded to 4097 instead of 4096",
        stream_case("too long", [(b"hello\x80" + bytes(4091), FINAL)]), errors.PaddingLengthError)
    bad("payload_padding_too_short", "5 bytes of content and the marker, no padding",
        stream_case("too short", [(b"hello\x80", FINAL)]), errors.PaddingLengthError)
    bad("payload_padding_of_other_length",
        "4096 bytes of content padded to 8192 (Padme says 4352)",
        stream_case("other length", [(bytes(4096) + b"\x80" + bytes(4095), FINAL)]),
        errors.PaddingLengthError)
    return cases


# --- key files ----------------------------------------------------------------


@dataclass
class KeyFileCase:
    name: str
    comment: str
    data: bytes
    passphrase: str
    key: PrivateKey | None = None  # on success
    error: type[errors.KeyFileError] | None = None
    extra: list[str] = field(default_factory=list)
    signing: SigningKey | None = None  # on success, version 2

    def check(self) -> None:
        try:
            got = keyfile.open_private_key(self.data, self.passphrase)
        except errors.KeyFileError as e:
            if type(e) is not self.error:
                raise AssertionError(f"{self.name}: expected {self.error}, got {e!r}") from e
            return
        assert self.key is not None and got.raw() == self.key.raw(), self.name
        opened = keyfile.open_key_file(self.data, self.passphrase)
        if self.signing is None:
            assert opened.signing is None and opened.version == 1, self.name
        else:
            assert opened.signing is not None and opened.version == 2, self.name
            assert opened.signing.seed() == self.signing.seed(), self.name

    def render(self) -> bytes:
        if self.error is None:
            assert self.key is not None
            lines = ["expect: success", f"identity: {self.key.raw().hex()}",
                     f"public key: {self.key.public_key.to_text()}"]
            if self.signing is not None:
                lines += [f"signing seed: {self.signing.seed().hex()}",
                          f"signing public key: {self.signing.public_key.to_text()}"]
        else:
            lines = ["expect: failure", f"error: {self.error.__name__}"]
        lines.append(f"passphrase: {self.passphrase}")
        lines += self.extra
        lines.append(f"comment: {self.comment}")
        return ("\n".join(lines) + "\n\n").encode() + self.data


def keyfile_cases() -> list[KeyFileCase]:
    key = identity("key file")
    pw = "correct horse battery staple"
    # Version 1 (no signing key): the files versions before signing keys wrote,
    # still read. Their bytes are unchanged since version 2 was added.
    good = keyfile.seal_private_key_v1(key, pw, limits=TEST_LIMITS, random=Drbg("key file"))
    cases = [
        KeyFileCase("success", "a key file under the test limits", good, pw, key=key),
        KeyFileCase("wrong_passphrase", "the passphrase is wrong", good, pw + "!",
                    error=errors.WrongPassphrase),
    ]
    accented = identity("accented")
    composed = "caf\u00e9 na\u00efve"
    cases.append(KeyFileCase(
        "success_nfc_passphrase",
        "sealed under an NFC passphrase, opened with its NFD spelling",
        keyfile.seal_private_key_v1(accented, composed, limits=TEST_LIMITS,
                                    random=Drbg("accented")),
        unicodedata.normalize("NFD", composed), key=accented))

    def broken(name: str, comment: str, data: bytes, error: type[errors.KeyFileError]) -> None:
        cases.append(KeyFileCase(name, comment, data, pw, error=error))

    def with_limits(ops: int, mem: int) -> bytes:
        return good[:8] + ops.to_bytes(8, "little") + mem.to_bytes(8, "little") + good[24:]

    broken("bad_magic", "the first magic byte changed", flip(good, 0), errors.KeyFileError)
    broken("envelope_as_key_file", "an envelope's magic", envelope.MAGIC + good[8:],
           errors.KeyFileError)
    broken("unknown_version", "version 0x0003", flip(good, 7, 0x02), errors.UnsupportedKeyFile)
    broken("empty", "an empty file", b"", errors.KeyFileError)
    broken("too_short", "143 bytes: the last byte cut", good[:-1], errors.KeyFileError)
    broken("too_long", "145 bytes: a newline appended", good + b"\n", errors.KeyFileError)
    broken("opslimit_zero", "opslimit 0", with_limits(0, TEST_LIMITS.memlimit),
           errors.UnsupportedKeyFile)
    broken("opslimit_11", "opslimit 11, above the maximum of 10",
           with_limits(11, TEST_LIMITS.memlimit), errors.UnsupportedKeyFile)
    broken("memlimit_too_small", "memlimit 8 MiB - 1",
           with_limits(1, 8 * 1024 * 1024 - 1), errors.UnsupportedKeyFile)
    broken("memlimit_too_large", "memlimit 1 GiB + 1",
           with_limits(1, 1024 * 1024 * 1024 + 1), errors.UnsupportedKeyFile)
    broken("limits_changed", "opslimit 1 raised to 2: another key is derived",
           with_limits(2, TEST_LIMITS.memlimit), errors.WrongPassphrase)
    broken("flipped_salt", "a salt byte flipped", flip(good, 24), errors.WrongPassphrase)
    broken("flipped_box", "a byte of the secretbox flipped", flip(good, 143),
           errors.WrongPassphrase)
    other = identity("other").public_key.raw
    broken("public_private_mismatch",
           "the clear public key replaced by another valid key; the box opens",
           good[:40] + other + good[72:], errors.KeyFileError)
    broken("low_order_public_key", "the clear public key is all zero (a low-order point)",
           good[:40] + bytes(32) + good[72:], errors.KeyFileError)
    noncanonical = key.public_key.raw[:31] + bytes([key.public_key.raw[31] | 0x80])
    broken("noncanonical_public_key",
           "the clear public key with bit 255 set, refused before the passphrase",
           good[:40] + noncanonical + good[72:], errors.KeyFileError)

    # Version 2: the X25519 key and the Ed25519 signing key of team records.
    key2 = identity("key file v2")
    signing2 = SigningKey(Drbg("signing key v2")(32))
    good2 = keyfile.seal_private_key(key2, pw, signing_key=signing2, limits=TEST_LIMITS,
                                     random=Drbg("key file v2"))
    cases.append(KeyFileCase("v2_success", "a version 2 key file with its signing key",
                             good2, pw, key=key2, signing=signing2))
    cases.append(KeyFileCase("v2_wrong_passphrase", "version 2, the passphrase is wrong", good2,
                             pw + "!", error=errors.WrongPassphrase))
    broken("v2_too_short", "version 2, 207 bytes: the last byte cut", good2[:-1],
           errors.KeyFileError)
    broken("v2_at_version_1_length", "version 2 magic on a version 1 file of 144 bytes",
           flip(good, 7, 0x03), errors.KeyFileError)
    other_signing = SigningKey(Drbg("other signing key")(32)).public_key.raw
    broken("v2_signing_mismatch",
           "the clear signing key replaced by another valid one; the box opens",
           good2[:72] + other_signing + good2[104:], errors.KeyFileError)
    broken("v2_invalid_signing_key",
           "the clear signing key is the Ed25519 identity point (small order)",
           good2[:72] + (1).to_bytes(32, "little") + good2[104:], errors.KeyFileError)
    broken("v2_flipped_box", "version 2, a byte of the secretbox flipped", flip(good2, 207),
           errors.WrongPassphrase)
    return cases


# --- codenames ----------------------------------------------------------------


@dataclass
class CodenameCase:
    name: str
    comment: str
    typed: str
    salt: bytes
    limits: Argon2Limits
    error: type[errors.CryptoError] | None = None

    def render(self) -> bytes:
        lines = []
        if self.error is None:
            keys = codename.derive(self.typed, self.salt, limits=self.limits)
            lines += ["expect: success",
                      f"normalised: {codename.normalise_codename(self.typed)}"]
        else:
            lines += ["expect: failure", f"error: {self.error.__name__}"]
        lines += [f"codename: {self.typed}", f"salt: {self.salt.hex()}",
                  f"opslimit: {self.limits.opslimit}", f"memlimit: {self.limits.memlimit}"]
        if self.error is None:
            lines += [f"lookup id: {keys.lookup_id.hex()}",
                      f"reply secret: {keys.reply_key.raw().hex()}",
                      f"reply public key: {keys.reply_public_key.to_text()}"]
        lines.append(f"comment: {self.comment}")
        return ("\n".join(lines) + "\n\n").encode()

    def check(self) -> None:
        try:
            codename.derive(self.typed, self.salt, limits=self.limits)
        except errors.CryptoError as e:
            assert type(e) is self.error, (self.name, e)
            return
        assert self.error is None, self.name


def codename_cases() -> list[CodenameCase]:
    salt = Drbg("installation salt")(codename.SALT_BYTES)
    words = codename.codename_words()
    rng = Drbg("codename words")
    pick = [words[int.from_bytes(rng(4), "little") % len(words)] for _ in range(7)]
    plain = " ".join(pick)
    return [
        CodenameCase("success_test_limits", "seven words as shown, test limits",
                     plain, salt, TEST_LIMITS),
        CodenameCase("success_production_limits",
                     "the same codename under CODENAME_LIMITS", plain, salt, CODENAME_LIMITS),
        CodenameCase("success_typed_loosely",
                     "the same codename in capitals with hyphens and extra spaces",
                     "  " + "-".join(w.upper() for w in pick[:4]) + "   "
                     + "  ".join(pick[4:]).title() + " ", salt, TEST_LIMITS),
        CodenameCase("success_other_salt", "the same codename under another salt", plain,
                     Drbg("other salt")(codename.SALT_BYTES), TEST_LIMITS),
        CodenameCase("six_words", "only six words", " ".join(pick[:6]), salt, TEST_LIMITS,
                     error=errors.InvalidCodename),
        CodenameCase("unknown_word", "a word not on the list", " ".join([*pick[:6], "zzzz"]),
                     salt, TEST_LIMITS, error=errors.InvalidCodename),
        CodenameCase("success_unicode_spaces",
                     "words parted by U+00A0, U+3000, U+2003, U+2028, a tab and U+0085",
                     "\u00a0".join(pick[:2]) + "\u3000" + pick[2] + "\u2003" + pick[3]
                     + "\u2028" + pick[4] + "\t" + pick[5] + "\u0085" + pick[6],
                     salt, TEST_LIMITS),
        CodenameCase("zero_width_space", "two words joined by U+200B, which is not white space",
                     " ".join(pick[:5]) + " " + pick[5] + "\u200b" + pick[6], salt, TEST_LIMITS,
                     error=errors.InvalidCodename),
        CodenameCase("hyphenated_list_word", "yo-yo is on the EFF list but never drawn",
                     " ".join([*pick[:6], "yo-yo"]), salt, TEST_LIMITS,
                     error=errors.InvalidCodename),
    ]


# --- public key texts ---------------------------------------------------------

#: The rule of docs/format.md "Text form" each refusal breaks, and the words
#: crypto.keys uses for it (the class is InvalidPublicKey for all of them).
PUBKEY_RULES = {
    1: "must start with",
    2: "wrong length",
    3: "outside base32",
    4: "(upper-case letters, or non-zero unused bits)",
    5: "the key text is not canonical (bit 255 is set",
    6: "the key text is not canonical (its number is 2^255 - 19 or more",
    7: "low-order point",
}
FIELD_PRIME = 2**255 - 19


@dataclass
class PubkeyCase:
    name: str
    comment: str
    text: str
    rule: int | None = None  # on failure

    def check(self) -> None:
        try:
            key = PublicKey.from_text(self.text)
        except errors.InvalidPublicKey as e:
            if self.rule is None or PUBKEY_RULES[self.rule] not in str(e):
                raise AssertionError(f"{self.name}: expected rule {self.rule}, got {e}") from e
            return
        if self.rule is not None or key.to_text() != self.text:
            raise AssertionError(f"{self.name}: expected rule {self.rule}, accepted instead")

    def render(self) -> bytes:
        if self.rule is None:
            key = PublicKey.from_text(self.text)
            lines = ["expect: success", f"text: {self.text}", f"public key: {key.raw.hex()}",
                     f"fingerprint: {key.fingerprint}", f"key id: {key.key_id.hex()}"]
        else:
            lines = ["expect: failure", "error: InvalidPublicKey", f"rule: {self.rule}",
                     f"text: {self.text}"]
        lines.append(f"comment: {self.comment}")
        return ("\n".join(lines) + "\n\n").encode()


def text_of(raw: bytes) -> str:
    """The text form of any 32 bytes (PublicKey(raw) refuses nothing but the length)."""
    return PublicKey(raw).to_text()


def pubkey_cases() -> list[PubkeyCase]:
    key = identity("public key text").public_key
    good = key.to_text()
    body = good[len("refuge-pk1-"):]
    raw = key.raw
    high = raw[:31] + bytes([raw[31] | 0x80])
    last_unused = body[:-1] + ("b" if body[-1] == "a" else "r")
    return [
        PubkeyCase("success", "a canonical key text", good),
        PubkeyCase("success_largest_number",
                   "u = 2^255 - 21, the largest canonical number that is not low-order",
                   text_of((FIELD_PRIME - 2).to_bytes(32, "little"))),
        PubkeyCase("wrong_prefix", "refuge-pk2- instead of refuge-pk1-",
                   "refuge-pk2-" + body, 1),
        PubkeyCase("uppercase_prefix", "the prefix in capitals", "REFUGE-PK1-" + body, 1),
        PubkeyCase("too_short", "51 characters after the prefix", good[:-1], 2),
        PubkeyCase("too_long", "53 characters after the prefix", good + "a", 2),
        PubkeyCase("padded", "base32 with = padding", good + "====", 2),
        PubkeyCase("not_base32", "the digit 1, outside the base32 alphabet",
                   "refuge-pk1-1" + body[1:], 3),
        PubkeyCase("uppercase_body", "the body in capitals (decodes to the same bytes)",
                   "refuge-pk1-" + body.upper(), 4),
        PubkeyCase("unused_bits", "the last character's unused bits not zero",
                   "refuge-pk1-" + last_unused, 4),
        PubkeyCase("bit_255_set", "the same key with bit 255 set: libsodium reads the same point",
                   text_of(high), 5),
        PubkeyCase("bit_255_set_low_order",
                   "the all-zero key with bit 255 set: canonical form is checked before order",
                   text_of(bytes(31) + b"\x80"), 5),
        PubkeyCase("number_is_prime", "u = 2^255 - 19, zero written a second way",
                   text_of(FIELD_PRIME.to_bytes(32, "little")), 6),
        PubkeyCase("number_above_prime", "u = 2^255 - 19 + 9, the base point written a second way",
                   text_of((FIELD_PRIME + 9).to_bytes(32, "little")), 6),
        PubkeyCase("number_largest", "u = 2^255 - 1, bit 255 clear but above the prime",
                   text_of((2**255 - 1).to_bytes(32, "little")), 6),
        PubkeyCase("low_order_zero", "the all-zero key", text_of(bytes(32)), 7),
        PubkeyCase("low_order_minus_one", "u = 2^255 - 20 (-1), a point of order 2",
                   text_of((FIELD_PRIME - 1).to_bytes(32, "little")), 7),
    ]


# --- the documents inside envelopes -------------------------------------------


@dataclass
class DocumentCase:
    name: str
    comment: str
    kind: str  # "submission" | "reply"
    document: bytes
    error: type[errors.DocumentError] | None = None
    data: bytes = b""

    def __post_init__(self) -> None:
        reader = identity("document reader")
        self.identity = reader
        self.data = envelope.encrypt_bytes(
            self.document, [reader.public_key], random=Drbg(f"file key document {self.name}")
        )

    def check(self) -> None:
        plain = envelope.decrypt_bytes(self.data, [self.identity])
        parse = documents.parse_submission if self.kind == "submission" else documents.parse_reply
        try:
            parse(plain)
        except errors.DocumentError as e:
            if type(e) is not self.error:
                raise AssertionError(f"{self.name}: expected {self.error}, got {e!r}") from e
            return
        if self.error is not None:
            raise AssertionError(f"{self.name}: expected {self.error.__name__}, accepted")

    def render(self) -> bytes:
        lines = ["expect: success" if self.error is None else "expect: failure",
                 f"document: {self.kind}"]
        if self.error is None:
            lines.append(f"payload: {hashlib.sha256(self.document).hexdigest()}")
        else:
            lines.append(f"error: {self.error.__name__}")
        lines += [f"identity: {self.identity.raw().hex()}", f"comment: {self.comment}"]
        return ("\n".join(lines) + "\n\n").encode() + self.data


def _hex(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()[:32]


def submission_document(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "format": "refuge-intake submission",
        "version": 1,
        "case": _hex("case"),
        "submission": _hex("submission"),
        "kind": "application",
        "day": "2026-11-20",
        "answers": {
            "name": "\u0645\u0631\u064a\u0645 \u0627\u0644\u062d\u0633\u0646", "contact": "",
            "country": "\u0627\u06cc\u0631\u0627\u0646", "profession": "poet",
            "profession_other": "", "languages": "Persian, Arabic",
            "work": "Three collections since 2009.\nhttps://example.org/poems",
            "threat": "Summoned twice; a travel ban since 2025.", "situation": "In hiding.",
            "urgency": "weeks", "family": "", "references": "PEN Iran", "acknowledge": "yes",
        },
        "attachments": [
            {"blob": _hex("blob 1"), "name": "poems.pdf", "type": "application/pdf",
             "size": 48213},
            {"blob": _hex("blob 2"), "name": "\u062d\u06a9\u0645.jpg", "type": "image/jpeg",
             "size": 1},
        ],
    }
    doc.update(changes)
    return doc


def reply_document(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "format": "refuge-intake reply", "version": 1, "case": _hex("case"),
        "reply": _hex("reply"), "day": "2026-11-25",
        "text": "Thank you. We have your application and will write again within two weeks.",
    }
    doc.update(changes)
    return doc


def document_cases() -> list[DocumentCase]:
    enc = documents.encode
    sub, rep = submission_document, reply_document
    cases: list[DocumentCase] = []

    def ok(name: str, comment: str, data: bytes, kind: str = "submission") -> None:
        cases.append(DocumentCase(name, comment, kind, data))

    def bad(name: str, comment: str, data: bytes, kind: str = "submission",
            error: type[errors.DocumentError] = errors.DocumentError) -> None:
        cases.append(DocumentCase(name, comment, kind, data, error))

    def without(doc: dict[str, Any], field_name: str) -> dict[str, Any]:
        return {k: v for k, v in doc.items() if k != field_name}

    ok("success_application", "an application as a version 1 server wrote it (country as text)",
       enc(sub()))
    v2 = {**sub()["answers"], "country": "IR", "country_other": ""}
    ok("success_application_v2", "an application as the server writes it (version 2)",
       enc(sub(version=2, answers=v2)))
    ok("success_country_other_v2", "version 2: another place, in the applicant's words",
       enc(sub(version=2, answers={**v2, "country": "other",
                                   "country_other": "\u06a9\u0631\u062f\u0633\u062a\u0627\u0646"})))
    ok("success_country_unknown_code_v2", "version 2: a code the reader's list may lack",
       enc(sub(version=2, answers={**v2, "country": "QQ"})))
    ok("success_followup_v2", "version 2: a follow-up, which has no country",
       enc(sub(version=2, kind="followup", answers={"message": "News."}, attachments=[])))
    ok("success_followup", "a follow-up with a message and no attachments",
       enc(sub(kind="followup", answers={"message": "New threats this week."},
               attachments=[])))
    ok("success_unknown_answer", "an answer name the reader does not know is kept",
       enc(sub(answers={"name": "A", "pronouns": "she/her"})))
    ok("success_list_answer", "an answer that is a list of strings",
       enc(sub(answers={"languages": ["Persian", "Arabic"]})))
    ok("success_ascii_escapes", "non-ASCII written as \\u escapes",
       json.dumps(sub()).encode())
    ok("success_whitespace", "indented JSON, fields in another order",
       json.dumps(sub(), indent=2, sort_keys=True, ensure_ascii=False).encode())
    ok("success_empty_attachment", "an attachment of size 0 and empty name and type",
       enc(sub(attachments=[{"blob": _hex("blob 1"), "name": "", "type": "", "size": 0}])))
    ok("success_reply", "a reply as the reviewer tool writes it", enc(rep()), "reply")
    ok("success_reply_rtl", "a reply in Arabic with a line break",
       enc(rep(text="\u0634\u0643\u0631\u0627\u064b\n\u0633\u0646\u0643\u062a\u0628 \u0644\u0643.")),
       "reply")

    text = enc(sub())
    bad("not_utf8", "a byte 0xff inside a string", text.replace(b"poems.pdf", b"poems\xff.pdf"))
    bad("byte_order_mark", "UTF-8 with a byte order mark first", b"\xef\xbb\xbf" + text)
    bad("not_json", "a comma after the last field", text[:-1] + b",}")
    bad("json_array", "a JSON array of one object", b"[" + text + b"]")
    bad("duplicate_field", "the case field given twice",
        text[:-1] + b', "case": "' + _hex("case").encode() + b'"}')
    bad("fraction", "an attachment size written as 48213.0",
        text.replace(b'"size": 48213', b'"size": 48213.0'))
    bad("exponent", "an attachment size written as 1e3",
        text.replace(b'"size": 48213', b'"size": 1e3'))
    bad("nan", "an attachment size NaN", text.replace(b'"size": 48213', b'"size": NaN'))
    bad("lone_surrogate", "a name holding the escape \\ud800",
        text.replace(b"poems.pdf", b"poems\\ud800.pdf"))
    bad("wrong_format", "the format of a bundle manifest",
        enc(sub(format="refuge-intake bundle")))
    bad("reply_format_as_submission", "a reply document read as a submission", enc(rep()))
    bad("version_3", "version 3", enc(sub(version=3)),
        error=errors.UnsupportedDocumentVersion)
    bad("country_name_v2", "version 2 with the country as text",
        enc(sub(version=2, answers={**v2, "country": "Iran"})))
    bad("country_lowercase_v2", "version 2 with a code in lowercase",
        enc(sub(version=2, answers={**v2, "country": "ir"})))
    bad("country_list_v2", "version 2 with the country as a list",
        enc(sub(version=2, answers={**v2, "country": ["IR"]})))
    bad("version_missing", "no version: the version check comes before the fields rule",
        enc(without(sub(), "version")), error=errors.UnsupportedDocumentVersion)
    bad("version_string", "version \"1\", a string", enc(sub(version="1")),
        error=errors.UnsupportedDocumentVersion)
    bad("version_true", "version true", enc(sub(version=True)),
        error=errors.UnsupportedDocumentVersion)
    bad("unknown_field", "a field the format does not have", enc(sub(extra="x")))
    bad("missing_attachments", "no attachments field", enc(without(sub(), "attachments")))
    bad("case_uppercase", "the case id in uppercase hex", enc(sub(case=_hex("case").upper())))
    bad("submission_short", "a submission id of 31 digits",
        enc(sub(submission=_hex("submission")[:31])))
    bad("kind_unknown", "kind reply", enc(sub(kind="reply")))
    bad("day_not_a_date", "day 2026-02-30", enc(sub(day="2026-02-30")))
    bad("day_year_zero", "day 0000-01-01, before the range", enc(sub(day="0000-01-01")))
    bad("answers_list", "answers as a list", enc(sub(answers=["a"])))
    bad("answer_number", "an answer that is a number", enc(sub(answers={"name": 5})))
    bad("answer_name_uppercase", "an answer named Name", enc(sub(answers={"Name": "A"})))
    bad("answer_name_empty", "an answer with an empty name", enc(sub(answers={"": "A"})))
    one = sub()["attachments"][0]
    bad("attachment_extra_field", "an attachment entry with a field too many",
        enc(sub(attachments=[{**one, "path": "x/y"}])))
    bad("attachment_missing_size", "an attachment entry without size",
        enc(sub(attachments=[without(one, "size")])))
    bad("attachment_blob_twice", "one blob listed twice", enc(sub(attachments=[one, one])))
    bad("attachment_size_negative", "size -1", enc(sub(attachments=[{**one, "size": -1}])))
    bad("attachment_size_true", "size true", enc(sub(attachments=[{**one, "size": True}])))
    bad("attachment_size_above_limit", "size 2^40 + 1",
        enc(sub(attachments=[{**one, "size": 2**40 + 1}])))
    bad("attachment_name_null", "name null", enc(sub(attachments=[{**one, "name": None}])))
    many = [{**one, "blob": f"{i:032x}"} for i in range(documents.MAX_ATTACHMENTS + 1)]
    bad("attachments_too_many", "1,001 attachments", enc(sub(attachments=many)))
    big = enc(sub(answers={"work": ""}))
    pad = documents.MAX_DOCUMENT_BYTES + 1 - len(big)
    bad("too_long", "4 MiB + 1 byte", enc(sub(answers={"work": "x" * pad})))

    bad("reply_empty_text", "a reply whose text is only white space", enc(rep(text=" \n")),
        "reply")
    bad("reply_text_not_string", "a reply whose text is a list", enc(rep(text=["hi"])),
        "reply")
    bad("reply_case_short", "a reply case of 31 digits", enc(rep(case=_hex("case")[:31])),
        "reply")
    bad("reply_unknown_field", "a reply with a field the format does not have",
        enc(rep(signature="x")), "reply")
    bad("reply_version_2", "a reply of version 2", enc(rep(version=2)), "reply",
        errors.UnsupportedDocumentVersion)
    bad("submission_as_reply", "a submission document read as a reply", enc(sub()), "reply")
    return cases


# --- writing ------------------------------------------------------------------


def header_of(data: bytes) -> bytes:
    return data.partition(b"\n\n")[0]


def same_case(folder: str, committed: bytes, rendered: bytes) -> bool:
    """Envelopes are the same case if their headers agree; the rest are deterministic."""
    if folder in ("envelope", "document"):
        return header_of(committed) == header_of(rendered)
    return committed == rendered


Case = EnvelopeCase | KeyFileCase | CodenameCase | PubkeyCase | DocumentCase


def write_all(
    out: Path, *, force: bool = False, log: Callable[[str], None] = print
) -> dict[str, int]:
    """Check every case and write it under `out`; returns the number of cases per folder.

    A committed file whose header lines are unchanged is kept as it is unless
    `force`: its envelope bytes differ on every run only by libsodium's own
    randomness, and rewriting them would churn the history for nothing.
    Files for cases that no longer exist are removed.
    """
    written: dict[str, int] = {}
    groups: list[tuple[str, Sequence[Case]]] = [
        ("envelope", envelope_cases()),
        ("keyfile", keyfile_cases()),
        ("codename", codename_cases()),
        ("pubkey", pubkey_cases()),
        ("document", document_cases()),
    ]
    for folder, cases in groups:
        target = out / folder
        target.mkdir(parents=True, exist_ok=True)
        names = [c.name for c in cases]
        for stale in target.glob("*.txt"):
            if stale.stem not in names:
                stale.unlink()
        comments = [c.comment for c in cases]
        assert len(set(names)) == len(names) and len(set(comments)) == len(comments), folder
        changed = 0
        for case in cases:
            case.check()
            path = target / f"{case.name}.txt"
            rendered = case.render()
            if force or not path.exists() or not same_case(folder, path.read_bytes(), rendered):
                path.write_bytes(rendered)
                changed += 1
        written[folder] = len(cases)
        log(f"{folder}: {len(cases)} cases checked, {changed} written to {target}")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--force", action="store_true", help="rewrite every file, not only changed cases"
    )
    args = parser.parse_args(argv)
    write_all(args.out, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
