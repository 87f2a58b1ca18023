"""Generate tests/vectors/dossier/: one dossier scenario a file (docs/dossier.md, "Test vectors").

Run `python tools/make_dossier_vectors.py` from the repository root. Keys,
ids and signatures come from the seeded DRBG of tools/make_vectors.py, so
every header line and every frame is the same on each run; the envelopes
around the frames are not (libsodium draws the sealed boxes' ephemeral keys
and the announcements' nonces are the DRBG's), so a committed file is kept
when its header is unchanged. Every case is checked against crypto.dossier
before it is written.

A malformed case breaks one rule with everything around it valid: the frame
is built by hand and sealed in a valid envelope, so a frame rule cannot hide
behind a failure to decrypt.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_vectors import Drbg, identity

from crypto import dossier, envelope, errors
from crypto.keys import PrivateKey, PublicKey
from crypto.signing import SigningKey
from crypto.team import seal_announcement, sorted_recipients

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "tests" / "vectors" / "dossier"
DAY = "2026-12-01"

COORDINATOR = identity("dossier coordinator")
ALICE, BOB = identity("dossier alice"), identity("dossier bob")
MALLORY, STRANGER = identity("dossier mallory"), identity("dossier stranger")
ALICE_S, MALLORY_S = SigningKey(Drbg("dossier signing alice")(32)), SigningKey(
    Drbg("dossier signing mallory")(32))
COORD_S = SigningKey(Drbg("dossier signing coordinator")(32))
RECIPIENTS = list(sorted_recipients([COORDINATOR.public_key, ALICE.public_key, BOB.public_key]))
FILES = [("poems.pdf", "application/pdf", Drbg("dossier file poems")(70_000)),
         ("../../threat letter.jpg", "image/jpeg", Drbg("dossier file letter")(1234))]


def document(label: str, *, files: Sequence[tuple[str, str, bytes]] = FILES,
             signer: PrivateKey = ALICE, signing: SigningKey = ALICE_S) -> dict[str, Any]:
    return {
        "format": dossier.FORMAT["dossier"], "version": 1,
        "id": Drbg(f"dossier id {label}")(16).hex(), "day": DAY, "city": "Stavanger",
        "coordinator": COORDINATOR.public_key.to_text(),
        "signer": signer.public_key.to_text(), "author": signing.public_key.to_text(),
        "answers": [{"name": "work", "question": "About your work, with links if you have them",
                     "value": "Poems «شعر», 2019–2024."}],
        "note": "Verified by the PEN centre.\nShe would come alone.",
        "verification": {"identity": "passport seen", "work": "three collections found",
                         "persecution": "PEN confirms", "notes": "", "risk": "high",
                         "recommendation": "refer", "day": DAY},
        "files": [{"name": n, "type": t, "size": len(c),
                   "digest": _digest(c)} for n, t, c in files],
    }


def answer(label: str) -> dict[str, Any]:
    return {"format": dossier.FORMAT["answer"], "version": 1,
            "id": Drbg(f"answer id {label}")(16).hex(), "dossier": document("valid")["id"],
            "day": DAY, "signer": COORDINATOR.public_key.to_text(),
            "author": COORD_S.public_key.to_text(), "text": "We can host her from March."}


def _digest(content: bytes) -> str:
    h = dossier.file_digest()
    h.update(content)
    return str(h.hexdigest())


def frame(doc: dict[str, Any] | bytes, *, kind: str = "dossier",
          contents: Sequence[bytes] | None = None, signer: PrivateKey = ALICE,
          signing: SigningKey = ALICE_S, recipients: Sequence[PublicKey] = RECIPIENTS,
          magic: bytes | None = None, sizes: Sequence[int] | None = None,
          after_sign: Callable[[bytes], bytes] | None = None,
          signature: bytes | None = None, trailing: bytes = b"") -> bytes:
    """A frame as the writer makes it, with any one part replaced; no writer checks."""
    data = doc if isinstance(doc, bytes) else dossier.encode(doc)
    contents = [c for _n, _t, c in FILES] if contents is None and kind == "dossier" else (
        contents or [])
    sizes = [len(c) for c in contents] if sizes is None else sizes
    nonce = Drbg(f"announcement nonces {hashlib.sha256(data).hexdigest()}")
    anns = [seal_announcement(signer, signing, k, random=nonce) for k in recipients]
    signed = signing.sign(dossier.signed_message(kind, data, recipients, anns))
    sig = signed if signature is None else signature
    if after_sign is not None:
        data = after_sign(data)
    parts = [magic or dossier.MAGIC[kind], bytes([len(recipients)]),
             *(k.raw for k in recipients), *anns, len(data).to_bytes(4, "big"), data]
    for size, content in zip(sizes, contents, strict=True):
        parts += [size.to_bytes(8, "big"), content]
    return b"".join([*parts, sig, trailing])


@dataclass
class DossierCase:
    name: str
    comment: str
    frame: bytes
    expect: str  # "success ID" or "failure ERROR"
    kind: str = "dossier"
    reader: PrivateKey = COORDINATOR
    trusted: list[PublicKey] = field(default_factory=lambda: [ALICE.public_key, BOB.public_key])
    sealed_to: list[PublicKey] = field(default_factory=lambda: list(RECIPIENTS))
    sealed: bytes = b""
    post: Callable[[bytes], bytes] | None = None  # a change to the envelope's bytes

    def seal(self) -> bytes:
        if not self.sealed:
            self.sealed = envelope.encrypt_bytes(self.frame, self.sealed_to)
            if self.post is not None:
                self.sealed = self.post(self.sealed)
        return self.sealed

    def outcome(self) -> tuple[str, list[str]]:
        try:
            verified = dossier.read_bytes(self.seal(), [self.reader], self.trusted,
                                          kind=self.kind)
            out = [f"{hashlib.sha256(c).hexdigest()} {len(c)}" for _e, c in
                   dossier.dossier_files(io.BytesIO(self.seal()), [self.reader], verified)]
        except errors.CryptoError as e:
            return f"failure {type(e).__name__}", []
        return f"success {verified.id}", out

    def render(self) -> bytes:
        got, files = self.outcome()
        assert got == self.expect, (self.name, got, self.expect)
        lines = [f"identity: {self.reader.raw().hex()}", f"kind: {self.kind}"]
        lines += [f"trusted: {k.to_text()}" for k in self.trusted]
        lines.append(f"expect: {self.expect}")
        lines += [f"file: {f}" for f in files]
        lines.append(f"comment: {self.comment}")
        return ("\n".join(lines) + "\n\n").encode() + self.seal()


def dossier_cases() -> list[DossierCase]:
    cases: list[DossierCase] = []

    def ok(name: str, comment: str, data: bytes, doc_id: str, **kw: Any) -> None:
        cases.append(DossierCase(name, comment, data, f"success {doc_id}", **kw))

    def bad(name: str, comment: str, data: bytes, error: type[errors.CryptoError],
            **kw: Any) -> None:
        cases.append(DossierCase(name, comment, data, f"failure {error.__name__}", **kw))

    valid = document("valid")
    ok("valid", "a dossier with an answer, a note, a verification and two files, opened by"
       " the coordinator", frame(valid), valid["id"])
    ok("valid_colleague", "the same dossier re-opened by a colleague of the Secretariat",
       frame(valid), valid["id"], reader=BOB, trusted=[ALICE.public_key])
    empty = document("empty", files=[])
    empty.update(answers=[], verification=None, note="")
    ok("valid_nothing_chosen", "a dossier with nothing chosen: no answers, files, note or"
       " verification", frame(empty, contents=[]), empty["id"])
    reply = answer("valid")
    ok("answer_valid", "the coordinator's answer, opened by the Secretariat", frame(
        reply, kind="answer", signer=COORDINATOR, signing=COORD_S), reply["id"],
       kind="answer", reader=ALICE, trusted=[COORDINATOR.public_key])

    bad("another_key", "a valid dossier opened with a key it is not sealed to", frame(valid),
        errors.NoMatch, reader=STRANGER)
    bad("tampered_envelope", "one byte of the envelope's payload flipped", frame(valid),
        errors.ChunkAuthError, post=lambda b: b[:400] + bytes([b[400] ^ 1]) + b[401:])
    bad("tampered_note", "a byte of the note changed after signing, the JSON still valid,"
        " sealed again by a recipient", frame(valid, after_sign=lambda d: d.replace(
            b"She would come alone", b"She would come alone".upper())),
        errors.DossierBadSignature)
    altered = [FILES[0][2][:-1] + b"\x00", FILES[1][2]]
    bad("tampered_file", "the last byte of the first file changed, sealed again by a"
        " recipient", frame(valid, contents=altered), errors.DossierBadSignature)
    sig = frame(valid)[-64:]
    bad("tampered_signature", "the last byte of the signature flipped",
        frame(valid, signature=sig[:-1] + bytes([sig[-1] ^ 1])), errors.DossierBadSignature)
    cut = [FILES[0][2][:-100], FILES[1][2]]
    bad("file_cut_short", "the first file member holds 100 bytes fewer than its size says",
        frame(valid, contents=cut, sizes=[len(FILES[0][2]), len(FILES[1][2])]),
        errors.DossierError)
    bad("file_size_differs", "the first file member's size is not the one listed",
        frame(valid, sizes=[len(FILES[0][2]) + 1, len(FILES[1][2])],
              contents=[FILES[0][2] + b"\x00", FILES[1][2]]), errors.DossierError)
    unknown = document("mallory", signer=MALLORY, signing=MALLORY_S)
    mallory_rcpt = list(sorted_recipients([COORDINATOR.public_key, MALLORY.public_key]))
    bad("unknown_signer", "signed by mallory, whose key the coordinator has not confirmed",
        frame(unknown, signer=MALLORY, signing=MALLORY_S, recipients=mallory_rcpt),
        errors.UnknownSigner, sealed_to=mallory_rcpt)
    claims = document("claims alice")
    bad("announcement_from_another", "the document names alice, the announcements are"
        " mallory's and so is the signature", frame(claims, signer=MALLORY,
                                                    signing=MALLORY_S),
        errors.DossierBadSignature)
    bad("readdressed", "the envelope is sealed to the coordinator and alice only, the frame"
        " names bob too", frame(valid), errors.DossierError,
        sealed_to=[COORDINATOR.public_key, ALICE.public_key])
    bad("answer_as_dossier", "an answer given to the dossier reader", frame(
        reply, kind="answer", signer=COORDINATOR, signing=COORD_S), errors.NotADossier,
        reader=ALICE)
    bad("unknown_frame_version", "the frame's version is 0x0002",
        frame(valid, magic=b"RFGDOS\x00\x02"), errors.UnsupportedDossier)
    bad("unknown_document_version", "the document's version is 2",
        frame(dict(valid, version=2)), errors.UnsupportedDossier)
    bad("trailing_byte", "one byte after the signature", frame(valid, trailing=b"\x00"),
        errors.DossierError)
    bad("coordinator_not_recipient", "the coordinator named is not a recipient",
        frame(dict(valid, coordinator=STRANGER.public_key.to_text())), errors.DossierError)
    bad("not_a_dossier", "an envelope holding a reply document", b'{"format":"x"}',
        errors.NotADossier)
    return cases


def header_of(data: bytes) -> bytes:
    return data.partition(b"\n\n")[0]


def write_all(out: Path, *, force: bool = False, log: Callable[[str], None] = print) -> int:
    cases = dossier_cases()
    names = [c.name for c in cases]
    assert len(set(names)) == len(names)
    assert len({c.comment for c in cases}) == len(cases)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.txt"):
        if stale.stem not in names:
            stale.unlink()
    changed = 0
    for case in cases:
        path = out / f"{case.name}.txt"
        rendered = case.render()
        if force or not path.exists() or header_of(path.read_bytes()) != header_of(rendered):
            path.write_bytes(rendered)
            changed += 1
    log(f"dossier: {len(cases)} cases checked, {changed} written to {out}")
    return len(cases)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    write_all(args.out, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
