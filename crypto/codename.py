"""Applicant codenames: generation, normalisation and the one derivation.

A codename is seven words drawn uniformly from the EFF long word list, less
its four hyphenated words (drop-down, felt-tip, t-shirt, yo-yo) so that a
hyphen typed between words is never ambiguous: 7,772 words, 12.92 bits each,
90.4 bits in all. The server shows it once and never stores
it. From the codename and a per-installation secret salt, one Argon2id
evaluation yields 64 bytes; two keyed BLAKE2b calls with distinct labels turn
that into independent subkeys: the lookup id (what the database stores to find
the applicant) and the seed of the applicant's X25519 reply key pair.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

import nacl.hash
import nacl.pwhash.argon2id
from nacl.encoding import RawEncoder

from crypto.errors import InvalidCodename
from crypto.keys import PrivateKey, PublicKey
from crypto.params import CODENAME_LIMITS, Argon2Limits

CODENAME_WORDS = 7
SALT_BYTES = nacl.pwhash.argon2id.SALTBYTES  # 16
#: Typed between words, these become spaces. U+00A0 and U+3000 need not be
#: listed: NFKC, applied first, already maps them (and U+2000..U+200A, U+202F,
#: U+205F) to U+0020.
_SEPARATORS = "-_.,;:/·\u2010\u2011\u2012\u2013\u2014"
#: SHA-256 of crypto/data/eff_large_wordlist.txt (7,776 words, one a line, LF),
#: named in docs/format.md so another implementation can check its copy.
WORDLIST_SHA256 = "6d557f0693958fb5e650b68b5bee585eb82cf4da32965505c789e924743bc522"
#: SHA-256 of the 7,772 codename words, each followed by one LF, in list order.
CODENAME_WORDS_SHA256 = "18586c092f641ecd1a471dd6ab35618ab69f0aa7483486424f7caf0996d06259"
_PERSON_LOOKUP = b"refuge-lookup"
_PERSON_REPLY = b"refuge-reply"


@cache
def wordlist() -> tuple[str, ...]:
    data = resources.files("crypto").joinpath("data/eff_large_wordlist.txt").read_bytes()
    if hashlib.sha256(data).hexdigest() != WORDLIST_SHA256:
        raise RuntimeError("the shipped word list is damaged")
    words = tuple(data.decode("ascii").split("\n")[:-1])
    if len(words) != 7776 or len(set(words)) != 7776:
        raise RuntimeError("the shipped word list is damaged")
    return words


@cache
def codename_words() -> tuple[str, ...]:
    """The words codenames are drawn from: the list's 7,772 letters-only words."""
    return tuple(w for w in wordlist() if w.isalpha())


@cache
def _wordset() -> frozenset[str]:
    return frozenset(codename_words())


def generate_codename(words: int = CODENAME_WORDS) -> str:
    """Seven uniformly random words from the list, separated by single spaces."""
    choices = codename_words()
    return " ".join(secrets.choice(choices) for _ in range(words))


def normalise_codename(text: str) -> str:
    """What a person typed, in the one form that is derived from.

    Case, surrounding and repeated spaces, and hyphens or dots between words
    are forgiven; every word must be on the list and there must be seven.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    for sep in _SEPARATORS:
        text = text.replace(sep, " ")
    words = text.split()
    if len(words) != CODENAME_WORDS:
        raise InvalidCodename(f"a codename has {CODENAME_WORDS} words")
    known = _wordset()
    if not all(w in known for w in words):
        raise InvalidCodename("that codename contains a word that is not on the list")
    return " ".join(words)


@dataclass(frozen=True)
class CodenameKeys:
    """What one codename derivation yields."""

    lookup_id: bytes  # 32 bytes, stored to find the applicant
    reply_key: PrivateKey  # held in memory only while the applicant is signed in

    @property
    def reply_public_key(self) -> PublicKey:
        return self.reply_key.public_key


def derive(codename: str, salt: bytes, *, limits: Argon2Limits = CODENAME_LIMITS) -> CodenameKeys:
    """One Argon2id evaluation, then independent subkeys. `codename` is normalised here."""
    if len(salt) != SALT_BYTES:
        raise ValueError(f"the installation salt is {SALT_BYTES} bytes")
    normal = normalise_codename(codename)
    master = nacl.pwhash.argon2id.kdf(
        64, normal.encode("utf-8"), salt, opslimit=limits.opslimit, memlimit=limits.memlimit
    )
    lookup = nacl.hash.blake2b(b"", digest_size=32, key=master, person=_PERSON_LOOKUP, encoder=RawEncoder)
    seed = nacl.hash.blake2b(b"", digest_size=32, key=master, person=_PERSON_REPLY, encoder=RawEncoder)
    return CodenameKeys(lookup_id=lookup, reply_key=PrivateKey(seed))
