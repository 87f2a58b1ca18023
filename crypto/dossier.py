"""Referral dossiers and their answers (docs/dossier.md).

A dossier is what the Secretariat hands a member city about one case: the
answers, files, cover note and verification summary a reviewer chose, in one
file. The file is an envelope (crypto.envelope, a fresh file key) sealed to
the city coordinator's key and to the Secretariat's confirmed keys; its
content is a frame that a coordinator's answer shares:

    magic (8) | n (u8) | n recipient keys, ascending (32 each)
    | n announcements (208 each: the signer's signing key, vouched for by her
      X25519 key, to recipient i; crypto.team's announcement, reused)
    | u32be L | the document (JSON, L bytes)
    | for each file the document lists: u64be size | size bytes
    | Ed25519 signature (64)

The signature covers a domain string, the document (which names every
file's BLAKE2b-256 digest), the recipients and the announcements, so no one
holding the envelope's file key (every recipient) can change a byte of the
dossier and keep the signature. The announcement
lets a coordinator who confirmed only the reviewer's X25519 key (`reviewer
keys add`) learn the signing key from the dossier itself.

A file's bytes are the attachment's content, re-encrypted with the dossier:
never the server's envelope, whose bytes would link the dossier to the
stored submission.

Reading goes in two passes over the file, each streamed (memory holds one
64 KiB chunk and one document): `read_dossier` checks everything in the
order of docs/dossier.md and returns a `Verified`; `dossier_files` decrypts
again and hands out each file, checked against the verified document's
digest, one at a time, so nothing unauthenticated is handed out.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from crypto import documents, envelope
from crypto.errors import (
    AnnouncementError,
    DocumentError,
    DossierBadSignature,
    DossierError,
    InvalidPublicKey,
    NotADossier,
    UnknownSigner,
    UnsupportedDossier,
)
from crypto.ids import is_day, is_id
from crypto.keys import KEY_BYTES, PrivateKey, PublicKey, RandomSource, is_low_order, noncanonical_reason
from crypto.signing import SIGNATURE_BYTES, SigningKey, SigningPublicKey
from crypto.team import ANNOUNCEMENT_BYTES, open_announcement, seal_announcement, sorted_recipients

DOSSIER = "dossier"
ANSWER = "answer"
MAGIC = {DOSSIER: b"RFGDOS\x00\x01", ANSWER: b"RFGDAN\x00\x01"}
FORMAT = {DOSSIER: "refuge-intake referral dossier", ANSWER: "refuge-intake dossier answer"}
#: Domain separation from every other Ed25519 signature of the project (docs/team.md).
DOMAIN = {DOSSIER: b"refuge-intake referral dossier v1\x00",
          ANSWER: b"refuge-intake dossier answer v1\x00"}
VERSION = 1
MAX_RECIPIENTS = envelope.MAX_RECIPIENTS
MAX_DOCUMENT_BYTES = documents.MAX_DOCUMENT_BYTES
MAX_FILES = documents.MAX_ATTACHMENTS
MAX_FILE_SIZE = documents.MAX_ATTACHMENT_SIZE
MAX_CITY = 100
RISKS = ("low", "medium", "high", "critical")
RECOMMENDATIONS = ("proceed", "more-info", "refer", "decline")

FIELDS = {
    DOSSIER: frozenset({"format", "version", "id", "day", "city", "coordinator", "signer",
                        "author", "answers", "note", "verification", "files"}),
    ANSWER: frozenset({"format", "version", "id", "dossier", "day", "signer", "author",
                       "text"}),
}
ANSWER_FIELDS = frozenset({"name", "question", "value"})
FILE_FIELDS = frozenset({"name", "type", "size", "digest"})
VERIFICATION_FIELDS = frozenset({"identity", "work", "persecution", "notes", "risk",
                                 "recommendation", "day"})

_L = struct.Struct(">I")
_SIZE = struct.Struct(">Q")
_PIECE = 64 * 1024


def file_digest() -> Any:
    """The hash of one file's bytes: BLAKE2b-256, personalisation refuge-dos-file1."""
    return hashlib.blake2b(digest_size=32, person=b"refuge-dos-file1")


