"""Team records and signing key announcements (docs/team.md).

A team record is one immutable thing a reviewer decided about a case (a
verification, a note, a state change, an assignment, a reply sent, a file
saved, a link between cases), or a rotation of her signing key. It is a JSON
document signed with the author's Ed25519 key, framed with the public keys of
the colleagues it is addressed to, and sealed to them in an envelope
(crypto.envelope). The envelope alone is not enough: every recipient learns
its file key and could forge to the others; the signature is what says who
wrote it.

The signing key reaches colleagues by an announcement: a crypto_box from the
author's X25519 key (the one they confirmed by fingerprint) to each
colleague's, holding the signing public key and the signing key's own
signature over the pair, so each side of the binding vouches for the other.

Readers go in one straight line: `read_record` checks the frame and the
document and gives an `UnverifiedRecord` (nothing in it is trusted yet);
`verify_record` checks the signature and the author against the reader's
book and gives a `TeamRecord`. `open_record` does both after the envelope.
Every check is in docs/team.md, in this order, with its error class
(crypto/errors.py).
"""

from __future__ import annotations

import itertools
import json
import os
import struct
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import nacl.bindings
import nacl.exceptions
import nacl.hash
from nacl.encoding import RawEncoder

from crypto import documents, envelope
from crypto.errors import (
    AnnouncementError,
    AnnouncementNoMatch,
    BadSignature,
    DocumentError,
    ForgedAuthor,
    InvalidPublicKey,
    NotATeamRecord,
    RemovedAuthor,
    TeamRecordError,
    UnknownAuthor,
    UnknownCase,
    UnsupportedTeamRecord,
)
from crypto.ids import is_id
from crypto.keys import KEY_BYTES, PrivateKey, PublicKey, RandomSource, is_low_order, noncanonical_reason
from crypto.signing import SIGNATURE_BYTES, SIGNING_KEY_BYTES, SigningKey, SigningPublicKey

RECORD_FORMAT = "refuge-intake team record"
RECORD_VERSION = 1
RECORD_MAGIC = b"RFGREC\x00\x01"
ANNOUNCEMENT_MAGIC = b"RFGANN\x00\x01"
#: A record's JSON is at most 1 MiB: a note or a reply, with room to spare.
MAX_RECORD_BYTES = 1024 * 1024
#: Parents a record may name: the heads of what its author had seen.
MAX_PARENTS = 1000
MAX_RECIPIENTS = envelope.MAX_RECIPIENTS

#: Domain separation: every Ed25519 signature in the project starts with one of these.
SIGNATURE_DOMAIN = b"refuge-intake team record v1\x00"
BINDING_DOMAIN = b"refuge-intake signing key binding v1\x00"

RISKS = ("low", "medium", "high", "critical")
RECOMMENDATIONS = ("proceed", "more-info", "refer", "decline")
UNVERIFIED = "unverified"
STATES = (UNVERIFIED, *RECOMMENDATIONS)
RELATIONS = ("same-person", "related")

#: Each kind's body fields (docs/team.md, "Kinds").
KIND_FIELDS: dict[str, frozenset[str]] = {
    "verification": frozenset(
        {"identity", "work", "persecution", "risk", "recommendation", "notes"}
    ),
    "note": frozenset({"text"}),
    "state": frozenset({"state", "reason"}),
    "assignment": frozenset({"assignee"}),
    "reply": frozenset({"reply", "text"}),
    "file-saved": frozenset({"blob", "name"}),
    "link": frozenset({"other", "relation", "reason"}),
    "rotation": frozenset({"new_author", "new_key", "binding"}),
    "referral": frozenset(
        {"dossier", "city", "coordinator", "answers", "files", "note", "verification", "consent"}
    ),
    "consent": frozenset({"how"}),
    "dossier-answer": frozenset({"dossier", "answer", "city", "day", "text"}),
    "city": frozenset({"action", "name", "country", "key"}),
}
#: The kinds about no case (`case` is null): a key rotation, the register of member cities.
CASELESS = frozenset({"rotation", "city"})
CITY_ACTIONS = ("add", "remove")
CONSENTS = ("yes", "recorded")
#: The most answers or files a referral record names.
MAX_REFERRAL_ITEMS = 1000
KINDS = tuple(KIND_FIELDS)
RECORD_FIELDS = frozenset(
    {"format", "version", "id", "case", "author", "parents", "time", "kind", "body"}
)

