"""A second decrypter, written from docs/format.md alone, run over the vectors.

It uses only hashlib and nacl.bindings (no `crypto` import), as another
implementation would. If the spec left a byte or a check out, this reader and
the vectors would disagree.
"""

from __future__ import annotations

import base64
import hashlib
import unicodedata
from pathlib import Path

import nacl.bindings as na
import nacl.exceptions
import pytest

from tests.test_vectors import files, one, parse

SS = "crypto_secretstream_xchacha20poly1305_"
MESSAGE, PUSH, FINAL = 0, 1, 3


class Outcome(Exception):
    """Carries the `expect:` value of a failed check."""


def b2b(m: bytes, person: bytes, key: bytes = b"") -> bytes:
    return hashlib.blake2b(m, digest_size=32, key=key, person=person).digest()


def padded_size(n: int) -> int:
    if n <= 4096:
        return 4096
    e = n.bit_length() - 1
    s = e.bit_length()
    mask = (1 << (e - s)) - 1
    return (n + mask) & ~mask


def x25519_public(secret: bytes) -> bytes:
    return bytes(na.crypto_scalarmult_base(secret))


def decrypt(data: bytes, identities: list[bytes]) -> bytes:
    pos = 0

    def take(n: int) -> bytes:
        nonlocal pos
        out = data[pos : pos + n]
        pos += len(out)
        return out

    magic = take(8)
    if len(magic) < 8 or magic[:6] != b"RFGENV":
        raise Outcome("not an envelope")
    if magic[6:] != b"\x00\x01":
        raise Outcome("unsupported version")
    count = take(1)
    if not count or not 1 <= count[0] <= 32:
        raise Outcome("header failure")
    stanzas = take(88 * count[0])
    if len(stanzas) != 88 * count[0]:
        raise Outcome("header failure")
    ids = [stanzas[i : i + 8] for i in range(0, len(stanzas), 88)]
    if len(set(ids)) != len(ids):
        raise Outcome("header failure")
    stream_header, mac = take(24), take(32)
    if len(stream_header) != 24 or len(mac) != 32:
        raise Outcome("header failure")
    file_key = None
    for secret in identities:
        public = x25519_public(secret)
        kid = b2b(public, b"refuge-fpr-v1")[:8]
        if kid in ids:
            i = ids.index(kid)
            try:
                file_key = na.crypto_box_seal_open(stanzas[88 * i + 8 : 88 * i + 88], public, secret)
            except nacl.exceptions.CryptoError:
                raise Outcome("header failure") from None
            break
    if file_key is None:
        raise Outcome("no match")
    mac_key = b2b(b"", b"refuge-hdr-mac", file_key)
    if not na.sodium_memcmp(b2b(magic + count + stanzas + stream_header, b"", mac_key), mac):
        raise Outcome("header failure")

    state = getattr(na, SS + "state")()
    getattr(na, SS + "init_pull")(state, stream_header, b2b(b"", b"refuge-payload", file_key))
    content, total, marker_seen = b"", 0, False
    while True:
        chunk = take(65553)
        if not chunk or len(chunk) < 17:
            raise Outcome("payload failure")
        try:
            plain, tag = getattr(na, SS + "pull")(state, chunk, None)
        except nacl.exceptions.CryptoError:
            raise Outcome("payload failure") from None
        if tag not in (MESSAGE, PUSH, FINAL):
            raise Outcome("payload failure")
        if (tag != FINAL and len(chunk) != 65553) or (tag == FINAL and not plain):
            raise Outcome("payload failure")
        total += len(plain)
        if marker_seen:
            if tag == PUSH or any(plain):
                raise Outcome("payload failure")
        elif tag == MESSAGE:
            content += plain
        else:
            stripped = plain.rstrip(b"\x00")
            if not stripped.endswith(b"\x80"):
                raise Outcome("payload failure")
            content += stripped[:-1]
            marker_seen = True
        if tag == FINAL:
            if total != padded_size(len(content) + 1) or pos != len(data):
                raise Outcome("payload failure")
            return content


