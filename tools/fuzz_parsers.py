"""Coverage-guided fuzzing of the envelope, bundle and key-file parsers with atheris.

    make install                   # the dev lock has atheris on Python 3.11 and 3.12
    python tools/fuzz_parsers.py envelope -runs=20000
    python tools/fuzz_parsers.py bundle -atheris_runs=20000 -max_len=200000
    python tools/fuzz_parsers.py keyfile -max_total_time=60

Every input must either be refused with the parser's documented error
(DecryptError, BundleError, KeyFileError) or be read back as exactly what was
sealed: any other exception, or any other output, is a crash libFuzzer reports
(and saves the input of). Seeds are valid files made at start, so the fuzzer
begins inside the formats rather than at their magic bytes.
tests/system/test_proof_fuzz.py runs a short bounded run of each when atheris is
installed; the hypothesis tests there always run.
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import atheris

with atheris.instrument_imports():
    from crypto.bundle import BundleError, BundleWriter, Member, SubmissionRecord, read_bundle
    from crypto.envelope import decrypt_stream, encrypt_bytes
    from crypto.errors import DecryptError, KeyFileError
    from crypto.keyfile import open_private_key, seal_private_key
    from crypto.keys import PrivateKey
    from crypto.params import TEST_LIMITS

KEY = PrivateKey.generate()
PLAINTEXT = bytes(range(256)) * 300  # two chunks
PASSPHRASE = "fuzz passphrase"  # noqa: S105  # a test key file, made and thrown away here


def _bundle() -> tuple[bytes, dict[str, bytes]]:
    answers = encrypt_bytes(b'{"case": 1}', [KEY.public_key])
    attachment = encrypt_bytes(b"x" * 1000, [KEY.public_key])
    members = {"0" * 31 + "1": answers, "0" * 31 + "2": attachment}
    out = io.BytesIO()
    w = BundleWriter(out, "submissions", created="2026-11-23", recipients=[KEY.public_key])
    for member_id, data in members.items():
        w.add_member(member_id, lambda data=data: io.BytesIO(data))  # type: ignore[misc]
    w.add_case("0" * 31 + "3", PrivateKey.generate().public_key,
               [SubmissionRecord("0" * 31 + "4", "2026-11-20", "application", "0" * 31 + "1",
                                 ("0" * 31 + "2",))])
    w.close()
    return out.getvalue(), members


ENVELOPE = encrypt_bytes(PLAINTEXT, [KEY.public_key])
BUNDLE, BUNDLE_MEMBERS = _bundle()
KEYFILE = seal_private_key(KEY, PASSPHRASE, limits=TEST_LIMITS)


def check_envelope(data: bytes) -> None:
    out = bytearray()
    try:
        for part in decrypt_stream(io.BytesIO(data), [KEY]):
            out += part
    except DecryptError:
        if not PLAINTEXT.startswith(out):
            raise AssertionError("released plaintext that was never sealed") from None
        return
    if data != ENVELOPE and bytes(out) != PLAINTEXT:
        raise AssertionError("a damaged envelope decrypted to something else")


def check_bundle(data: bytes) -> None:
    staged: dict[str, bytes] = {}

    @contextlib.contextmanager
    def sink(member: Member) -> Iterator[BinaryIO]:
        buf = io.BytesIO()
        yield buf
        staged[member.id] = buf.getvalue()

    try:
        read_bundle(io.BytesIO(data), kind="submissions", sink=sink)
    except BundleError:
        return
    if staged != BUNDLE_MEMBERS:
        raise AssertionError("a damaged bundle was accepted with other members")


def check_keyfile(data: bytes) -> None:
    try:
        key = open_private_key(data, PASSPHRASE)
    except KeyFileError:
        return
    if key.raw() != KEY.raw():
        raise AssertionError("a damaged key file opened to another key")


TARGETS: dict[str, tuple[Callable[[bytes], None], bytes]] = {
    "envelope": (check_envelope, ENVELOPE),
    "bundle": (check_bundle, BUNDLE),
    "keyfile": (check_keyfile, KEYFILE),
}


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in TARGETS:
        sys.exit(f"usage: {argv[0]} {{{'|'.join(TARGETS)}}} [libFuzzer options]")
    check, seed = TARGETS[argv[1]]
    corpus = Path(tempfile.mkdtemp(prefix=f"fuzz-{argv[1]}-"))
    (corpus / "seed").write_bytes(seed)
    atheris.Setup([argv[0], *argv[2:], str(corpus)], check)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