_LENGTH = struct.Struct(">I")
_PARENTS = struct.Struct(">H")
_DIGEST_PERSON = b"refuge-team-rec1"
_BOX_NONCE_BYTES = nacl.bindings.crypto_box_NONCEBYTES  # 24
_BOX_MAC_BYTES = nacl.bindings.crypto_box_ZEROBYTES - nacl.bindings.crypto_box_BOXZEROBYTES  # 16
_ANNOUNCED_BYTES = SIGNING_KEY_BYTES + SIGNATURE_BYTES  # 96
ANNOUNCEMENT_BYTES = (
    len(ANNOUNCEMENT_MAGIC) + 2 * KEY_BYTES + _BOX_NONCE_BYTES
    + _BOX_MAC_BYTES + _ANNOUNCED_BYTES
)  # 208


# --- the typed record -----------------------------------------------------------


@dataclass(frozen=True)
class UnverifiedRecord:
    """A team record whose frame and document are well formed; nothing in it is trusted."""

    recipients: tuple[PublicKey, ...]
    data: bytes  # the record's JSON, exactly as signed
    signature: bytes
    document: Mapping[str, Any]

    @property
    def author(self) -> SigningPublicKey:
        return SigningPublicKey.from_text(self.document["author"])


@dataclass(frozen=True)
class TeamRecord:
    """A team record whose signature verified under a known colleague's key."""

    id: str
    case: str | None  # None for a case-less kind (a rotation, a city)
    author: SigningPublicKey
    parents: tuple[str, ...]
    time: str  # the author's clock, for display only
    kind: str
    body: Mapping[str, Any]
    recipients: tuple[PublicKey, ...]
    data: bytes
    signature: bytes

    @property
    def digest(self) -> str:
        """Hex BLAKE2b-256 of the signed frame: two copies of one record have the same."""
        return record_digest(self.data, self.signature)

    def addressed_to(self, key: PublicKey) -> bool:
        """False for a record that reached this reader by `share` rather than from its author."""
        return key in self.recipients


@dataclass(frozen=True)
class KnownAuthor:
    """A signing key the reader knows, and whose it is.

    `removed` is the day (YYYY-MM-DD) the reader stopped trusting the colleague;
    records received from that day on are refused.
    """

    name: str
    key: SigningPublicKey
    removed: str | None = None


def record_digest(data: bytes, signature: bytes) -> str:
    h = nacl.hash.blake2b(
        _LENGTH.pack(len(data)) + data + signature,
        digest_size=32, person=_DIGEST_PERSON, encoder=RawEncoder,
    )
    return h.hex()


# --- writing --------------------------------------------------------------------


def new_record(
    *,
    kind: str,
    case: str | None,
    author: SigningPublicKey,
    parents: Iterable[str],
    body: Mapping[str, Any],
    time: str,
    record_id: str | None = None,
    random: RandomSource = os.urandom,
) -> dict[str, Any]:
    """The document of a new record (checked when it is signed)."""
    return {
        "format": RECORD_FORMAT,
        "version": RECORD_VERSION,
        "id": record_id if record_id is not None else random(16).hex(),
        "case": case,
        "author": author.to_text(),
        "parents": sorted(set(parents)),
        "time": time,
        "kind": kind,
        "body": dict(body),
    }


def encode_record(document: Mapping[str, Any]) -> bytes:
    """How the reference writes a record: UTF-8 JSON, keys sorted, no spaces.

    Any JSON text that passes the rules is valid; the signature is over the
    exact bytes, so a reader never re-encodes.
    """
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode(
        "utf-8"
    )


def signed_message(
    data: bytes, case: str | None, parents: Sequence[str], recipients: Sequence[PublicKey]
) -> bytes:
    """What the Ed25519 signature covers (docs/team.md, "The signature")."""
    case_bytes = bytes.fromhex(case) if case is not None else b""  # a case-less kind: none
    return b"".join([
        SIGNATURE_DOMAIN,
        _LENGTH.pack(len(data)), data,
        bytes([len(case_bytes)]), case_bytes,
        _PARENTS.pack(len(parents)), *(bytes.fromhex(p) for p in parents),
        bytes([len(recipients)]), *(k.raw for k in recipients),
    ])