def encode(document: Mapping[str, Any]) -> bytes:
    """How the reference writes a document: UTF-8 JSON, keys sorted, no spaces."""
    return json.dumps(document, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode("utf-8")


def signed_message(kind: str, data: bytes, recipients: Sequence[PublicKey],
                   announcements: Sequence[bytes]) -> bytes:
    """What the signature covers (docs/dossier.md, "The signature"): every byte of the
    frame before the files, in another order, so no byte of a dossier can change."""
    return b"".join([DOMAIN[kind], _L.pack(len(data)), data, bytes([len(recipients)]),
                     *(k.raw for k in recipients), *announcements])


# --- writing ----------------------------------------------------------------------


@dataclass(frozen=True)
class FileSource:
    """One file to put in a dossier: its name and type as the applicant sent them, its
    size, and a way to read its content (called twice: once to hash, once to write)."""

    name: str
    type: str
    size: int
    open: Callable[[], Iterator[bytes]]


def write(
    dst: BinaryIO,
    kind: str,
    document: Mapping[str, Any],
    *,
    signer: PrivateKey,
    signing_key: SigningKey,
    recipients: Iterable[PublicKey],
    files: Sequence[FileSource] = (),
    random: RandomSource = os.urandom,
) -> dict[str, Any]:
    """Write a dossier (or an answer) to `dst`, streamed; returns the document signed.

    `document` holds every field but `signer`, `author` and (for a dossier)
    `files`, which are filled in here. Each file is read once to hash it and
    once into the envelope; a file that reads differently the second time
    stops the writing (DossierError), and the caller discards `dst`.
    """
    keys = sorted_recipients(recipients)
    if not 1 <= len(keys) <= MAX_RECIPIENTS:
        raise DossierError(f"a dossier is sealed to 1 to {MAX_RECIPIENTS} keys")
    doc = dict(document, format=FORMAT[kind], version=VERSION,
               signer=signer.public_key.to_text(), author=signing_key.public_key.to_text())
    if kind == DOSSIER:
        listed = []
        for f in files:
            h, size = file_digest(), 0
            for piece in f.open():
                h.update(piece)
                size += len(piece)
            if size != f.size:
                raise DossierError(f"the file {f.name!r} is {size} bytes, not {f.size}")
            listed.append({"name": f.name, "type": f.type, "size": size,
                           "digest": h.hexdigest()})
        doc["files"] = listed
    elif files:
        raise DossierError("an answer carries no files")
    data = encode(doc)
    check_document(kind, data, keys)  # every rule a reader applies, before anything leaves
    announcements = [seal_announcement(signer, signing_key, k, random=random) for k in keys]
    head = [MAGIC[kind], bytes([len(keys)]), *(k.raw for k in keys), *announcements,
            _L.pack(len(data)), data]
    writer = envelope.EnvelopeWriter(dst, list(keys), random=random)
    writer.write(b"".join(head))
    for f, entry in zip(files, doc.get("files", []), strict=True):
        writer.write(_SIZE.pack(entry["size"]))
        h = file_digest()
        for piece in f.open():
            h.update(piece)
            writer.write(piece)
        if h.hexdigest() != entry["digest"]:
            raise DossierError(f"the file {f.name!r} changed while it was being written")
    writer.write(signing_key.sign(signed_message(kind, data, keys, announcements)))
    writer.close()
    return doc


# --- reading ----------------------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    """A dossier or answer whose every check passed (docs/dossier.md)."""

    kind: str
    document: Mapping[str, Any]
    data: bytes  # the document's exact bytes
    recipients: tuple[PublicKey, ...]
    signer: PublicKey  # the X25519 key the reader trusts, that vouched for the signing key
    author: SigningPublicKey

    @property
    def id(self) -> str:
        return str(self.document["id"])


class _Plain:
    """The envelope's content as a stream of exact reads (each chunk already authenticated)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = bytearray()
        self._done = False

    def read(self, n: int) -> bytes:
        """Up to `n` bytes; fewer only at the end of the content."""
        while len(self._buffer) < n and not self._done:
            chunk = next(self._chunks, None)
            if chunk is None:
                self._done = True
            else:
                self._buffer += chunk
        out = bytes(self._buffer[:n])
        del self._buffer[:n]
        return out

    def exact(self, n: int, where: str) -> bytes:
        out = self.read(n)
        if len(out) != n:
            raise _fail(f"it ends {where}")
        return out

    def at_end(self) -> bool:
        return not self.read(1)


def _fail(detail: str) -> DossierError:
    return DossierError(f"this dossier is malformed ({detail})")


def _frame_head(plain: _Plain, kind: str) -> tuple[tuple[PublicKey, ...], list[bytes], bytes]:
    """Checks F1–F7: the recipients, the announcements (unopened), the document's bytes."""
    magic = plain.read(8)
    if len(magic) < 8 or magic[:6] not in (m[:6] for m in MAGIC.values()):
        raise NotADossier()
    if magic[:6] != MAGIC[kind][:6]:
        raise NotADossier("this is a dossier answer, not a dossier" if kind == DOSSIER
                          else "this is a dossier, not a dossier answer")
    if magic != MAGIC[kind]:
        raise UnsupportedDossier()
    count = plain.exact(1, "before its recipient count")[0]
    if not 1 <= count <= MAX_RECIPIENTS:
        raise _fail(f"the recipient count is not 1 to {MAX_RECIPIENTS}")
    raw = plain.exact(KEY_BYTES * count, "inside the recipients")
    keys: list[PublicKey] = []
    for i in range(count):
        key = raw[i * KEY_BYTES : (i + 1) * KEY_BYTES]
        if noncanonical_reason(key) is not None or is_low_order(key):
            raise _fail(f"recipient {i} is not a valid public key")
        if keys and key <= keys[-1].raw:
            raise _fail("the recipients are not in strictly ascending order")
        keys.append(PublicKey(key))
    announcements = []
    sender = b""
    for i, recipient in enumerate(keys):
        ann = plain.exact(ANNOUNCEMENT_BYTES, "inside the announcements")
        if ann[40:72] != recipient.raw:
            raise _fail(f"announcement {i} is not addressed to recipient {i}")
        if sender and ann[8:40] != sender:
            raise _fail("the announcements are not all from one key")
        sender = ann[8:40]
        announcements.append(ann)
    (length,) = _L.unpack(plain.exact(4, "before the document's length"))
    if not 2 <= length <= MAX_DOCUMENT_BYTES:
        raise _fail(f"the document's length is not 2 to {MAX_DOCUMENT_BYTES}")
    return tuple(keys), announcements, plain.exact(length, "inside the document")


def _text(doc: Mapping[str, Any], name: str, *, blank: bool = True, most: int = 0) -> str:
    value = doc[name]
    if not isinstance(value, str):
        raise _fail(f"its {name} is not a string")
    if not blank and not value.strip():
        raise _fail(f"its {name} is empty")
    if most and len(value) > most:
        raise _fail(f"its {name} is longer than {most} characters")
    return value


def _key_text(doc: Mapping[str, Any], name: str) -> PublicKey:
    value = doc[name]
    try:
        # from_text strips white space around the text; inside a document there is none.
        if not isinstance(value, str) or PublicKey.from_text(value).to_text() != value:
            raise InvalidPublicKey()
        return PublicKey.from_text(value)
    except InvalidPublicKey:
        raise _fail(f"its {name} is not a valid public key text") from None


def check_document(kind: str, data: bytes, recipients: Sequence[PublicKey]) -> dict[str, Any]:
    """Checks D1–D6 of docs/dossier.md on the document's bytes."""
    try:
        doc = documents.load(data)
    except DocumentError as e:
        raise _fail(str(e).removeprefix("the document inside this envelope is malformed ")
                    ) from None
    if doc.get("format") != FORMAT[kind]:
        raise _fail(f"its format is not {FORMAT[kind]!r}")
    version = doc.get("version")
    if type(version) is not int or version != VERSION:
        raise UnsupportedDossier()
    if set(doc) != FIELDS[kind]:
        raise _fail(f"it does not have exactly the fields {sorted(FIELDS[kind])}")
    if not is_id(doc["id"]):
        raise _fail("its id is not 32 lowercase hex digits")
    if not is_day(doc["day"]):
        raise _fail("its day is not a date YYYY-MM-DD")
    signer = _key_text(doc, "signer")
    if not isinstance(doc["author"], str):
        raise _fail("its author is not a signing key text")
    try:
        SigningPublicKey.from_text(doc["author"])
    except InvalidPublicKey:
        raise _fail("its author is not a valid signing key text") from None
    if signer not in recipients:
        raise _fail("its signer is not one of its recipients")
    if kind == ANSWER:
        if not is_id(doc["dossier"]):
            raise _fail("its dossier is not 32 lowercase hex digits")
        _text(doc, "text", blank=False)
        return doc
    city = _text(doc, "city", blank=False, most=MAX_CITY)
    if city != city.strip() or len(city.splitlines()) != 1:
        raise _fail("its city is not one line without outer spaces")
    coordinator = _key_text(doc, "coordinator")
    if coordinator not in recipients:
        raise _fail("its coordinator is not one of its recipients")
    answers = doc["answers"]
    if not isinstance(answers, list):
        raise _fail("its answers are not a list")
    for a in answers:
        if not isinstance(a, dict) or set(a) != ANSWER_FIELDS:
            raise _fail(f"an answer does not have exactly the fields {sorted(ANSWER_FIELDS)}")
        if not isinstance(a["name"], str) or documents._ANSWER_KEY.fullmatch(a["name"]) is None:
            raise _fail("an answer's name is not 1 to 64 of a-z 0-9 _")
        _text(a, "question")
        _text(a, "value")
    if len({a["name"] for a in answers}) != len(answers):
        raise _fail("an answer appears twice")
    _text(doc, "note")
    verification = doc["verification"]
    if verification is not None:
        if not isinstance(verification, dict) or set(verification) != VERIFICATION_FIELDS:
            raise _fail("its verification does not have exactly the fields"
                        f" {sorted(VERIFICATION_FIELDS)}")
        for name in ("identity", "work", "persecution", "notes"):
            _text(verification, name)
        if verification["risk"] not in RISKS:
            raise _fail("its verification's risk is not one of " + ", ".join(RISKS))
        if verification["recommendation"] not in RECOMMENDATIONS:
            raise _fail("its verification's recommendation is not one of "
                        + ", ".join(RECOMMENDATIONS))
        if not is_day(verification["day"]):
            raise _fail("its verification's day is not a date YYYY-MM-DD")
    files = doc["files"]
    if not isinstance(files, list) or len(files) > MAX_FILES:
        raise _fail(f"its files are not a list of at most {MAX_FILES}")
    for f in files:
        if not isinstance(f, dict) or set(f) != FILE_FIELDS:
            raise _fail(f"a file does not have exactly the fields {sorted(FILE_FIELDS)}")
        _text(f, "name")
        _text(f, "type")
        if type(f["size"]) is not int or not 0 <= f["size"] <= MAX_FILE_SIZE:
            raise _fail(f"a file's size is not 0 to {MAX_FILE_SIZE}")
        digest = f["digest"]
        if not (isinstance(digest, str) and len(digest) == 64
                and all(c in "0123456789abcdef" for c in digest)):
            raise _fail("a file's digest is not 64 lowercase hex digits")
    return doc


def _files(plain: _Plain, doc: Mapping[str, Any]) -> Iterator[tuple[int, Iterator[bytes]]]:
    """Check F8 for each file in turn: its size, then its bytes (handed out in pieces)."""
    for number, entry in enumerate(doc.get("files", []), 1):
        (size,) = _SIZE.unpack(plain.exact(8, f"before file {number}'s size"))
        if size != entry["size"]:
            raise _fail(f"file {number}'s size is not the one its document lists")

        def pieces(size: int = size, number: int = number) -> Iterator[bytes]:
            left = size
            while left:
                piece = plain.exact(min(left, _PIECE), f"inside file {number} (it is cut short)")
                left -= len(piece)
                yield piece

        yield number, pieces()


def _check_addressing(src: BinaryIO, recipients: Sequence[PublicKey]) -> None:
    """F3's companion: the envelope is sealed to exactly the frame's recipients."""
    named = envelope.recipient_key_ids(src)
    if sorted(named) != sorted(k.key_id for k in recipients):
        raise _fail("its envelope is not sealed to exactly its recipients")


def read_dossier(
    src: BinaryIO,
    identities: Sequence[PrivateKey],
    trusted: Iterable[PublicKey] | None,
    *,
    kind: str = DOSSIER,
) -> Verified:
    """Every check of docs/dossier.md, in order; `src` must be seekable (read twice).

    `trusted` are the X25519 keys whose holders may sign: for a dossier the
    reader's own and confirmed colleagues' keys; for an answer the cities'
    coordinator keys. None skips T1 only: for an answer the reader kept after
    it passed every check on import (its city may have left the register
    since). Nothing in the files is kept: they are hashed and dropped.
    """
    start = src.tell()
    plain = _Plain(envelope.decrypt_stream(src, identities))
    recipients, announcements, data = _frame_head(plain, kind)
    end = src.tell()
    src.seek(start)
    _check_addressing(src, recipients)
    src.seek(end)
    doc = check_document(kind, data, recipients)
    digests = []
    for _number, pieces in _files(plain, doc):
        h = file_digest()
        for piece in pieces:
            h.update(piece)
        digests.append(h.hexdigest())
    signature = plain.exact(SIGNATURE_BYTES, "before its signature")
    if not plain.at_end():
        raise _fail("bytes follow its signature")
    # Signature: the announcement to one of the reader's keys says whose signing key it is.
    ours = {k.public_key.raw for k in identities}
    mine = next((a for k, a in zip(recipients, announcements, strict=True) if k.raw in ours),
                None)
    if mine is None:  # the envelope opened, so a recipient is ours: a bug if not
        raise _fail("none of its recipients is the reader's key")
    try:
        announced = open_announcement(mine, identities)
    except AnnouncementError:
        raise DossierBadSignature(
            "this dossier has been altered: its signer's announcement does not verify"
        ) from None
    if (announced.sender.to_text() != doc["signer"]
            or announced.signing.to_text() != doc["author"]):
        raise DossierBadSignature(
            "this dossier has been altered: it names another signer than its announcement"
        )
    if not announced.signing.verify(signed_message(kind, data, recipients, announcements),
                                    signature):
        raise DossierBadSignature()
    for number, (entry, digest) in enumerate(zip(doc.get("files", []), digests,
                                                 strict=True), 1):
        if entry["digest"] != digest:
            raise DossierBadSignature(f"this dossier has been altered: file {number} is not"
                                      " the one it was signed with")
    if trusted is not None and announced.sender not in list(trusted):
        what = "dossier" if kind == DOSSIER else "dossier answer"
        raise UnknownSigner(
            f"this {what} is signed by a key you have not confirmed (fingerprint"
            f" {announced.sender.fingerprint}); nothing was opened"
        )
    return Verified(kind, doc, data, recipients, announced.sender, announced.signing)


def dossier_files(
    src: BinaryIO, identities: Sequence[PrivateKey], verified: Verified
) -> Iterator[tuple[Mapping[str, Any], bytes]]:
    """Each file of a verified dossier, with its document entry, one at a time in memory.

    The file is decrypted again; its document and every file must be exactly
    the ones verified (DossierBadSignature otherwise, before the file is handed out).
    """
    plain = _Plain(envelope.decrypt_stream(src, identities))
    _recipients, _announcements, data = _frame_head(plain, verified.kind)
    if data != verified.data:
        raise DossierBadSignature("this dossier changed since it was checked")
    for (number, pieces), entry in zip(_files(plain, verified.document),
                                       verified.document.get("files", []), strict=True):
        buffer = io.BytesIO()
        h = file_digest()
        for piece in pieces:
            h.update(piece)
            buffer.write(piece)
        if h.hexdigest() != entry["digest"]:
            raise DossierBadSignature(f"this dossier changed since it was checked (file {number})")
        yield entry, buffer.getvalue()
    plain.exact(SIGNATURE_BYTES, "before its signature")
    if not plain.at_end():
        raise _fail("bytes follow its signature")


def read_bytes(data: bytes, identities: Sequence[PrivateKey],
               trusted: Iterable[PublicKey] | None, *, kind: str = DOSSIER) -> Verified:
    """`read_dossier` on bytes held in memory (answers, tests, vectors)."""
    return read_dossier(io.BytesIO(data), identities, trusted, kind=kind)


__all__ = ["ANSWER", "DOSSIER", "FileSource", "Verified", "dossier_files", "read_bytes",
           "read_dossier", "write"]
