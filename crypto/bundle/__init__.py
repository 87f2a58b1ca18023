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

The modules, each importable on its own; every name other code uses is here:

    format    layout constants, the errors, the manifest's records
    manifest  parse_manifest: the manifest's bytes checked by every rule, typed
    members   copy_member (the one copy loop of reader and writer), member_digest,
              stanza key ids
    reader    read_bundle, read_manifest, sinks
    writer    BundleWriter
    speed     the speed tricks, each one named function with what it buys
"""

from crypto.bundle.format import (
    COPY_CHUNK,
    DIGEST_BYTES,
    FORMAT,
    KIND_REPLIES,
    KIND_SUBMISSIONS,
    KINDS,
    LENGTH,
    MAGIC,
    MAGIC_PREFIX,
    MAX_ENVELOPE_HEADER,
    MAX_MANIFEST_BYTES,
    MAX_MEMBER_LENGTH,
    MAX_MEMBERS,
    MIN_MEMBER_LENGTH,
    SUBMISSION_KINDS,
    VERSION,
    BundleError,
    BundleWriteError,
    CaseRecord,
    Manifest,
    ManifestDigestError,
    ManifestError,
    Member,
    MemberError,
    NotABundle,
    ReplyRecord,
    SubmissionRecord,
    TrailingBundleData,
    TruncatedBundle,
    UnsupportedBundleVersion,
    WrongBundleKind,
    canonical_json,
    is_day,
    is_id,
    manifest_digest,
)
from crypto.bundle.manifest import parse_manifest
from crypto.bundle.members import member_digest, stanza_key_ids
from crypto.bundle.reader import Sink, discard, read_bundle, read_manifest
from crypto.bundle.writer import BundleWriter, Source

__all__ = [
    "COPY_CHUNK",
    "DIGEST_BYTES",
    "FORMAT",
    "KINDS",
    "KIND_REPLIES",
    "KIND_SUBMISSIONS",
    "LENGTH",
    "MAGIC",
    "MAGIC_PREFIX",
    "MAX_ENVELOPE_HEADER",
    "MAX_MANIFEST_BYTES",
    "MAX_MEMBERS",
    "MAX_MEMBER_LENGTH",
    "MIN_MEMBER_LENGTH",
    "SUBMISSION_KINDS",
    "VERSION",
    "BundleError",
    "BundleWriteError",
    "BundleWriter",
    "CaseRecord",
    "Manifest",
    "ManifestDigestError",
    "ManifestError",
    "Member",
    "MemberError",
    "NotABundle",
    "ReplyRecord",
    "Sink",
    "Source",
    "SubmissionRecord",
    "TrailingBundleData",
    "TruncatedBundle",
    "UnsupportedBundleVersion",
    "WrongBundleKind",
    "canonical_json",
    "discard",
    "is_day",
    "is_id",
    "manifest_digest",
    "member_digest",
    "parse_manifest",
    "read_bundle",
    "read_manifest",
    "stanza_key_ids",
]
