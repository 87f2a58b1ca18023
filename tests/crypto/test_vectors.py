"""Run every committed vector in tests/vectors/ (format: tests/vectors/README.md).

The vectors are the format's contract with other implementations: each names
the outcome (`expect:`) and, for this implementation, the exact error class, so
a case built to trip one framing check cannot pass by tripping another.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import sys
from pathlib import Path
from types import ModuleType

import pytest

from crypto import codename, documents, envelope, errors, keyfile
from crypto.keys import PrivateKey, PublicKey
from crypto.params import Argon2Limits

VECTORS = Path(__file__).parents[1] / "vectors"
GENERATOR = Path(__file__).parents[2] / "tools" / "make_vectors.py"

EXPECT = {
    "not an envelope": errors.NotAnEnvelope,
    "unsupported version": errors.UnsupportedVersion,
    "no match": errors.NoMatch,
    "header failure": errors.HeaderError,
    "payload failure": errors.PayloadError,
}


def parse(path: Path) -> tuple[dict[str, list[str]], bytes]:
    """`key: value` lines (a key may repeat), a blank line, then the body bytes."""
    raw = path.read_bytes()
    head, sep, body = raw.partition(b"\n\n")
    assert sep, f"{path.name}: no blank line after the header"
    fields: dict[str, list[str]] = {}
    for line in head.decode("utf-8").split("\n"):
        key, colon, value = line.partition(": ")
        assert colon and key, f"{path.name}: bad header line {line!r}"
        fields.setdefault(key, []).append(value)
    return fields, body


def one(fields: dict[str, list[str]], key: str) -> str:
    values = fields[key]
    assert len(values) == 1, key
    return values[0]


def files(folder: str) -> list[Path]:
    return sorted((VECTORS / folder).glob("*.txt"))


def error_class(name: str) -> type[errors.CryptoError]:
    cls = getattr(errors, name)
    assert isinstance(cls, type) and issubclass(cls, errors.CryptoError)
    return cls


# --- envelopes ----------------------------------------------------------------


@pytest.mark.parametrize("path", files("envelope"), ids=lambda p: p.stem)
def test_envelope_vector(path: Path) -> None:
    fields, data = parse(path)
    identities = [PrivateKey(bytes.fromhex(h)) for h in fields["identity"]]
    expect = one(fields, "expect")
    if expect == "success":
        out = io.BytesIO()
        length = envelope.decrypt(io.BytesIO(data), out, identities)
        assert length == len(out.getvalue())
        assert hashlib.sha256(out.getvalue()).hexdigest() == one(fields, "payload")
        assert "error" not in fields
        return
    assert "payload" not in fields
    expected = error_class(one(fields, "error"))
    assert issubclass(expected, EXPECT[expect]), f"{expected.__name__} is not {expect}"
    with pytest.raises(errors.DecryptError) as info:
        envelope.decrypt_bytes(data, identities)
    assert type(info.value) is expected, str(info.value)
    # The streaming reader must never have released content of a failed envelope
    # that the caller could mistake for the whole: it raises before finishing.
    with pytest.raises(expected):
        for _ in envelope.decrypt_stream(io.BytesIO(data), identities):
            pass


def test_there_are_enough_envelope_vectors_of_every_kind() -> None:
    kinds: dict[str, int] = {}
    for path in files("envelope"):
        expect = one(parse(path)[0], "expect")
        kinds[expect] = kinds.get(expect, 0) + 1
    assert sum(kinds.values()) >= 30
    assert set(kinds) == {"success", *EXPECT}


def test_every_error_class_of_the_decrypter_is_exercised() -> None:
    seen = {one(parse(p)[0], "error") for p in files("envelope") if "error" in parse(p)[0]}
    assert seen == {
        "NotAnEnvelope", "UnsupportedVersion", "NoMatch", "HeaderError", "StanzaError",
        "HeaderMacError", "PayloadError", "ChunkAuthError", "TruncatedError",
        "TrailingDataError", "PaddingError", "NonZeroPaddingError", "PaddingLengthError",
    }


def test_a_nonzero_byte_in_a_padding_chunk_before_the_last_is_caught() -> None:
    # The committed vectors put the non-zero byte in the final chunk; content of
    # 8 MiB is padded by 256 KiB, so its marker chunk is followed by two MESSAGE
    # padding chunks and a FINAL one. Built here, not committed: 8 MiB of bytes.
    gen = load_generator()
    key = gen.identity("alice")
    chunks = gen.canonical_plain_chunks(bytes(8 * 1024 * 1024))
    tags = [tag for _plain, tag in chunks[-4:]]
    assert tags == [gen.PUSH, gen.MESSAGE, gen.MESSAGE, gen.FINAL]
    good = gen.build("middle padding", [key.public_key], chunks).to_bytes()
    assert len(envelope.decrypt_bytes(good, [key])) == 8 * 1024 * 1024
    middle = bytearray(chunks[-3][0])
    middle[-1] = 0x80  # not zero, and the length stays canonical
    chunks[-3] = (bytes(middle), gen.MESSAGE)
    bad = gen.build("middle padding", [key.public_key], chunks).to_bytes()
    with pytest.raises(errors.DecryptError) as info:
        envelope.decrypt_bytes(bad, [key])
    assert type(info.value) is errors.NonZeroPaddingError


# --- key files ----------------------------------------------------------------


@pytest.mark.parametrize("path", files("keyfile"), ids=lambda p: p.stem)
def test_keyfile_vector(path: Path) -> None:
    fields, data = parse(path)
    passphrase = one(fields, "passphrase")
    if one(fields, "expect") == "success":
        key = keyfile.open_private_key(data, passphrase)
        assert key.raw().hex() == one(fields, "identity")
        assert key.public_key.to_text() == one(fields, "public key")
        assert keyfile.read_public_key(data) == PublicKey.from_text(one(fields, "public key"))
        opened = keyfile.open_key_file(data, passphrase)
        if "signing seed" in fields:  # version 2: the signing key of team records
            assert opened.version == 2 and opened.signing is not None
            assert opened.signing.seed().hex() == one(fields, "signing seed")
            assert opened.signing.public_key.to_text() == one(fields, "signing public key")
        else:
            assert opened.version == 1 and opened.signing is None
        return
    assert one(fields, "expect") == "failure"
    expected = error_class(one(fields, "error"))
    with pytest.raises(errors.KeyFileError) as info:
        keyfile.open_private_key(data, passphrase)
    assert type(info.value) is expected, str(info.value)


# --- codenames ----------------------------------------------------------------


@pytest.mark.parametrize("path", files("codename"), ids=lambda p: p.stem)
def test_codename_vector(path: Path) -> None:
    fields, body = parse(path)
    assert body == b""
    salt = bytes.fromhex(one(fields, "salt"))
    limits = Argon2Limits(int(one(fields, "opslimit")), int(one(fields, "memlimit")))
    typed = one(fields, "codename")
    if one(fields, "expect") == "success":
        assert codename.normalise_codename(typed) == one(fields, "normalised")
        keys = codename.derive(typed, salt, limits=limits)
        assert keys.lookup_id.hex() == one(fields, "lookup id")
        assert keys.reply_key.raw().hex() == one(fields, "reply secret")
        assert keys.reply_public_key.to_text() == one(fields, "reply public key")
        return
    with pytest.raises(errors.CryptoError) as info:
        codename.derive(typed, salt, limits=limits)
    assert type(info.value) is error_class(one(fields, "error"))


# --- public key texts -------------------------------------------------------------

#: The words of crypto.keys' message for each rule of docs/format.md "Text form".
PUBKEY_RULES = {
    "1": "must start with",
    "2": "wrong length",
    "3": "outside base32",
    "4": "(upper-case letters, or non-zero unused bits)",
    "5": "the key text is not canonical (bit 255 is set",
    "6": "the key text is not canonical (its number is 2^255 - 19 or more",
    "7": "low-order point",
}


@pytest.mark.parametrize("path", files("pubkey"), ids=lambda p: p.stem)
def test_pubkey_vector(path: Path) -> None:
    fields, body = parse(path)
    assert body == b""
    text = one(fields, "text")
    if one(fields, "expect") == "success":
        key = PublicKey.from_text(text)
        assert key.raw.hex() == one(fields, "public key")
        assert key.fingerprint == one(fields, "fingerprint")
        assert key.key_id.hex() == one(fields, "key id")
        assert key.to_text() == text
        return
    assert one(fields, "error") == "InvalidPublicKey"
    for refuse_low_order in (True, False):
        if one(fields, "rule") == "7" and not refuse_low_order:
            continue  # the one rule a bulk reader may run apart (crypto.bundle)
        with pytest.raises(errors.InvalidPublicKey) as info:
            PublicKey.from_text(text, refuse_low_order=refuse_low_order)
        assert PUBKEY_RULES[one(fields, "rule")] in str(info.value)


def test_every_rule_of_the_key_text_is_exercised() -> None:
    rules = {one(parse(p)[0], "rule") for p in files("pubkey") if "rule" in parse(p)[0]}
    assert rules == set(PUBKEY_RULES)


# --- the documents inside envelopes ------------------------------------------------


@pytest.mark.parametrize("path", files("document"), ids=lambda p: p.stem)
def test_document_vector(path: Path) -> None:
    fields, data = parse(path)
    identities = [PrivateKey(bytes.fromhex(h)) for h in fields["identity"]]
    plain = envelope.decrypt_bytes(data, identities)  # every document is in a valid envelope
    reader = {"submission": documents.parse_submission, "reply": documents.parse_reply}[
        one(fields, "document")]
    if one(fields, "expect") == "success":
        assert hashlib.sha256(plain).hexdigest() == one(fields, "payload")
        assert isinstance(reader(plain), dict)
        return
    assert one(fields, "expect") == "failure"
    expected = error_class(one(fields, "error"))
    with pytest.raises(errors.DocumentError) as info:
        reader(plain)
    assert type(info.value) is expected, str(info.value)


# --- the vectors themselves -----------------------------------------------------


@pytest.mark.parametrize("folder", ["envelope", "keyfile", "codename", "pubkey", "document"])
def test_comments_are_unique(folder: str) -> None:
    comments = [one(parse(p)[0], "comment") for p in files(folder)]
    assert comments and len(set(comments)) == len(comments)


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_vectors", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_generator_is_importable_and_matches_the_committed_vectors() -> None:
    gen = load_generator()
    assert callable(gen.main)
    # libsodium draws the sealed boxes' ephemeral keys and the stream header, so
    # envelope bytes differ on every run; everything above the blank line does not.
    cases = gen.envelope_cases()
    for case in cases:
        committed = (VECTORS / "envelope" / f"{case.name}.txt").read_bytes()
        assert committed.partition(b"\n\n")[0] == case.render().partition(b"\n\n")[0]
    names = {c.name for c in cases}
    assert names == {p.stem for p in files("envelope")}
    # Likewise the documents, each sealed in an envelope.
    documents_ = gen.document_cases()
    for doc in documents_:
        committed = (VECTORS / "document" / f"{doc.name}.txt").read_bytes()
        assert committed.partition(b"\n\n")[0] == doc.render().partition(b"\n\n")[0]
    assert {c.name for c in documents_} == {p.stem for p in files("document")}
    # Key files and codenames are fully determined by the seeded DRBG.
    for folder, cases in [("keyfile", gen.keyfile_cases()), ("codename", gen.codename_cases()),
                          ("pubkey", gen.pubkey_cases())]:
        assert {c.name for c in cases} == {p.stem for p in files(folder)}
        for case in cases:
            assert (VECTORS / folder / f"{case.name}.txt").read_bytes() == case.render()


def test_generator_runs_and_writes_every_case(tmp_path: Path) -> None:
    counts = load_generator().write_all(tmp_path, log=lambda _: None)
    folders = ("envelope", "keyfile", "codename", "pubkey", "document")
    assert counts == {folder: len(files(folder)) for folder in folders}
    for folder in counts:
        assert {p.name for p in (tmp_path / folder).iterdir()} == {p.name for p in files(folder)}
