"""A second decrypter, written from docs/format.md alone, run over the vectors.

It uses only hashlib, json and nacl.bindings (no `crypto` import), as another
implementation would: the key text, the key file, the envelope, the codename,
and the documents inside the envelopes. If the spec left a byte or a check
out, this reader and the vectors would disagree.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import unicodedata
from datetime import date
from pathlib import Path

import nacl.bindings as na
import nacl.exceptions
import pytest

from tests.crypto.test_vectors import files, one, parse

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


def open_key_file(data: bytes, passphrase: str) -> tuple[bytes, bytes | None]:
    """The X25519 secret and, for version 2, the Ed25519 seed."""
    if len(data) < 8 or data[:6] != b"RFGKEY":
        raise Outcome("KeyFileError")
    if data[6:8] not in (b"\x00\x01", b"\x00\x02"):
        raise Outcome("UnsupportedKeyFile")
    version = data[7]
    if len(data) != (144 if version == 1 else 208):
        raise Outcome("KeyFileError")
    ops, mem = int.from_bytes(data[8:16], "little"), int.from_bytes(data[16:24], "little")
    if not (1 <= ops <= 10 and 8 << 20 <= mem <= 1 << 30):
        raise Outcome("UnsupportedKeyFile")
    public = data[40:72]
    if public[31] & 0x80 or int.from_bytes(public, "little") >= 2**255 - 19:
        raise Outcome("KeyFileError")
    try:
        na.crypto_scalarmult(b"\x42" * 32, public)
    except nacl.exceptions.RuntimeError:
        raise Outcome("KeyFileError") from None
    signing_public = data[72:104] if version == 2 else b""
    if version == 2 and not na.crypto_core_ed25519_is_valid_point(signing_public):
        raise Outcome("KeyFileError")
    rest = data[104:] if version == 2 else data[72:]
    nonce, box = rest[:24], rest[24:]
    password = unicodedata.normalize("NFC", passphrase).encode()
    key = na.crypto_pwhash_alg(32, password, data[24:40], ops, mem, na.crypto_pwhash_ALG_ARGON2ID13)
    try:
        secret = na.crypto_secretbox_open(box, nonce, key)
    except nacl.exceptions.CryptoError:
        raise Outcome("WrongPassphrase") from None
    if x25519_public(secret[:32]) != public:
        raise Outcome("KeyFileError")
    if version == 1:
        return bytes(secret), None
    seed = bytes(secret[32:])
    if na.crypto_sign_seed_keypair(seed)[0] != signing_public:
        raise Outcome("KeyFileError")
    return bytes(secret[:32]), seed


@pytest.mark.parametrize("path", files("keyfile"), ids=lambda p: p.stem)
def test_spec_key_file_reader_agrees_with_the_vector(path: Path) -> None:
    fields, data = parse(path)
    try:
        secret, seed = open_key_file(data, one(fields, "passphrase"))
    except Outcome as outcome:
        assert str(outcome) == one(fields, "error")
        return
    assert secret.hex() == one(fields, "identity")
    assert (seed.hex() if seed is not None else None) == (
        one(fields, "signing seed") if "signing seed" in fields else None)
    text = "refuge-pk1-" + base64.b32encode(x25519_public(secret)).decode().rstrip("=").lower()
    assert text == one(fields, "public key")


WORDLIST = Path(__file__).parents[2] / "crypto" / "data" / "eff_large_wordlist.txt"
# U+00A0 and U+3000 are not listed: NFKC has already made them spaces.
SEPARATORS = "-_.,;:/\u00b7\u2010\u2011\u2012\u2013\u2014"
WORDLIST_SHA256 = "6d557f0693958fb5e650b68b5bee585eb82cf4da32965505c789e924743bc522"
CODENAME_WORDS_SHA256 = "18586c092f641ecd1a471dd6ab35618ab69f0aa7483486424f7caf0996d06259"


def normalise(typed: str) -> str:
    assert hashlib.sha256(WORDLIST.read_bytes()).hexdigest() == WORDLIST_SHA256
    listed = [w for w in WORDLIST.read_text("utf-8").split() if "-" not in w]
    assert len(listed) == 7772
    assert hashlib.sha256("".join(w + "\n" for w in listed).encode()).hexdigest() == (
        CODENAME_WORDS_SHA256)
    words = set(listed)
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


# --- the public key's text form -----------------------------------------------

B32 = "abcdefghijklmnopqrstuvwxyz234567"


def read_key_text(text: str) -> bytes:
    """The 32 key bytes, or Outcome(the number of the rule that refused the text)."""
    if not text.startswith("refuge-pk1-"):
        raise Outcome("1")
    body = text[len("refuge-pk1-"):]
    if len(body) != 52:
        raise Outcome("2")
    if any(c not in B32 for c in body.lower()):
        raise Outcome("3")
    number = 0
    for c in body.lower():
        number = number * 32 + B32.index(c)
    if body != body.lower() or number & 0xF:
        raise Outcome("4")
    raw = (number >> 4).to_bytes(32, "big")
    u = int.from_bytes(raw, "little")  # an X25519 key is a little-endian number
    if u >> 255:
        raise Outcome("5")
    if u >= 2**255 - 19:
        raise Outcome("6")
    try:
        na.crypto_scalarmult(b"\x42" * 32, raw)
    except nacl.exceptions.RuntimeError:
        raise Outcome("7") from None
    return raw


@pytest.mark.parametrize("path", files("pubkey"), ids=lambda p: p.stem)
def test_spec_key_text_reader_agrees_with_the_vector(path: Path) -> None:
    fields, _ = parse(path)
    try:
        raw = read_key_text(one(fields, "text"))
    except Outcome as outcome:
        assert str(outcome) == one(fields, "rule")
        return
    assert raw.hex() == one(fields, "public key")
    h = b2b(raw, b"refuge-fpr-v1")
    assert h[:8].hex() == one(fields, "key id")
    digits = h[:10].hex()
    assert " ".join(digits[i : i + 4] for i in range(0, 20, 4)) == one(fields, "fingerprint")


# --- the documents inside envelopes ---------------------------------------------

HEX32 = re.compile(r"[0-9a-f]{32}")


def bad_doc() -> Outcome:
    return Outcome("DocumentError")


def is_day(value: object) -> bool:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return False
    y, m, d = (int(p) for p in value.split("-"))
    try:
        date(y, m, d)  # the proleptic Gregorian calendar, years 1 to 9999
    except ValueError:
        return False
    return True


def load_document(data: bytes, fmt: str, fields: set[str],
                  versions: tuple[int, ...] = (1,)) -> dict[str, object]:
    if len(data) > 4 * 1024 * 1024 or data.startswith(b"\xef\xbb\xbf"):
        raise bad_doc()

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        if len({k for k, _ in items}) != len(items):
            raise bad_doc()
        return dict(items)

    def no_number(_: str) -> object:
        raise bad_doc()

    try:
        doc = json.loads(data.decode("utf-8"), object_pairs_hook=pairs,
                         parse_float=no_number, parse_constant=no_number)
        # A lone surrogate escape (\ud800) has no UTF-8 form.
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except (UnicodeError, ValueError):
        raise bad_doc() from None
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise bad_doc()
    if type(doc.get("version")) is not int or doc["version"] not in versions:
        raise Outcome("UnsupportedDocumentVersion")
    if set(doc) != fields:
        raise bad_doc()
    if not all(isinstance(doc[k], str) and HEX32.fullmatch(doc[k])
               for k in fields & {"case", "submission", "reply"}) or not is_day(doc["day"]):
        raise bad_doc()
    return doc


def read_submission(data: bytes) -> None:
    doc = load_document(data, "refuge-intake submission", {
        "format", "version", "case", "submission", "kind", "day", "answers", "attachments"},
        versions=(1, 2))
    answers, attachments = doc["answers"], doc["attachments"]
    if doc["kind"] not in ("application", "followup") or not isinstance(answers, dict):
        raise bad_doc()
    for name, value in answers.items():
        text = isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value))
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", name) or not text:
            raise bad_doc()
    # Version 2: a country is "", "other" or two capital letters A-Z.
    country = answers.get("country")
    if doc["version"] == 2 and "country" in answers and not (
            isinstance(country, str) and re.fullmatch(r"|other|[A-Z]{2}", country)):
        raise bad_doc()
    if not isinstance(attachments, list) or len(attachments) > 1000:
        raise bad_doc()
    blobs = []
    for a in attachments:
        if not isinstance(a, dict) or set(a) != {"blob", "name", "type", "size"}:
            raise bad_doc()
        if not (isinstance(a["blob"], str) and HEX32.fullmatch(a["blob"])
                and isinstance(a["name"], str) and isinstance(a["type"], str)
                and type(a["size"]) is int and 0 <= a["size"] <= 2**40):
            raise bad_doc()
        blobs.append(a["blob"])
    if len(set(blobs)) != len(blobs):
        raise bad_doc()


def read_reply(data: bytes) -> None:
    doc = load_document(data, "refuge-intake reply",
                        {"format", "version", "case", "reply", "day", "text"})
    if not isinstance(doc["text"], str) or not doc["text"].strip():
        raise bad_doc()


@pytest.mark.parametrize("path", files("document"), ids=lambda p: p.stem)
def test_spec_document_reader_agrees_with_the_vector(path: Path) -> None:
    fields, data = parse(path)
    content = decrypt(data, [bytes.fromhex(h) for h in fields["identity"]])
    reader = read_submission if one(fields, "document") == "submission" else read_reply
    try:
        reader(content)
    except Outcome as outcome:
        assert one(fields, "expect") == "failure"
        assert str(outcome) == one(fields, "error")
        return
    assert one(fields, "expect") == "success"
    assert hashlib.sha256(content).hexdigest() == one(fields, "payload")
