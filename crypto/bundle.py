"""The bundle: a set of envelopes and a manifest, carried between machines.

The operator exports a "submissions" bundle from the online server; the
reviewer imports it on the offline machine, and later carries a "replies"
bundle back. docs/bundle.md specifies the layout byte by byte:

    magic line  b"refuge-intake bundle v1\\n"              (24 bytes)
    length      manifest length, unsigned 32-bit big-endian (4 bytes)
    manifest    canonical JSON, printable ASCII             (length bytes)
    digest      BLAKE2b-256 over the three fields above     (32 bytes)
    members     each member envelope, in manifest order, exactly as long as listed
    (end of file)

The bundle adds no secrecy (every member is already an envelope) and no
authenticity against someone who can write a whole bundle (there is no key to
sign with on the server). What it guarantees is that a reader accepts the
bundle only if every byte is where the manifest says, so a damaged, truncated,
reordered or foreign file is refused as a whole before anything is imported,
even on the server, which cannot decrypt replies and relies on the digests.

The reader checks everything in one streaming pass and hands each member's
bytes to a caller-supplied sink (a staging file, or the pack the reviewer's
import builds); the caller commits only if `read_bundle` returns. The writer
takes members as paths or openers, hashes them on `add_member` and copies them
on `close`, so memory stays flat and at most one member file is open at a time.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from typing import Any, BinaryIO, TypeGuard

import nacl.bindings
import nacl.hashlib

from crypto.envelope import MAC_BYTES, MAX_RECIPIENTS, STANZA_BYTES, STREAM_HEADER_BYTES
from crypto.envelope import MAGIC as ENVELOPE_MAGIC
from crypto.errors import CryptoError, InvalidPublicKey
from crypto.ids import is_id as is_id
from crypto.keys import KEY_ID_BYTES, PublicKey, is_low_order

MAGIC = b"refuge-intake bundle v1\n"
MAGIC_PREFIX = b"refuge-intake bundle v"
LENGTH = struct.Struct(">I")
DIGEST_BYTES = 32
FORMAT = "refuge-intake bundle"
VERSION = 1
KIND_SUBMISSIONS = "submissions"
KIND_REPLIES = "replies"
KINDS = (KIND_SUBMISSIONS, KIND_REPLIES)
SUBMISSION_KINDS = ("application", "followup")
#: 64 MiB: room for about a million members, far beyond any real pickup.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
MAX_MEMBERS = 1_000_000
#: A member is at least as long as the envelope magic, at most 1 TiB.
MIN_MEMBER_LENGTH = len(ENVELOPE_MAGIC)
MAX_MEMBER_LENGTH = 1 << 40
COPY_CHUNK = 64 * 1024
#: The longest envelope header (32 stanzas): what a submissions member's first
#: bytes are kept for, to read its stanzas' key ids (docs/bundle.md, step 6).
MAX_ENVELOPE_HEADER = len(ENVELOPE_MAGIC) + 1 + STANZA_BYTES * MAX_RECIPIENTS + (
    STREAM_HEADER_BYTES + MAC_BYTES
)

_PERSON_MANIFEST = b"refuge-bndl-mf1"
_PERSON_MEMBER = b"refuge-bndl-mb1"
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NOT_PRINTABLE = re.compile(rb"[\x00-\x1f\x7f]")


# --- errors ---------------------------------------------------------------------


class BundleError(CryptoError):
    """Any reason to refuse a bundle. Nothing from a refused bundle may be used."""

    message = "this bundle is damaged or has been tampered with; nothing was imported"


class NotABundle(BundleError):
    message = "this is not a refuge-intake bundle"


class UnsupportedBundleVersion(BundleError):
    message = "this bundle was made by a newer, unknown format version"


class WrongBundleKind(BundleError):
    message = "this bundle holds the wrong kind of content for this command"


class TruncatedBundle(BundleError):
    message = "this bundle is truncated (was the copy interrupted?); nothing was imported"


class TrailingBundleData(BundleError):
    message = "this bundle has extra bytes after its last member; nothing was imported"


class ManifestDigestError(BundleError):
    message = "this bundle's manifest is damaged or has been tampered with; nothing was imported"


class ManifestError(BundleError):
    """The manifest is well protected by its digest but breaks a rule of the format."""

    message = "this bundle's manifest is malformed; nothing was imported"


class MemberError(BundleError):
    """A member's bytes do not match its manifest entry."""

    message = "a member of this bundle is damaged or has been tampered with; nothing was imported"