@pytest.mark.parametrize("path", files("envelope"), ids=lambda p: p.stem)
def test_spec_decrypter_agrees_with_the_vector(path: Path) -> None:
    fields, data = parse(path)
    identities = [bytes.fromhex(h) for h in fields["identity"]]
    try:
        content = decrypt(data, identities)
    except Outcome as outcome:
        assert str(outcome) == one(fields, "expect")
        return
    assert one(fields, "expect") == "success"
    assert hashlib.sha256(content).hexdigest() == one(fields, "payload")


def open_key_file(data: bytes, passphrase: str) -> bytes:
    if len(data) < 8 or data[:6] != b"RFGKEY":
        raise Outcome("KeyFileError")
    if data[6:8] != b"\x00\x01":
        raise Outcome("UnsupportedKeyFile")
    if len(data) != 144:
        raise Outcome("KeyFileError")
    ops, mem = int.from_bytes(data[8:16], "little"), int.from_bytes(data[16:24], "little")
    if not (1 <= ops <= 10 and 8 << 20 <= mem <= 1 << 30):
        raise Outcome("UnsupportedKeyFile")
    public = data[40:72]
    try:
        na.crypto_scalarmult(b"\x42" * 32, public)
    except nacl.exceptions.RuntimeError:
        raise Outcome("KeyFileError") from None
    password = unicodedata.normalize("NFC", passphrase).encode()
    key = na.crypto_pwhash_alg(32, password, data[24:40], ops, mem, na.crypto_pwhash_ALG_ARGON2ID13)
    try:
        secret = na.crypto_secretbox_open(data[96:144], data[72:96], key)
    except nacl.exceptions.CryptoError:
        raise Outcome("WrongPassphrase") from None
    if x25519_public(secret) != public:
        raise Outcome("KeyFileError")
    return bytes(secret)


@pytest.mark.parametrize("path", files("keyfile"), ids=lambda p: p.stem)
def test_spec_key_file_reader_agrees_with_the_vector(path: Path) -> None:
    fields, data = parse(path)
    try:
        secret = open_key_file(data, one(fields, "passphrase"))
    except Outcome as outcome:
        assert str(outcome) == one(fields, "error")
        return
    assert secret.hex() == one(fields, "identity")
    text = "refuge-pk1-" + base64.b32encode(x25519_public(secret)).decode().rstrip("=").lower()
    assert text == one(fields, "public key")


WORDLIST = Path(__file__).parent.parent / "crypto" / "data" / "eff_large_wordlist.txt"
SEPARATORS = "-_.,;:/\u00b7\u00a0\u2010\u2011\u2012\u2013\u2014\u3000"


def normalise(typed: str) -> str:
    words = {w for w in WORDLIST.read_text("utf-8").split() if "-" not in w}
    assert len(words) == 7772
    text = unicodedata.normalize("NFKC", typed).casefold()
    for sep in SEPARATORS:
        text = text.replace(sep, " ")
    parts = text.split()
    if len(parts) != 7 or not all(p in words for p in parts):
        raise Outcome("InvalidCodename")
    return " ".join(parts)


@pytest.mark.parametrize("path", files("codename"), ids=lambda p: p.stem)
def test_spec_codename_derivation_agrees_with_the_vector(path: Path) -> None:
    fields, _ = parse(path)
    try:
        normal = normalise(one(fields, "codename"))
    except Outcome as outcome:
        assert str(outcome) == one(fields, "error")
        return
    assert normal == one(fields, "normalised")
    master = na.crypto_pwhash_alg(
        64, normal.encode(), bytes.fromhex(one(fields, "salt")), int(one(fields, "opslimit")),
        int(one(fields, "memlimit")), na.crypto_pwhash_ALG_ARGON2ID13,
    )
    assert b2b(b"", b"refuge-lookup", master).hex() == one(fields, "lookup id")
    seed = b2b(b"", b"refuge-reply", master)
    assert seed.hex() == one(fields, "reply secret")
    text = "refuge-pk1-" + base64.b32encode(x25519_public(seed)).decode().rstrip("=").lower()
    assert text == one(fields, "reply public key")