def sorted_recipients(recipients: Iterable[PublicKey]) -> tuple[PublicKey, ...]:
    unique = {k.raw: k for k in recipients}
    return tuple(unique[raw] for raw in sorted(unique))


def sign_record(
    document: Mapping[str, Any], signing_key: SigningKey, recipients: Iterable[PublicKey]
) -> bytes:
    """The signed frame of `document`, addressed to `recipients` (the envelope's content).

    The document is checked by the reader's own rules first, so a writer cannot
    sign what a reader would refuse (TeamRecordError).
    """
    keys = sorted_recipients(recipients)
    if not 1 <= len(keys) <= MAX_RECIPIENTS:
        raise TeamRecordError(f"a team record is addressed to 1 to {MAX_RECIPIENTS} keys")
    if document.get("author") != signing_key.public_key.to_text():
        raise TeamRecordError("the record's author is not the signing key")
    data = encode_record(document)
    frame_head = RECORD_MAGIC + bytes([len(keys)]) + b"".join(k.raw for k in keys)
    signature = signing_key.sign(
        signed_message(data, document.get("case"), list(document.get("parents", [])), keys)
    )
    frame = frame_head + _LENGTH.pack(len(data)) + data + signature
    read_record(frame)  # every rule a reader applies, before anything leaves
    return frame


def seal_record(frame: bytes, recipients: Sequence[PublicKey], *, random: RandomSource = os.urandom) -> bytes:
    """The signed frame in an envelope to `recipients` (crypto.envelope)."""
    return envelope.encrypt_bytes(frame, recipients, random=random)


def rotation_binding(new_signing: SigningKey, new_key: PublicKey) -> bytes:
    """The new signing key's signature over the X25519 key it will be bound to."""
    return new_signing.sign(BINDING_DOMAIN + new_key.raw + new_signing.public_key.raw)


# --- reading: frame and document ----------------------------------------------------


def _fail(detail: str) -> TeamRecordError:
    return TeamRecordError(f"this team record is malformed ({detail})")


def read_record(frame: bytes) -> UnverifiedRecord:
    """Checks F1–F7 and R1–R8 of docs/team.md: no key is used, nothing is trusted."""
    if len(frame) < len(RECORD_MAGIC) or frame[:6] != RECORD_MAGIC[:6]:
        raise NotATeamRecord()
    if frame[:8] != RECORD_MAGIC:
        raise UnsupportedTeamRecord()
    pos = len(RECORD_MAGIC)
    if len(frame) < pos + 1 or not 1 <= frame[pos] <= MAX_RECIPIENTS:
        raise _fail(f"the recipient count is not 1 to {MAX_RECIPIENTS}")
    count = frame[pos]
    pos += 1
    if len(frame) < pos + KEY_BYTES * count:
        raise _fail("it ends inside the recipients")
    recipients: list[PublicKey] = []
    for i in range(count):
        raw = frame[pos : pos + KEY_BYTES]
        pos += KEY_BYTES
        if noncanonical_reason(raw) is not None or is_low_order(raw):
            raise _fail(f"recipient {i} is not a valid public key")
        if recipients and raw <= recipients[-1].raw:
            raise _fail("the recipients are not in strictly ascending order")
        recipients.append(PublicKey(raw))
    if len(frame) < pos + _LENGTH.size:
        raise _fail("it ends before the record length")
    (length,) = _LENGTH.unpack_from(frame, pos)
    pos += _LENGTH.size
    if not 2 <= length <= MAX_RECORD_BYTES:
        raise _fail(f"the record length is not 2 to {MAX_RECORD_BYTES}")
    if len(frame) != pos + length + SIGNATURE_BYTES:
        raise _fail("it is shorter or longer than its record and signature")
    data = frame[pos : pos + length]
    signature = frame[pos + length :]
    return UnverifiedRecord(tuple(recipients), data, signature, parse_document(data))


