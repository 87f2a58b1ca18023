"""Public keys: text form, canonical encoding, fingerprints."""

import base64

import nacl.bindings
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.errors import InvalidPublicKey
from crypto.keys import PUBLIC_KEY_PREFIX, PrivateKey, PublicKey


def test_text_form_round_trips_and_is_stable():
    key = PrivateKey.generate().public_key
    text = key.to_text()
    assert text.startswith(PUBLIC_KEY_PREFIX)
    assert len(text) == len(PUBLIC_KEY_PREFIX) + 52
    assert PublicKey.from_text(text) == key
    assert PublicKey.from_text(f"  {text}\n") == key


def test_known_key_has_known_text_and_fingerprint():
    key = PublicKey(bytes(range(32)))
    assert key.to_text() == (
        "refuge-pk1-aaaqeayeaudaocajbifqydiob4ibceqtcqkrmfyydenbwha5dypq"
    )
    fingerprint = key.fingerprint
    assert len(fingerprint) == 24 and fingerprint.count(" ") == 4
    assert all(c in "0123456789abcdef " for c in fingerprint)


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda t: t.replace("refuge-pk1-", "refuge-pk2-"), "must start with"),
        (lambda t: t[:-1], "wrong length"),
        (lambda t: t + "a", "wrong length"),
        (lambda t: t[:-1] + "1", "outside base32"),
        (lambda t: t.upper(), "must start with"),
        (lambda t: t[:11] + t[11:].upper(), "canonical"),
        # The last base32 digit carries 4 unused bits: setting one must be refused.
        (lambda t: t[:-1] + chr(ord(t[-1]) + 1) if t[-1] in "aceg" else t[:-1] + "b", "canonical"),
    ],
)
def test_non_canonical_or_damaged_text_is_refused(mutate, fragment):
    text = PublicKey(bytes(32)).to_text()
    assert text.endswith("a")
    with pytest.raises(InvalidPublicKey, match=fragment):
        PublicKey.from_text(mutate(text))


def test_raw_length_is_checked():
    with pytest.raises(InvalidPublicKey):
        PublicKey(b"\x00" * 31)


def test_fingerprints_differ_and_key_id_is_fingerprint_prefix():
    a, b = PrivateKey.generate().public_key, PrivateKey.generate().public_key
    assert a.fingerprint != b.fingerprint
    assert a.key_id.hex()[:16] == a.fingerprint.replace(" ", "")[:16]


def test_base32_alphabet_used_is_rfc4648():
    key = PrivateKey.generate().public_key
    body = key.to_text()[len(PUBLIC_KEY_PREFIX):]
    assert base64.b32decode(body.upper() + "====") == key.raw


def test_key_id_and_public_key_are_computed_once_and_stay_right():
    sk = PrivateKey.generate()
    assert sk.public_key is sk.public_key
    pk = sk.public_key
    first = pk.key_id
    assert pk.key_id is first  # kept, not recomputed
    fresh = PublicKey(pk.raw)
    assert fresh.key_id == first
    assert first.hex() == fresh.fingerprint.replace(" ", "")[:16]
    assert PrivateKey(sk.raw()).public_key == pk


@given(st.binary(min_size=32, max_size=32))
def test_canonical_text_decodes_as_base32_does(raw):
    text = PublicKey(raw).to_text()
    body = text[len(PUBLIC_KEY_PREFIX):]
    assert body == base64.b32encode(raw).decode().rstrip("=").lower()
    try:
        key = PublicKey.from_text(text)
    except InvalidPublicKey as e:  # refused whichever path decodes it
        if raw[31] & 0x80 or int.from_bytes(raw, "little") >= 2**255 - 19:
            assert "the key text is not canonical" in str(e)
        else:
            assert "low-order" in str(e)
        return
    assert not raw[31] & 0x80
    assert key.raw == raw == base64.b32decode(body.upper() + "====")
    assert key.to_text() == text


@pytest.mark.parametrize("last", "abcdefghijklmnopqrstuvwxyz234567")
def test_only_a_and_q_end_a_canonical_key(last):
    text = PublicKey(bytes(range(32))).to_text()[:-1] + last
    if last in "aq":
        assert PublicKey.from_text(text).to_text() == text
    else:
        with pytest.raises(InvalidPublicKey, match="canonical"):
            PublicKey.from_text(text)


P = 2**255 - 19


def _text(raw: bytes) -> str:
    return PublicKey(raw).to_text()


@pytest.mark.parametrize(
    ("number", "why"),
    [(P, "2^255 - 19 (zero, written a second way)"),
     (P + 9, "the base point 9, written a second way"),
     (2**255 - 1, "the largest number below bit 255")],
)
def test_a_number_at_or_above_the_prime_is_refused(number, why):
    with pytest.raises(InvalidPublicKey, match="the key text is not canonical"):
        PublicKey.from_text(_text(number.to_bytes(32, "little")))
    # refuse_low_order=False skips only the low-order test, never this one.
    with pytest.raises(InvalidPublicKey, match="the key text is not canonical"):
        PublicKey.from_text(_text(number.to_bytes(32, "little")), refuse_low_order=False)


def test_the_largest_canonical_number_is_accepted_unless_low_order():
    # P - 1 is a low-order point (u = -1); P - 2 is an ordinary canonical key text.
    with pytest.raises(InvalidPublicKey, match="low-order"):
        PublicKey.from_text(_text((P - 1).to_bytes(32, "little")))
    raw = (P - 2).to_bytes(32, "little")
    assert PublicKey.from_text(_text(raw)).raw == raw


def test_bit_255_set_is_refused_everywhere_a_text_is_read():
    key = PrivateKey.generate().public_key
    raw = key.raw[:31] + bytes([key.raw[31] | 0x80])
    variant = _text(raw)
    # libsodium ignores bit 255: the same key, with another fingerprint and key id.
    other = PrivateKey.generate().raw()
    assert nacl.bindings.crypto_scalarmult(other, raw) == nacl.bindings.crypto_scalarmult(
        other, key.raw)
    assert PublicKey(raw).fingerprint != key.fingerprint
    for refuse_low_order in (True, False):
        with pytest.raises(InvalidPublicKey) as info:
            PublicKey.from_text(variant, refuse_low_order=refuse_low_order)
        assert "the key text is not canonical (bit 255 is set" in str(info.value)
