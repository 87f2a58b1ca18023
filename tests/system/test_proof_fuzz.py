"""Fuzzing the three parsers that read what crosses between machines.

Envelopes (crypto.envelope), bundles (crypto.bundle) and key files
(crypto.keyfile) are read from files that may be damaged or forged. Each is
fed a few hundred mutations of a valid file: bit flips, truncations,
insertions, deletions, and splices of ranges from another valid file or from
elsewhere in the same one, sometimes stacked. Each mutation must be refused
with the parser's documented error (DecryptError, BundleError, KeyFileError)
or, where the mutation happens to leave the meaning intact, give back exactly
the original; any other exception fails the test, and so does any output that
differs from what was sealed.

The mutated inputs are never equal to the original (hypothesis discards those),
so each test below sees at least `max_examples` real mutations. Stacked
splices can rebuild the *other* valid file whole; that is not damage, and a
bundle or envelope carries no authenticity against someone who can write a
whole file (docs/bundle.md), so that one case is accepted as itself. A splice
can also rebuild the other envelope's header and first chunks: the decrypter
then rightly releases those authenticated chunks before refusing the rest.

A failing example is shown by its length and hash, not its bytes (a 190 kB
repr would bury the assertion). Under CI hypothesis keeps no example database
(tests/conftest.py): a run depends on the code and the examples pinned here,
never on what an earlier run on some machine left in `.hypothesis/`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.vendor.pretty import RepresentationPrinter

from crypto.bundle import BundleError, Member, read_bundle
from crypto.envelope import (
    ABYTES,
    CHUNK_CT_SIZE,
    CHUNK_SIZE,
    decrypt_stream,
    encrypt_bytes,
    padded_size,
)
from crypto.errors import ChunkAuthError, DecryptError, KeyFileError
from crypto.keyfile import KEYFILE_MAGIC, open_private_key, read_public_key, seal_private_key
from crypto.keys import KEY_BYTES, PrivateKey
from crypto.params import TEST_LIMITS
from tests.crypto.test_bundle import make_submissions

REPO = Path(__file__).resolve().parents[2]
FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

ALICE = PrivateKey.generate()
BOB = PrivateKey.generate()
PLAINTEXT = bytes(range(256)) * ((2 * CHUNK_SIZE + 1000) // 256)  # three chunks
ENVELOPE = encrypt_bytes(PLAINTEXT, [ALICE.public_key, BOB.public_key])
# Another valid envelope to the same keys, for splices across files.
OTHER_ENVELOPE = encrypt_bytes(PLAINTEXT[::-1], [ALICE.public_key, BOB.public_key])

BUNDLE, BUNDLE_MEMBERS = make_submissions(n_cases=2, attach=2)
OTHER_BUNDLE, _ = make_submissions(n_cases=1, attach=1)

PASSPHRASE = "correct horse battery staple"
KEY = PrivateKey.generate()
KEYFILE = seal_private_key(KEY, PASSPHRASE, limits=TEST_LIMITS)
# Under another passphrase: spliced parts of it must not open under PASSPHRASE.
OTHER_KEYFILE = seal_private_key(PrivateKey.generate(), "another passphrase", limits=TEST_LIMITS)
_PUBLIC_AT = len(KEYFILE_MAGIC) + 16 + 16  # magic, limits (2 x u64), salt


# By name, so that hypothesis does not print (and warn about) the bytes in reprs.
SAMPLES = {
    "envelope": (ENVELOPE, OTHER_ENVELOPE),
    "bundle": (BUNDLE, OTHER_BUNDLE),
    "keyfile": (KEYFILE, OTHER_KEYFILE),
}


class Mutant(bytes):
    """A mutated file that hypothesis reports by length and hash, not byte by byte."""

    def __repr__(self) -> str:
        return f"<{len(self)} bytes, sha256 {hashlib.sha256(self).hexdigest()[:16]}>"

    def _repr_pretty_(self, printer: RepresentationPrinter, cycle: bool) -> None:
        printer.text(repr(self))


def spliced(original: bytes, other: bytes, n: int) -> Mutant:
    """`original` with its first `n` bytes taken from `other` (a "splice" at 0)."""
    return Mutant(other[:n] + original[n:])


# The header and first chunk of the other envelope, the rest of this one: the
# first chunk authenticates (under the other envelope's key), the second does not.
_PADDED = padded_size(len(PLAINTEXT) + 1)
_HEADER_BYTES = len(ENVELOPE) - _PADDED - -(-_PADDED // CHUNK_SIZE) * ABYTES
OTHER_HEADER_AND_FIRST_CHUNK = spliced(ENVELOPE, OTHER_ENVELOPE, _HEADER_BYTES + CHUNK_CT_SIZE)


@st.composite
def mutated(draw: st.DrawFn, sample: str) -> Mutant:
    """One to three stacked mutations of a valid file; never the file itself."""
    original, other = SAMPLES[sample]
    buf = bytearray(original)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "splice", "move"]))
        pos = draw(st.integers(0, max(len(buf) - 1, 0)))
        if op == "flip" and buf:
            for bit in draw(st.lists(st.integers(0, 7), min_size=1, max_size=8)):
                buf[pos] ^= 1 << bit
        elif op == "truncate":
            del buf[pos:]
        elif op == "insert":
            buf[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del buf[pos:pos + draw(st.integers(1, 4096))]
        elif op == "splice":
            # Replace a range with the bytes at the same place in another valid file
            # (at most half: the whole of it would be that other, valid, file).
            n = draw(st.integers(1, len(original) // 2))
            buf[pos:pos + n] = other[pos:pos + n]
        else:
            # Copy a range of this file to another place (a chunk duplicated or reordered).
            n = draw(st.integers(1, 70_000))
            to = draw(st.integers(0, len(buf)))
            piece = bytes(buf[pos:pos + n])
            if draw(st.booleans()):
                del buf[pos:pos + n]
                to = min(to, len(buf))
            buf[to:to] = piece
    out = Mutant(buf)
    assume(out != original)
    return out


@FUZZ
@given(mutated("envelope"), st.sampled_from([ALICE, BOB]))
@example(OTHER_HEADER_AND_FIRST_CHUNK, ALICE)
def test_mutated_envelopes_are_refused(data: bytes, identity: PrivateKey) -> None:
    released = bytearray()
    try:
        for part in decrypt_stream(io.BytesIO(data), [identity]):
            released += part
    except DecryptError:
        # Only authenticated chunks were released, in order, from one stream: a
        # prefix of a plaintext that was sealed, this envelope's or (after a
        # splice rebuilt its header) the other's.
        assert any(p.startswith(released) for p in (PLAINTEXT, PLAINTEXT[::-1])), (
            f"{len(released)} released bytes are a prefix of neither plaintext")
        return
    if data == OTHER_ENVELOPE:
        # Stacked splices rebuilt the other valid envelope whole: not damage.
        assert bytes(released) == PLAINTEXT[::-1]
        return
    # Accepted: only if the damage did not touch anything authenticated.
    assert bytes(released) == PLAINTEXT


def test_the_pinned_splice_releases_the_other_envelopes_first_chunk() -> None:
    # The example pinned above really is the case it is there for.
    released = bytearray()
    with pytest.raises(ChunkAuthError):
        for part in decrypt_stream(io.BytesIO(OTHER_HEADER_AND_FIRST_CHUNK), [ALICE]):
            released += part
    assert bytes(released) == PLAINTEXT[::-1][:CHUNK_SIZE]
    assert not PLAINTEXT.startswith(released)


def _read(data: bytes) -> dict[str, bytes]:
    staged: dict[str, bytes] = {}

    @contextlib.contextmanager
    def sink(member: Member) -> Iterator[BinaryIO]:
        out = io.BytesIO()
        yield out
        staged[member.id] = out.getvalue()

    read_bundle(io.BytesIO(data), kind="submissions", sink=sink)
    return staged


@FUZZ
@given(mutated("bundle"))
def test_mutated_bundles_are_refused(data: bytes) -> None:
    try:
        staged = _read(data)
    except BundleError:
        return
    if data == OTHER_BUNDLE:
        return  # stacked splices rebuilt the other valid bundle whole: not damage
    assert staged == BUNDLE_MEMBERS


@FUZZ
@given(mutated("keyfile"))
def test_mutated_key_files_are_refused(data: bytes) -> None:
    try:
        public = read_public_key(data)
    except KeyFileError:
        public = None
    if public is None:
        return
    # The public key is stored in the clear and cannot be checked without the
    # passphrase (docs/format.md): a damaged or spliced file may show another
    # key here. Opening it must then refuse; it may only ever give KEY back.
    try:
        key = open_private_key(data, PASSPHRASE)
    except KeyFileError:
        return
    assert key.raw() == KEY.raw()
    assert public == KEY.public_key


def test_a_forged_public_key_in_a_key_file_is_caught_on_opening() -> None:
    forged = bytearray(KEYFILE)
    forged[_PUBLIC_AT:_PUBLIC_AT + KEY_BYTES] = PrivateKey.generate().public_key.raw
    assert read_public_key(bytes(forged)) != KEY.public_key
    try:
        open_private_key(bytes(forged), PASSPHRASE)
    except KeyFileError as e:
        assert "do not match" in str(e)
    else:
        raise AssertionError("a key file with a foreign public key was opened")


@pytest.mark.slow
@pytest.mark.parametrize(("target", "runs"), [("envelope", 2000), ("bundle", 2000), ("keyfile", 200)])
def test_atheris_short_run(target: str, runs: int, tmp_path) -> None:
    """A bounded coverage-guided run (tools/fuzz_parsers.py), when atheris is installed.

    atheris is in no extra (it needs a matching wheel or clang to build), so this
    skips without it, in CI too; the hypothesis tests above always run.
    """
    if importlib.util.find_spec("atheris") is None:
        pytest.skip("atheris is not installed (`make install` installs it on Python 3.11 and 3.12)")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "fuzz_parsers.py"), target, f"-runs={runs}",
         f"-artifact_prefix={tmp_path}/"],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Done {runs} runs" in result.stderr