def parse_document(data: bytes) -> dict[str, Any]:
    """The record's JSON, by every rule of docs/team.md "The record" (R1–R8)."""
    try:
        doc = documents.load(data)
    except DocumentError as e:
        raise _fail(str(e).removeprefix("the document inside this envelope is malformed ")) from None
    if doc.get("format") != RECORD_FORMAT:
        raise _fail(f"its format is not {RECORD_FORMAT!r}")
    version = doc.get("version")
    if type(version) is not int or version != RECORD_VERSION:
        raise UnsupportedTeamRecord()
    if set(doc) != RECORD_FIELDS:
        raise _fail(f"it does not have exactly the fields {sorted(RECORD_FIELDS)}")
    if not is_id(doc["id"]):
        raise _fail("its id is not 32 lowercase hex digits")
    kind = doc["kind"]
    if kind not in KIND_FIELDS:
        raise _fail("its kind is not one of " + ", ".join(KINDS))
    case = doc["case"]
    if kind in CASELESS:
        if case is not None:
            raise _fail(f"a {kind} record's case is not null")
    elif not is_id(case):
        raise _fail("its case is not 32 lowercase hex digits")
    author = _signing_key(doc["author"], "author")
    parents = doc["parents"]
    if not isinstance(parents, list) or not all(is_id(p) for p in parents):
        raise _fail("its parents are not a list of ids")
    if len(parents) > MAX_PARENTS:
        raise _fail(f"it names more than {MAX_PARENTS} parents")
    if any(a >= b for a, b in itertools.pairwise(parents)):
        raise _fail("its parents are not in strictly ascending order")
    if doc["id"] in parents:
        raise _fail("it names itself as a parent")
    if kind == "rotation" and parents:
        raise _fail("a rotation has parents")
    if not _is_time(doc["time"]):
        raise _fail("its time is not YYYY-MM-DDTHH:MM:SSZ")
    body = doc["body"]
    if not isinstance(body, dict) or set(body) != KIND_FIELDS[kind]:
        raise _fail(f"its body does not have exactly the fields {sorted(KIND_FIELDS[kind])}")
    _check_body(kind, case, author, body)
    return doc


def _is_time(value: object) -> bool:
    if not isinstance(value, str) or len(value) != 20 or not value.endswith("Z"):
        return False
    try:
        parsed = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return False
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ") == value


def _signing_key(value: object, what: str) -> SigningPublicKey:
    if not isinstance(value, str):
        raise _fail(f"its {what} is not a signing key text")
    try:
        return SigningPublicKey.from_text(value)
    except InvalidPublicKey:
        raise _fail(f"its {what} is not a valid signing key text") from None


def _text(body: Mapping[str, Any], name: str, *, blank: bool = False) -> None:
    value = body[name]
    if not isinstance(value, str):
        raise _fail(f"its {name} is not a string")
    if not blank and not value.strip():
        raise _fail(f"its {name} is empty")


def _key_text(value: object, what: str) -> None:
    try:
        # from_text strips surrounding white space; inside a record there is none.
        if not isinstance(value, str) or PublicKey.from_text(value).to_text() != value:
            raise InvalidPublicKey()
    except InvalidPublicKey:
        raise _fail(f"its {what} is not a valid public key text") from None


def _one_line(body: Mapping[str, Any], name: str) -> None:
    _text(body, name)
    if any(c in body[name] for c in "\n\r"):
        raise _fail(f"its {name} is not one line")


def _is_day(value: object) -> bool:
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        return datetime.strptime(value, "%Y-%m-%d").strftime("%Y-%m-%d") == value
    except ValueError:
        return False


def _check_referral(body: Mapping[str, Any]) -> None:
    if not is_id(body["dossier"]):
        raise _fail("its dossier is not 32 lowercase hex digits")
    _one_line(body, "city")
    _key_text(body["coordinator"], "coordinator")
    answers = body["answers"]
    if (not isinstance(answers, list) or len(answers) > MAX_REFERRAL_ITEMS
            or not all(isinstance(a, str) and a.strip() for a in answers)
            or len(set(answers)) != len(answers)):
        raise _fail("its answers are not a list of distinct names")
    files = body["files"]
    if not isinstance(files, list) or len(files) > MAX_REFERRAL_ITEMS or not all(
            isinstance(f, dict) and set(f) == {"number", "blob"}
            and type(f["number"]) is int and f["number"] >= 1 and is_id(f["blob"])
            for f in files):
        raise _fail("its files are not a list of {number, blob}")
    if len({f["number"] for f in files}) != len(files):
        raise _fail("its files name one number twice")
    for name in ("note", "verification"):
        if type(body[name]) is not bool:
            raise _fail(f"its {name} is not true or false")
    if body["consent"] not in CONSENTS:
        raise _fail("its consent is not one of " + ", ".join(CONSENTS))


