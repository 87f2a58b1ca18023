"""Codenames: generation, normalisation, the single derivation."""

import math
import os

import pytest

from crypto.codename import (
    CODENAME_WORDS,
    codename_words,
    derive,
    generate_codename,
    normalise_codename,
    wordlist,
)
from crypto.errors import InvalidCodename
from crypto.params import TEST_LIMITS


def test_wordlist_is_the_published_one():
    words = wordlist()
    assert len(words) == 7776 and len(set(words)) == 7776
    assert words[0] == "abacus" and words[-1] == "zoom"


def test_codename_entropy_is_at_least_80_bits():
    assert len(codename_words()) == 7772
    assert all(w.isalpha() for w in codename_words())
    assert CODENAME_WORDS * math.log2(len(codename_words())) >= 90


def test_generated_codenames_are_normal_and_distinct():
    names = {generate_codename() for _ in range(200)}
    assert len(names) == 200
    for name in names:
        assert normalise_codename(name) == name
        assert len(name.split()) == CODENAME_WORDS


def test_generation_uses_the_whole_list():
    seen = {w for _ in range(3000) for w in generate_codename().split()}
    # 21,000 draws from 7,772 words leave ~7% unseen; a biased or short list would show.
    assert len(seen) > 6800


@pytest.mark.parametrize(
    "typed",
    [
        "ABACUS zoom abacus zoom abacus zoom abacus",
        "  abacus   zoom\tabacus zoom abacus zoom abacus \n",
        "abacus-zoom-abacus-zoom-abacus-zoom-abacus",
        "Abacus.Zoom.Abacus.Zoom.Abacus.Zoom.Abacus",
        "ａｂａｃｕｓ zoom abacus zoom abacus zoom abacus",  # full-width letters
    ],
)
def test_normalisation_forgives_what_people_type(typed):
    assert normalise_codename(typed) == "abacus zoom abacus zoom abacus zoom abacus"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "abacus zoom",
        "t-shirt zoom abacus zoom abacus zoom abacus",
        "abacus zoom abacus zoom abacus zoom abacus zoom",
        "abacus zoom abacus zoom abacus zoom xyzzy",
    ],
)
def test_invalid_codenames(typed):
    with pytest.raises(InvalidCodename):
        normalise_codename(typed)


def test_derivation_is_deterministic_and_separates_outputs():
    salt = os.urandom(16)
    name = generate_codename()
    a = derive(name, salt, limits=TEST_LIMITS)
    b = derive(name.upper(), salt, limits=TEST_LIMITS)
    assert a.lookup_id == b.lookup_id
    assert a.reply_public_key == b.reply_public_key
    assert len(a.lookup_id) == 32
    assert a.lookup_id != a.reply_key.raw()
    assert derive(name, os.urandom(16), limits=TEST_LIMITS).lookup_id != a.lookup_id
    assert derive(generate_codename(), salt, limits=TEST_LIMITS).lookup_id != a.lookup_id


def test_salt_length_checked():
    with pytest.raises(ValueError):
        derive(generate_codename(), b"short", limits=TEST_LIMITS)
