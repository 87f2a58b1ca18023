"""Regression tests for the checks docs/format.md added to crypto/ while writing the spec."""

from __future__ import annotations

import io

import nacl.bindings as sodium
import pytest

from crypto import codename, envelope, keyfile
from crypto.errors import (
    ChunkAuthError,
    EncryptError,
    InvalidCodename,
    InvalidPublicKey,
    KeyFileError,
    PayloadError,
)
from crypto.keys import PrivateKey, PublicKey
from crypto.params import TEST_LIMITS, Argon2Limits

# The canonical encodings of the low-order points of Curve25519 (libsodium's list).
LOW_ORDER = [
    bytes(32),
    bytes([1]) + bytes(31),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
]


@pytest.mark.parametrize("raw", LOW_ORDER)
def test_low_order_public_keys_are_refused(raw: bytes) -> None:
    with pytest.raises(EncryptError):
        envelope.encrypt_bytes(b"x", [PublicKey(raw)])
    text = "refuge-pk1-" + __import__("base64").b32encode(raw).decode().rstrip("=").lower()
    with pytest.raises(InvalidPublicKey):
        PublicKey.from_text(text)


def test_key_file_with_low_order_public_key_is_damaged() -> None:
    data = bytearray(keyfile.seal_private_key(PrivateKey.generate(), "pw", limits=TEST_LIMITS))
    data[40:72] = bytes(32)
    with pytest.raises(KeyFileError):
        keyfile.read_public_key(bytes(data))


def test_sealing_refuses_limits_the_file_could_not_be_opened_with() -> None:
    with pytest.raises(ValueError):
        keyfile.seal_private_key(
            PrivateKey.generate(), "pw", limits=Argon2Limits(opslimit=11, memlimit=8 << 20)
        )


def test_generated_codenames_never_hold_a_hyphenated_word() -> None:
    pool = codename.codename_words()
    assert len(pool) == 7772
    assert {"drop-down", "felt-tip", "t-shirt", "yo-yo"}.isdisjoint(pool)
    # Every word of the pool survives normalisation on its own.
    for word in pool:
        assert codename.normalise_codename(" ".join([word] * 7)) == " ".join([word] * 7)


def test_hyphenated_list_words_are_not_codename_words() -> None:
    with pytest.raises(InvalidCodename):
        codename.normalise_codename("yo-yo abacus abacus abacus abacus abacus abacus")


def _stream(key: bytes, chunks: list[tuple[bytes, int]]) -> tuple[bytes, bytes]:
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    body = b"".join(
        sodium.crypto_secretstream_xchacha20poly1305_push(state, m, None, t) for m, t in chunks
    )
    return header, body


def _envelope(chunks: list[tuple[bytes, int]], sk: PrivateKey) -> bytes:
    """An envelope whose header is valid and whose payload is `chunks`, correctly sealed."""
    file_key = bytes(range(32))
    payload_key = envelope._subkey(file_key, envelope._PERSON_PAYLOAD)
    stream_header, body = _stream(payload_key, chunks)
    real = envelope.encrypt_bytes(b"", [sk.public_key], random=lambda n: file_key[:n])
    head_len = 8 + 1 + envelope.STANZA_BYTES
    header = real[:head_len] + stream_header
    return header + envelope._header_mac(file_key, header) + body


def test_a_full_push_chunk_then_an_empty_final_chunk_is_refused() -> None:
    sk = PrivateKey.generate()
    content = b"x" * (envelope.CHUNK_SIZE - 1)
    canonical = _envelope([(content + b"\x80", envelope.TAG_FINAL)], sk)
    assert envelope.decrypt_bytes(canonical, [sk]) == content
    second = _envelope([(content + b"\x80", envelope.TAG_PUSH), (b"", envelope.TAG_FINAL)], sk)
    with pytest.raises(PayloadError) as info:
        envelope.decrypt_bytes(second, [sk])
    assert type(info.value) is PayloadError


def test_a_flipped_chunk_is_a_chunk_auth_error() -> None:
    sk = PrivateKey.generate()
    data = bytearray(envelope.encrypt_bytes(b"hello", [sk.public_key]))
    data[-1] ^= 1
    with pytest.raises(ChunkAuthError):
        envelope.decrypt(io.BytesIO(bytes(data)), io.BytesIO(), [sk])