def _check_body(kind: str, case: str | None, author: SigningPublicKey, body: Mapping[str, Any]) -> None:
    if kind == "verification":
        for name in ("identity", "work", "persecution", "notes"):
            _text(body, name, blank=True)
        if body["risk"] not in RISKS:
            raise _fail("its risk is not one of " + ", ".join(RISKS))
        if body["recommendation"] not in RECOMMENDATIONS:
            raise _fail("its recommendation is not one of " + ", ".join(RECOMMENDATIONS))
    elif kind == "note":
        _text(body, "text")
    elif kind == "state":
        if body["state"] not in STATES:
            raise _fail("its state is not one of " + ", ".join(STATES))
        _text(body, "reason")
    elif kind == "assignment":
        if body["assignee"] is not None:
            _signing_key(body["assignee"], "assignee")
    elif kind == "reply":
        if not is_id(body["reply"]):
            raise _fail("its reply is not 32 lowercase hex digits")
        _text(body, "text")
    elif kind == "file-saved":
        if not is_id(body["blob"]):
            raise _fail("its blob is not 32 lowercase hex digits")
        _text(body, "name", blank=True)
    elif kind == "link":
        if not is_id(body["other"]) or body["other"] == case:
            raise _fail("its other case is not another case's id")
        if body["relation"] not in RELATIONS:
            raise _fail("its relation is not one of " + ", ".join(RELATIONS))
        _text(body, "reason", blank=True)
    elif kind == "referral":
        _check_referral(body)
    elif kind == "consent":
        _text(body, "how")
    elif kind == "dossier-answer":
        if not is_id(body["dossier"]) or not is_id(body["answer"]):
            raise _fail("its dossier or answer is not 32 lowercase hex digits")
        _one_line(body, "city")
        if not _is_day(body["day"]):
            raise _fail("its day is not YYYY-MM-DD")
        _text(body, "text")
    elif kind == "city":
        if body["action"] not in CITY_ACTIONS:
            raise _fail("its action is not one of " + ", ".join(CITY_ACTIONS))
        _one_line(body, "name")
        country = body["country"]
        if not isinstance(country, str) or (country and not (
                len(country) == 2 and country.isascii() and country.isalpha()
                and country.isupper())):
            raise _fail("its country is not empty or two capital letters")
        _key_text(body["key"], "key")
    else:  # rotation
        new_author = _signing_key(body["new_author"], "new author")
        if new_author == author:
            raise _fail("a rotation names its own author as the new key")
        _key_text(body["new_key"], "new key")
        binding = body["binding"]
        if not isinstance(binding, str) or len(binding) != 2 * SIGNATURE_BYTES or any(
            c not in "0123456789abcdef" for c in binding
        ):
            raise _fail("its binding is not 128 lowercase hex digits")


# --- reading: signature and author ---------------------------------------------------


def verify_record(
    unverified: UnverifiedRecord,
    book: Iterable[KnownAuthor],
    *,
    day: str,
    cases: Container[str] | None = None,
) -> TeamRecord:
    """Checks S1–S3 and A1–A3 of docs/team.md; `day` is the reader's day of receipt.

    `book` is every signing key the reader knows (its own, its colleagues',
    removed ones included); `cases` the cases the reader has (None: not checked).
    """
    doc = unverified.document
    known = list(book)
    message = signed_message(unverified.data, doc["case"], doc["parents"], unverified.recipients)
    author = unverified.author
    if not author.verify(message, unverified.signature):
        for other in known:
            if other.key != author and other.key.verify(message, unverified.signature):
                raise ForgedAuthor(
                    f"this team record claims the author {author.fingerprint} but was signed "
                    f"by {other.name} ({other.key.fingerprint})"
                )
        raise BadSignature()
    if doc["kind"] == "rotation":
        body = doc["body"]
        new_author = SigningPublicKey.from_text(body["new_author"])
        new_key = PublicKey.from_text(body["new_key"])
        if not new_author.verify(BINDING_DOMAIN + new_key.raw + new_author.raw,
                                 bytes.fromhex(body["binding"])):
            raise BadSignature("this key rotation's binding does not verify under its new key")
    entry = next((k for k in known if k.key == author), None)
    if entry is None:
        raise UnknownAuthor(
            f"a team record signed by a key that is not confirmed (signing key {author.fingerprint})"
        )
    if entry.removed is not None and day >= entry.removed:
        raise RemovedAuthor(
            f"a team record from {entry.name}, whose key was removed on {entry.removed}"
        )
    if cases is not None and doc["case"] is not None and doc["case"] not in cases:
        raise UnknownCase(f"a team record about case {doc['case']}, which this home does not have")
    return TeamRecord(
        id=doc["id"], case=doc["case"], author=author, parents=tuple(doc["parents"]),
        time=doc["time"], kind=doc["kind"], body=doc["body"], recipients=unverified.recipients,
        data=unverified.data, signature=unverified.signature,
    )