class BundleWriteError(BundleError):
    message = "cannot write the bundle"


# --- the manifest ---------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    id: str
    length: int
    digest: str  # hex BLAKE2b-256 of the member bytes, person "refuge-bndl-mb1"


@dataclass(frozen=True)
class SubmissionRecord:
    submission: str
    day: str
    kind: str  # "application" | "followup"
    answers: str  # member id of the answers envelope
    attachments: tuple[str, ...] = ()  # member ids of the attachment envelopes, in order


@dataclass(frozen=True)
class CaseRecord:
    case: str
    reply_key: PublicKey
    submissions: tuple[SubmissionRecord, ...]


@dataclass(frozen=True)
class ReplyRecord:
    reply: str
    case: str
    day: str
    blob: str  # member id of the reply envelope


@dataclass(frozen=True)
class Manifest:
    kind: str
    created: str
    recipients: tuple[PublicKey, ...]
    members: tuple[Member, ...]
    cases: tuple[CaseRecord, ...] = ()
    replies: tuple[ReplyRecord, ...] = ()

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "kind": self.kind,
            "created": self.created,
            "recipients": [k.to_text() for k in self.recipients],
            "members": [
                {"id": m.id, "length": m.length, "blake2b": m.digest} for m in self.members
            ],
        }
        if self.kind == KIND_SUBMISSIONS:
            obj["cases"] = [
                {
                    "case": c.case,
                    "reply_key": c.reply_key.to_text(),
                    "submissions": [
                        {
                            "submission": s.submission,
                            "day": s.day,
                            "kind": s.kind,
                            "answers": s.answers,
                            "attachments": list(s.attachments),
                        }
                        for s in c.submissions
                    ],
                }
                for c in self.cases
            ]
        else:
            obj["replies"] = [
                {"reply": r.reply, "case": r.case, "day": r.day, "blob": r.blob}
                for r in self.replies
            ]
        return obj


def canonical_json(obj: object) -> bytes:
    """The one accepted serialisation: sorted keys, no whitespace, ASCII."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode(
        "ascii"
    )


def is_day(value: object) -> TypeGuard[str]:
    if not isinstance(value, str) or _DAY.fullmatch(value) is None:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


#: The member hash with its parameters set, checked once by PyNaCl; each member
#: starts from a copy. A bundle has one member per envelope, and building a fresh
#: nacl.hashlib.blake2b for each cost more than hashing a small envelope.
_MEMBER_HASH_INIT = nacl.bindings.crypto_generichash_blake2b_init(
    person=_PERSON_MEMBER, digest_size=DIGEST_BYTES
)


class _MemberHash:
    """libsodium BLAKE2b-256, personalisation `refuge-bndl-mb1`, for one member."""

    __slots__ = ("_state",)

    def __init__(self) -> None:
        self._state = _MEMBER_HASH_INIT.copy()

    def update(self, data: bytes) -> None:
        nacl.bindings.crypto_generichash_blake2b_update(self._state, data)

    def digest(self) -> bytes:
        """The digest; call once (it finalises the state)."""
        digest: bytes = nacl.bindings.crypto_generichash_blake2b_final(self._state)
        return digest

    def hexdigest(self) -> str:
        return self.digest().hex()


def _member_hash() -> _MemberHash:
    return _MemberHash()


def _manifest_digest(prefix: bytes) -> bytes:
    h = nacl.hashlib.blake2b(prefix, digest_size=DIGEST_BYTES, person=_PERSON_MANIFEST)
    digest: bytes = h.digest()
    return digest


def stanza_key_ids(head: bytes) -> list[bytes] | None:
    """The key ids an envelope's header names, from its first bytes; None if malformed.

    Checks 1 to 6 of docs/format.md "Decrypting" (the ones that need no key)
    on the first MAX_ENVELOPE_HEADER bytes of a member (fewer if it is shorter):
    the version-1 magic, a recipient count of 1 to 32, every stanza, no key id
    twice, and the stream header and MAC present. Nothing is decrypted.
    """
    if head[: len(ENVELOPE_MAGIC)] != ENVELOPE_MAGIC or len(head) <= len(ENVELOPE_MAGIC):
        return None
    count = head[len(ENVELOPE_MAGIC)]
    start = len(ENVELOPE_MAGIC) + 1
    if not 1 <= count <= MAX_RECIPIENTS:
        return None
    if len(head) < start + count * STANZA_BYTES + STREAM_HEADER_BYTES + MAC_BYTES:
        return None
    ids = [
        head[start + i * STANZA_BYTES : start + i * STANZA_BYTES + KEY_ID_BYTES]
        for i in range(count)
    ]
    if len(set(ids)) != len(ids):
        return None
    return ids


class _Recipients:
    """The manifest's `recipients` of a submissions bundle, checked against the members.

    Each member's envelope header must name only listed keys; once every member
    is read, every listed key must have been named (docs/bundle.md, steps 6
    and 8). Replies bundles are not checked this way (see docs/bundle.md).
    """

    def __init__(self, kind: str, recipients: Iterable[PublicKey]) -> None:
        self.active = kind == KIND_SUBMISSIONS
        self._listed = {k.key_id: k for k in recipients}
        self._named: set[bytes] = set()

    def member(self, member_id: str, head: bytes) -> str | None:
        """What is wrong with this member's stanzas, or None."""
        if not self.active:
            return None
        ids = stanza_key_ids(head)
        if ids is None:
            return f"member {member_id} does not begin with a well-formed envelope header"
        if any(i not in self._listed for i in ids):
            return f"member {member_id} is sealed to a key the manifest does not list"
        self._named.update(ids)
        return None

    def unnamed(self) -> str | None:
        """A listed recipient no member's stanza names, as a sentence, or None.

        A bundle with no members has nothing sealed to compare with: not checked.
        """
        if not self.active or not self._named:
            return None
        for key_id, key in self._listed.items():
            if key_id not in self._named:
                return (
                    f"it lists the recipient key {key.fingerprint} that no envelope "
                    "in it is sealed to"
                )
        return None