def test_cli_refuses_a_low_order_recipient_in_one_line(tmp_path) -> None:
    from click.testing import CliRunner

    from crypto.cli import cli

    (tmp_path / "in").write_bytes(b"hi")
    zero = "refuge-pk1-" + "a" * 52
    result = CliRunner().invoke(
        cli, ["encrypt", "-r", zero, str(tmp_path / "in"), str(tmp_path / "out")]
    )
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "low-order" in result.output
    assert not (tmp_path / "out").exists()


# --- documents: a lone surrogate is refused wherever it is (documents.may_hold_surrogates
# lets documents without a surrogate escape skip the walk over their strings) ------------

_SUBMISSION_HEAD = (
    '{"format":"refuge-intake submission","version":1,"case":"' + "a" * 32
    + '","submission":"' + "b" * 32 + '","kind":"application","day":"2026-11-20",'
)


@pytest.mark.parametrize("answers", [
    '{"name":"x\\ud800"}', '{"name":"\\uD800"}', '{"name":"\\uDFFF y"}', '{"name":"\\udc00"}',
    '{"name":["ok","\\uDbff"]}', '{"name":"\\ud83d"}',
])
def test_a_lone_surrogate_escape_is_refused_in_any_case(answers: str) -> None:
    from crypto import documents
    from crypto.errors import DocumentError

    data = (_SUBMISSION_HEAD + '"answers":' + answers + ',"attachments":[]}').encode()
    with pytest.raises(DocumentError, match="lone surrogate"):
        documents.parse_submission(data)


@pytest.mark.parametrize("answers", [
    '{"name":"\\ud83d\\ude00"}', '{"name":"\\\\ud800"}', '{"name":"\\u00e9\\n"}',
    '{"name":"Ay\u015fe"}',
])
def test_text_without_a_lone_surrogate_is_accepted(answers: str) -> None:
    from crypto import documents

    data = (_SUBMISSION_HEAD + '"answers":' + answers + ',"attachments":[]}').encode()
    assert documents.parse_submission(data)["answers"]["name"]


def test_every_lone_surrogate_escape_is_refused() -> None:
    from crypto import documents
    from crypto.errors import DocumentError

    for code in range(0xD800, 0xE000):
        for escape in (f"\\u{code:04x}", f"\\u{code:04X}"):
            data = (_SUBMISSION_HEAD + '"answers":{"name":"' + escape + '"},"attachments":[]}')
            with pytest.raises(DocumentError, match="lone surrogate"):
                documents.parse_submission(data.encode())


def test_a_lone_surrogate_in_a_field_name_is_refused() -> None:
    from crypto import documents
    from crypto.errors import DocumentError

    data = (_SUBMISSION_HEAD + '"answers":{},"attachments":[],"\\uD800":1}').encode()
    with pytest.raises(DocumentError, match="lone surrogate"):
        documents.parse_submission(data)


# --- manifests: printable ASCII only, every byte value ---------------------------------


@pytest.mark.parametrize("byte", range(256))
def test_a_manifest_holds_printable_ascii_only(byte: int) -> None:
    from crypto.bundle import ManifestError, parse_manifest

    data = b'{"a":"' + bytes([byte]) + b'"}'
    with pytest.raises(ManifestError) as caught:
        parse_manifest(data)
    not_printable = "not printable ASCII" in str(caught.value)
    assert not_printable == (not 0x20 <= byte <= 0x7E)


# --- documents: the decoder built once (crypto.documents.strict_decoder) ---------------


@pytest.mark.parametrize("text", [
    _SUBMISSION_HEAD + '"answers":{"name":"x"},"attachments":[]}',
    '{"a":1,"a":2}', '{"a":{"b":1,"b":1}}', '{"a":1.5}', '{"a":NaN}', '{"a":-Infinity}',
    '{"a":1e3}', '[1,2,{"c":[]}]', '  {"a" : 1 }  ', '{"a":1} x', '', '\ufeff{}', '{"a":',
])
def test_the_decoder_built_once_does_what_json_loads_with_the_hooks_does(text: str) -> None:
    import json

    from crypto import documents
    from crypto.errors import DocumentError

    def outcome(parse: object) -> object:
        try:
            return ("value", parse(text))  # type: ignore[operator]
        except DocumentError as e:
            return ("refused", str(e))
        except ValueError as e:
            return ("not JSON", type(e))

    plain = outcome(lambda t: json.loads(t, object_pairs_hook=documents._no_duplicates,
                                         parse_float=documents._no_float,
                                         parse_constant=documents._no_float))
    assert outcome(documents._DECODER.decode) == plain
