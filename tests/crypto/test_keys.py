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


# --- is_low_order_canonical: the low-order test without a multiplication ---------

#: libsodium's blocklist (crypto_scalarmult_curve25519's `has_small_order`):
#: 0, 1, the two order-8 points, p - 1, p, p + 1; it ignores bit 255.
_P = 2**255 - 19
_ORDER_8 = (
    0xB8495F16056286FDB1329CEB8D09DA6AC49FF1FAE35616AEB8413B7C7AEBE0,
    0x57119FD0DD4E22D8868E1C58C45C44045BEF839C55B1D0B1248C50A3BC959C5F,
)
_BLOCKLIST = (0, 1, *_ORDER_8, _P - 1, _P, _P + 1)


def _raw(u: int) -> bytes:
    return u.to_bytes(32, "little")


def _double(u: int) -> int | None:
    """The u-coordinate of 2·P (curve or twist, x-only); None for the point at infinity."""
    den = 4 * u * (u * u + 486662 * u + 1) % _P
    return None if den == 0 else (u * u - 1) ** 2 * pow(den, -1, _P) % _P


def test_the_listed_points_are_the_small_order_ones():
    # Each reaches the point at infinity within three doublings: its order divides 8.
    for u in (0, 1, _P - 1, *_ORDER_8):
        chain: list[int | None] = [u]
        while chain[-1] is not None:
            chain.append(_double(chain[-1]))
        assert len(chain) <= 5, hex(u)
    assert [_double(u) for u in _ORDER_8] == [1, 1]


def test_every_blocklisted_point_is_refused_by_both_tests():
    from crypto.keys import is_low_order, is_low_order_canonical, noncanonical_reason

    for u in _BLOCKLIST:
        for raw in (_raw(u), _raw(u | 1 << 255)):
            assert is_low_order(raw), hex(u)
            if noncanonical_reason(raw) is None:
                assert is_low_order_canonical(raw), hex(u)
    canonical = [u for u in _BLOCKLIST if noncanonical_reason(_raw(u)) is None]
    assert sorted(canonical) == sorted((0, 1, _P - 1, *_ORDER_8))


def test_both_tests_agree_on_the_smallest_and_largest_canonical_numbers():
    from crypto.keys import is_low_order, is_low_order_canonical

    for u in (*range(0, 512), *range(_P - 512, _P)):
        assert is_low_order_canonical(_raw(u)) == is_low_order(_raw(u)), hex(u)


@given(st.integers(min_value=0, max_value=_P - 1))
def test_both_tests_agree_on_random_canonical_keys(u):
    from crypto.keys import is_low_order, is_low_order_canonical

    assert is_low_order_canonical(_raw(u)) == is_low_order(_raw(u))


def test_both_tests_agree_on_generated_keys():
    from crypto.keys import is_low_order, is_low_order_canonical

    for _ in range(200):
        raw = PrivateKey.generate().public_key.raw
        assert not is_low_order(raw) and not is_low_order_canonical(raw)