def open_record(
    sealed: bytes,
    identities: Iterable[PrivateKey],
    book: Iterable[KnownAuthor],
    *,
    day: str,
    cases: Container[str] | None = None,
) -> TeamRecord:
    """Decrypt (docs/format.md), read and verify one sealed record."""
    frame = envelope.decrypt_bytes(sealed, identities)
    return verify_record(read_record(frame), book, day=day, cases=cases)


# --- signing key announcements ----------------------------------------------------------


@dataclass(frozen=True)
class Announcement:
    """A colleague's signing key, bound to her X25519 key (`sender`)."""

    sender: PublicKey
    signing: SigningPublicKey


def seal_announcement(
    sender: PrivateKey,
    signing_key: SigningKey,
    recipient: PublicKey,
    *,
    random: RandomSource = os.urandom,
) -> bytes:
    """The announcement of `signing_key` from `sender` to one colleague (208 bytes)."""
    if is_low_order(recipient.raw):
        raise AnnouncementError("cannot announce to a key that is not a usable public key")
    binding = signing_key.sign(BINDING_DOMAIN + sender.public_key.raw + signing_key.public_key.raw)
    nonce = random(_BOX_NONCE_BYTES)
    if len(nonce) != _BOX_NONCE_BYTES:
        raise ValueError("the random source returned too few bytes")
    boxed = nacl.bindings.crypto_box(
        signing_key.public_key.raw + binding, nonce, recipient.raw, sender.raw()
    )
    out = ANNOUNCEMENT_MAGIC + sender.public_key.raw + recipient.raw + nonce + boxed
    if len(out) != ANNOUNCEMENT_BYTES:  # the layout above is fixed: a length off is a bug here
        raise RuntimeError(f"an announcement of {len(out)} bytes")
    return out


def open_announcement(data: bytes, identities: Iterable[PrivateKey]) -> Announcement:
    """Checks N1–N6 of docs/team.md. The caller decides whether `sender` is confirmed."""
    if len(data) != ANNOUNCEMENT_BYTES or data[:8] != ANNOUNCEMENT_MAGIC:
        raise AnnouncementError("not a signing key announcement of this version")
    sender_raw = data[8:40]
    if noncanonical_reason(sender_raw) is not None or is_low_order(sender_raw):
        raise AnnouncementError("the announcement's sender key is not a valid public key")
    recipient_raw = data[40:72]
    identity = next((k for k in identities if k.public_key.raw == recipient_raw), None)
    if identity is None:
        raise AnnouncementNoMatch()
    nonce, boxed = data[72:96], data[96:]
    try:
        plain = nacl.bindings.crypto_box_open(boxed, nonce, sender_raw, identity.raw())
    except nacl.exceptions.CryptoError:
        raise AnnouncementError() from None
    signing_raw, binding = plain[:SIGNING_KEY_BYTES], plain[SIGNING_KEY_BYTES:]
    try:
        signing = SigningPublicKey(signing_raw)
    except InvalidPublicKey:
        raise AnnouncementError("the announced signing key is not a valid Ed25519 key") from None
    if not signing.verify(BINDING_DOMAIN + sender_raw + signing_raw, binding):
        raise AnnouncementError("the announced signing key does not vouch for the sender's key")
    return Announcement(PublicKey(sender_raw), signing)