# --- validation (shared by reader and writer) ------------------------------------


def _fail(detail: str) -> ManifestError:
    return ManifestError(f"this bundle's manifest is malformed ({detail}); nothing was imported")


def _obj(value: object, keys: set[str], where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(f"{where} is not an object")
    if set(value) != keys:
        raise _fail(f"{where} does not have exactly the fields {sorted(keys)}")
    return value


def _list(value: object, where: str, limit: int = MAX_MEMBERS) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(f"{where} is not a list")
    if len(value) > limit:
        raise _fail(f"{where} has more than {limit} entries")
    return value


def _id(value: object, where: str) -> str:
    if not is_id(value):
        raise _fail(f"{where} is not 32 lowercase hex digits")
    return value


def _day(value: object, where: str) -> str:
    if not is_day(value):
        raise _fail(f"{where} is not a date YYYY-MM-DD")
    return value


def _int(value: object, low: int, high: int, where: str) -> int:
    # bool is an int in Python; JSON true is not a length.
    if type(value) is not int or not low <= value <= high:
        raise _fail(f"{where} is not an integer in {low}..{high}")
    return value


def _public_key(value: object, where: str, *, refuse_low_order: bool = True) -> PublicKey:
    if not isinstance(value, str):
        raise _fail(f"{where} is not a public key")
    try:
        key = PublicKey.from_text(value, refuse_low_order=refuse_low_order)
    except InvalidPublicKey:
        raise _fail(f"{where} is not a valid public key") from None
    # from_text refuses any form but the canonical one of the stripped text, so
    # only surrounding spaces are left to refuse (without encoding the key again).
    if value.strip() != value:
        raise _fail(f"{where} is not in canonical form")
    return key


_TOP_KEYS = {"format", "version", "kind", "created", "recipients", "members"}
_CASE_FIELDS = {"case", "reply_key", "submissions"}

#: How the manifest reader runs crypto.keys.is_low_order over the reply keys:
#: like the builtin map (the default), or a caller's map that spreads the work
#: over processes (one X25519 multiplication per case). Results in order.
KeyMap = Callable[[Callable[[bytes], bool], Sequence[bytes]], Iterable[bool]]


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _fail(f"the field {key!r} appears twice")
        out[key] = value
    return out


def _no_float(text: str) -> Any:
    raise _fail("it contains a non-integer number")


def _load_json(text: str, *, check_duplicates: bool) -> Any:
    try:
        if check_duplicates:
            return json.loads(
                text,
                object_pairs_hook=_no_duplicates,
                parse_float=_no_float,
                parse_constant=_no_float,
            )
        return json.loads(text, parse_float=_no_float, parse_constant=_no_float)
    except (ValueError, RecursionError):
        raise _fail("it is not JSON") from None


def parse_manifest(data: bytes, *, kind: str | None = None, key_map: KeyMap = map) -> Manifest:
    """Parse and validate manifest bytes (already digest-checked). Raises BundleError."""
    manifest, low_order = _parse_manifest(data, kind, key_map)
    _refuse_low_order(low_order)
    return manifest


def _refuse_low_order(low_order: Iterable[bool]) -> None:
    """Wait for the reply keys' low-order results; refuse the first low-order key."""
    for i, low in enumerate(low_order):
        if low:
            raise _fail(f"case {i} reply key is not a valid public key")


def _parse_manifest(
    data: bytes, kind: str | None, key_map: KeyMap
) -> tuple[Manifest, Iterable[bool]]:
    """Every manifest check but the last; that one is handed back to be waited for.

    The reply keys' low-order test is started here through key_map, and its
    results are returned unread, so that a reader can go on reading members
    while workers run it (see read_bundle for how the order of checks holds).
    """
    if not data.isascii() or _NOT_PRINTABLE.search(data):
        raise _fail("it is not printable ASCII")
    text = data.decode("ascii")
    # Parsed without a Python hook per object (a manifest has three per case);
    # a field given twice cannot survive the canonical-form check, and the
    # slow parse below then names it.
    obj = _load_json(text, check_duplicates=False)
    if not isinstance(obj, dict) or canonical_json(obj) != data:
        _load_json(text, check_duplicates=True)  # raises if a field appears twice
        if not isinstance(obj, dict):
            raise _fail("it is not a JSON object")
        raise _fail("it is not in canonical form")
    if obj.get("format") != FORMAT:
        raise _fail("wrong format name")
    if obj.get("version") != VERSION or type(obj.get("version")) is not int:
        raise UnsupportedBundleVersion()
    found_kind = obj.get("kind")
    if found_kind not in KINDS:
        raise _fail("unknown kind")
    if kind is not None and found_kind != kind:
        raise WrongBundleKind(
            f"this is a bundle of {found_kind}, not of {kind}; nothing was imported"
        )
    extra = "cases" if found_kind == KIND_SUBMISSIONS else "replies"
    _obj(obj, _TOP_KEYS | {extra}, "the manifest")
    created = _day(obj["created"], "created")

    recipients = tuple(
        _public_key(v, "a recipient")
        for v in _list(obj["recipients"], "recipients", MAX_RECIPIENTS)
    )
    if not recipients:
        raise _fail("it lists no recipient keys")
    if len(set(recipients)) != len(recipients):
        raise _fail("a recipient key is listed twice")

    # A submissions manifest's reply keys are parsed first, and their low-order
    # test started, so that a parallel key_map runs it while the rest is checked.
    low_order: Iterable[bool] = ()
    reply_keys: list[PublicKey] = []
    if found_kind == KIND_SUBMISSIONS:
        for i, raw in enumerate(_list(obj["cases"], "cases")):
            c = _obj(raw, _CASE_FIELDS, f"case {i}")
            reply_keys.append(
                _public_key(c["reply_key"], f"case {i} reply key", refuse_low_order=False)
            )
        low_order = key_map(is_low_order, [k.raw for k in reply_keys])

    members: list[Member] = []
    for i, raw in enumerate(_list(obj["members"], "members")):
        m = _obj(raw, {"id", "length", "blake2b"}, f"member {i}")
        digest = m["blake2b"]
        if not isinstance(digest, str) or _HEX_DIGEST.fullmatch(digest) is None:
            raise _fail(f"member {i} digest is not 64 lowercase hex digits")
        members.append(
            Member(
                _id(m["id"], f"member {i} id"),
                _int(m["length"], MIN_MEMBER_LENGTH, MAX_MEMBER_LENGTH, f"member {i} length"),
                digest,
            )
        )
    member_ids = [m.id for m in members]
    if len(set(member_ids)) != len(member_ids):
        raise _fail("a member id is listed twice")

    referenced: list[str] = []
    cases: list[CaseRecord] = []
    replies: list[ReplyRecord] = []
    if found_kind == KIND_SUBMISSIONS:
        submission_ids: set[str] = set()
        for i, raw in enumerate(obj["cases"]):
            c = raw  # its fields were checked with its reply key above
            subs: list[SubmissionRecord] = []
            for j, sraw in enumerate(_list(c["submissions"], f"case {i} submissions")):
                where = f"case {i} submission {j}"
                s = _obj(sraw, {"submission", "day", "kind", "answers", "attachments"}, where)
                sid = _id(s["submission"], f"{where} id")
                if sid in submission_ids:
                    raise _fail("a submission id is listed twice")
                submission_ids.add(sid)
                if s["kind"] not in SUBMISSION_KINDS:
                    raise _fail(f"{where} kind is not application or followup")
                attachments = tuple(
                    _id(a, f"{where} attachment") for a in _list(s["attachments"], where)
                )
                answers = _id(s["answers"], f"{where} answers")
                referenced.append(answers)
                referenced.extend(attachments)
                subs.append(
                    SubmissionRecord(
                        sid, _day(s["day"], f"{where} day"), s["kind"], answers, attachments
                    )
                )
            if not subs:
                raise _fail(f"case {i} has no submissions")
            cases.append(CaseRecord(_id(c["case"], f"case {i} id"), reply_keys[i], tuple(subs)))
        case_ids = [c.case for c in cases]
        if len(set(case_ids)) != len(case_ids):
            raise _fail("a case id is listed twice")
    else:
        reply_ids: set[str] = set()
        for i, raw in enumerate(_list(obj["replies"], "replies")):
            r = _obj(raw, {"reply", "case", "day", "blob"}, f"reply {i}")
            rid = _id(r["reply"], f"reply {i} id")
            if rid in reply_ids:
                raise _fail("a reply id is listed twice")
            reply_ids.add(rid)
            blob = _id(r["blob"], f"reply {i} blob")
            referenced.append(blob)
            case = _id(r["case"], f"reply {i} case")
            replies.append(ReplyRecord(rid, case, _day(r["day"], f"reply {i} day"), blob))
    if len(set(referenced)) != len(referenced):
        raise _fail("a member is referenced twice")
    if set(referenced) != set(member_ids):
        raise _fail("the members and the records that name them do not match")
    return Manifest(
        found_kind, created, recipients, tuple(members), tuple(cases), tuple(replies)
    ), low_order


# --- reading --------------------------------------------------------------------


def _read_exact(src: BinaryIO, n: int) -> bytes:
    parts: list[bytes] = []
    remaining = n
    while remaining:
        part = src.read(min(remaining, COPY_CHUNK))
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def read_manifest(src: BinaryIO, *, kind: str | None = None, key_map: KeyMap = map) -> Manifest:
    """Read and check everything up to the first member; `src` is left there.

    Checks, in order: magic, length field, manifest bytes present, digest
    present, digest matches, then the manifest itself (parse_manifest).
    """
    manifest, _, low_order = _read_head(src, kind, key_map)
    _refuse_low_order(low_order)
    return manifest


def _read_head(
    src: BinaryIO, kind: str | None, key_map: KeyMap
) -> tuple[Manifest, int, Iterable[bool]]:
    magic = _read_exact(src, len(MAGIC))
    if magic != MAGIC:
        if magic.startswith(MAGIC_PREFIX) and len(magic) == len(MAGIC):
            raise UnsupportedBundleVersion()
        if len(magic) < len(MAGIC) and MAGIC.startswith(magic) and magic:
            raise TruncatedBundle()
        raise NotABundle()
    length_bytes = _read_exact(src, LENGTH.size)
    if len(length_bytes) != LENGTH.size:
        raise TruncatedBundle()
    (length,) = LENGTH.unpack(length_bytes)
    if not 2 <= length <= MAX_MANIFEST_BYTES:
        raise _fail(f"its length {length} is outside 2..{MAX_MANIFEST_BYTES}")
    data = _read_exact(src, length)
    digest = _read_exact(src, DIGEST_BYTES)
    if len(data) != length or len(digest) != DIGEST_BYTES:
        raise TruncatedBundle()
    if not nacl.bindings.sodium_memcmp(_manifest_digest(magic + length_bytes + data), digest):
        raise ManifestDigestError()
    manifest, low_order = _parse_manifest(data, kind, key_map)
    return manifest, len(MAGIC) + LENGTH.size + length + DIGEST_BYTES, low_order


#: Given a member, a context manager yielding the file its bytes are copied to.
Sink = Callable[[Member], AbstractContextManager[BinaryIO]]


class _Null(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        return len(b)


@contextlib.contextmanager
def discard(_: Member) -> Iterator[BinaryIO]:
    """A sink that keeps nothing: the member is only checked."""
    yield _Null()  # type: ignore[misc]


def read_bundle(
    src: BinaryIO,
    *,
    kind: str | None = None,
    sink: Sink | None = None,
    progress: Callable[[int], None] | None = None,
    key_map: KeyMap = map,
) -> Manifest:
    """Check a whole bundle; return its manifest only if every check passed.

    Each member's bytes are written to `sink(member)` while being checked
    (a staging file the caller commits only after this returns); with no sink
    they are only checked. `progress(n)` is called with each n bytes read.
    On any BundleError whatever reached the sinks must be thrown away.
    `key_map` runs the reply keys' low-order test (see KeyMap).
    """
    manifest, head_bytes, low_order = _read_head(src, kind, key_map)
    # The reply keys' low-order results are awaited after the members, so
    # that a parallel key_map works while they are read. The order of checks
    # still holds: if a member check fails, a low-order key is reported first.
    try:
        _read_members(src, manifest, sink or discard, progress, head_bytes)
    except BundleError:
        _refuse_low_order(low_order)
        raise
    _refuse_low_order(low_order)
    return manifest


def _read_members(
    src: BinaryIO,
    manifest: Manifest,
    open_sink: Sink,
    progress: Callable[[int], None] | None,
    head_bytes: int,
) -> None:
    if progress is not None:
        progress(head_bytes)
    recipients = _Recipients(manifest.kind, manifest.recipients)
    keep = MAX_ENVELOPE_HEADER if recipients.active else len(ENVELOPE_MAGIC)
    for member in manifest.members:
        h = _member_hash()
        remaining = member.length
        head = b""
        with open_sink(member) as out:
            while remaining:
                chunk = src.read(min(remaining, COPY_CHUNK))
                if not chunk:
                    raise TruncatedBundle()
                if len(head) < keep:
                    head += chunk[: keep - len(head)]
                    if not ENVELOPE_MAGIC.startswith(head[: len(ENVELOPE_MAGIC)]):
                        raise MemberError(
                            f"member {member.id} is not an envelope; nothing was imported"
                        )
                h.update(chunk)
                out.write(chunk)
                remaining -= len(chunk)
                if progress is not None:
                    progress(len(chunk))
        if not nacl.bindings.sodium_memcmp(h.digest(), bytes.fromhex(member.digest)):
            raise MemberError(
                f"member {member.id} is damaged or has been tampered with; nothing was imported"
            )
        problem = recipients.member(member.id, head)
        if problem is not None:
            raise MemberError(f"{problem}; nothing was imported")
    if src.read(1):
        raise TrailingBundleData()
    problem = recipients.unnamed()
    if problem is not None:
        raise _fail(problem)


# --- writing --------------------------------------------------------------------

#: A member source: a path, or a callable returning a fresh binary file each time.
Source = str | os.PathLike[str] | Callable[[], BinaryIO]


def _open_source(source: Source) -> BinaryIO:
    if callable(source):
        return source()
    return open(source, "rb")


def _hash_source(source: Source) -> tuple[int, str, bytes]:
    """Length, hex digest and the first MAX_ENVELOPE_HEADER bytes of a member."""
    h = _member_hash()
    length = 0
    head = b""
    with _open_source(source) as f:
        while chunk := f.read(COPY_CHUNK):
            if len(head) < MAX_ENVELOPE_HEADER:
                head += chunk[: MAX_ENVELOPE_HEADER - len(head)]
            h.update(chunk)
            length += len(chunk)
    return length, h.hexdigest(), head


class BundleWriter:
    """Builds a bundle into `dst` (give it an atomic_output file).

    Add members (envelopes already on disk) and the records that name them,
    then `close()`: the manifest is validated by the same rules as the
    reader's, written, and each member copied and re-hashed (a member that
    changed since `add_member` aborts the write).

        with atomic_output(path) as out:
            w = BundleWriter(out, "submissions", created="2026-11-23", recipients=keys)
            w.add_member(blob_id, path_of_blob)
            w.add_case(case_id, reply_key, [SubmissionRecord(...)])
            w.close()
    """

    def __init__(
        self,
        dst: BinaryIO,
        kind: str,
        *,
        created: str,
        recipients: tuple[PublicKey, ...] | list[PublicKey],
    ) -> None:
        if kind not in KINDS:
            raise BundleWriteError(f"cannot write the bundle: unknown kind {kind!r}")
        self._dst = dst
        self.kind = kind
        self.created = created
        self.recipients = tuple(recipients)
        self._members: list[Member] = []
        self._sources: dict[str, Source] = {}
        self._recipients = _Recipients(kind, self.recipients)
        self._cases: list[CaseRecord] = []
        self._replies: list[ReplyRecord] = []
        self._closed = False

    def add_member(self, member_id: str, source: Source) -> Member:
        """Hash one member now; its bytes are copied at close()."""
        if member_id in self._sources:
            raise BundleWriteError(f"cannot write the bundle: member {member_id} added twice")
        length, digest, head = _hash_source(source)
        member = Member(member_id, length, digest)
        problem = self._recipients.member(member_id, head)
        if problem is not None:
            raise BundleWriteError(f"cannot write the bundle: {problem}")
        self._members.append(member)
        self._sources[member_id] = source
        return member

    def add_case(
        self,
        case: str,
        reply_key: PublicKey,
        submissions: list[SubmissionRecord] | tuple[SubmissionRecord, ...],
    ) -> None:
        if self.kind != KIND_SUBMISSIONS:
            raise BundleWriteError("cannot write the bundle: cases go in a submissions bundle")
        self._cases.append(CaseRecord(case, reply_key, tuple(submissions)))

    def add_reply(self, reply: str, case: str, day: str, blob: str) -> None:
        if self.kind != KIND_REPLIES:
            raise BundleWriteError("cannot write the bundle: replies go in a replies bundle")
        self._replies.append(ReplyRecord(reply, case, day, blob))

    def manifest(self) -> Manifest:
        return Manifest(
            self.kind,
            self.created,
            self.recipients,
            tuple(self._members),
            tuple(self._cases),
            tuple(self._replies),
        )

    def close(self) -> Manifest:
        """Validate the manifest, write everything; returns the manifest."""
        if self._closed:
            raise BundleWriteError("cannot write the bundle: already closed")
        self._closed = True
        data = canonical_json(self.manifest().to_json())
        if len(data) > MAX_MANIFEST_BYTES:
            raise BundleWriteError("cannot write the bundle: too many members for one bundle")
        try:
            manifest = parse_manifest(data, kind=self.kind)
        except BundleError as e:
            raise BundleWriteError(f"cannot write the bundle: {e}") from None
        # The reader's recipients rule (members were checked as they were added).
        problem = self._recipients.unnamed()
        if problem is not None:
            raise BundleWriteError(f"cannot write the bundle: {problem}")
        prefix = MAGIC + LENGTH.pack(len(data)) + data
        self._dst.write(prefix + _manifest_digest(prefix))
        for member in manifest.members:
            h = _member_hash()
            length = 0
            head = b""
            with _open_source(self._sources[member.id]) as f:
                while chunk := f.read(COPY_CHUNK):
                    if len(head) < len(ENVELOPE_MAGIC):
                        head += chunk[: len(ENVELOPE_MAGIC) - len(head)]
                        if not ENVELOPE_MAGIC.startswith(head):
                            raise BundleWriteError(
                                f"cannot write the bundle: member {member.id} is not an envelope"
                            )
                    h.update(chunk)
                    length += len(chunk)
                    self._dst.write(chunk)
            if length != member.length or h.hexdigest() != member.digest:
                raise BundleWriteError(
                    f"cannot write the bundle: member {member.id} changed while being written"
                )
        return manifest
