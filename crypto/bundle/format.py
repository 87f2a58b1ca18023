"""What a bundle is made of: its layout constants, its errors and its records.

docs/bundle.md specifies the layout byte by byte; everything here is what the
reader, the writer and the manifest parser agree on, and nothing here reads
or writes a file.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

import nacl.hashlib

from crypto.envelope import MAC_BYTES, MAX_RECIPIENTS, STANZA_BYTES, STREAM_HEADER_BYTES
from crypto.envelope import MAGIC as ENVELOPE_MAGIC
from crypto.errors import CryptoError
from crypto.ids import is_day as is_day
from crypto.ids import is_id as is_id
from crypto.keys import PublicKey

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

PERSON_MANIFEST = b"refuge-bndl-mf1"
PERSON_MEMBER = b"refuge-bndl-mb1"


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


def manifest_error(detail: str) -> ManifestError:
    """The ManifestError that names which rule the manifest breaks."""
    return ManifestError(f"this bundle's manifest is malformed ({detail}); nothing was imported")


# --- the manifest's records -----------------------------------------------------


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
    #: The member ids of the team members (docs/team.md), in manifest order.
    team: tuple[str, ...] = ()

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
        if self.team:  # absent when empty: one encoding, and older bundles unchanged
            obj["team"] = list(self.team)
        return obj


def canonical_json(obj: object) -> bytes:
    """The one accepted serialisation: sorted keys, no whitespace, ASCII."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode(
        "ascii"
    )


def manifest_digest(prefix: bytes) -> bytes:
    """BLAKE2b-256, person `refuge-bndl-mf1`, over the magic, length and manifest."""
    h = nacl.hashlib.blake2b(prefix, digest_size=DIGEST_BYTES, person=PERSON_MANIFEST)
    digest: bytes = h.digest()
    return digest
