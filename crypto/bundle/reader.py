"""Reading a bundle: every check of docs/bundle.md, in its order, in one streaming pass.

The reader hands each member's bytes to a caller-supplied sink (a staging
file, or the pack the reviewer's import builds) while checking them; the
caller commits only if `read_bundle` returns.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, BinaryIO

import nacl.bindings

from crypto.bundle.format import (
    COPY_CHUNK,
    DIGEST_BYTES,
    LENGTH,
    MAGIC,
    MAGIC_PREFIX,
    MAX_ENVELOPE_HEADER,
    MAX_MANIFEST_BYTES,
    Manifest,
    ManifestDigestError,
    Member,
    MemberError,
    NotABundle,
    TrailingBundleData,
    TruncatedBundle,
    UnsupportedBundleVersion,
    manifest_digest,
    manifest_error,
)
from crypto.bundle.manifest import parse_manifest
from crypto.bundle.members import Recipients, copy_member
from crypto.bundle.speed import member_digest_matches
from crypto.envelope import MAGIC as ENVELOPE_MAGIC

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


def read_manifest(src: BinaryIO, *, kind: str | None = None) -> Manifest:
    """Read and check everything up to the first member; `src` is left there.

    Checks, in order: magic, length field, manifest bytes present, digest
    present, digest matches, then the manifest itself (parse_manifest).
    """
    data, _ = _read_head(src)
    return parse_manifest(data, kind=kind)


def read_bundle(
    src: BinaryIO,
    *,
    kind: str | None = None,
    sink: Sink | None = None,
    progress: Callable[[int], None] | None = None,
    checked: Callable[[Manifest], None] | None = None,
) -> Manifest:
    """Check a whole bundle; return its manifest only if every check passed.

    Each member's bytes are written to `sink(member)` while being checked
    (a staging file the caller commits only after this returns); with no sink
    they are only checked. `progress(n)` is called with each n bytes read.
    `checked(manifest)`, if given, is called once the manifest has passed
    every check of step 5, before the first member is read: a caller may
    start its work on the members then (the reviewer's import checks each
    submission as its members land), but must use nothing of the bundle
    unless this returns. On any BundleError whatever reached the sinks must
    be thrown away.
    """
    data, head_bytes = _read_head(src)
    manifest = parse_manifest(data, kind=kind)
    if checked is not None:
        checked(manifest)
    _read_members(src, manifest, sink or discard, progress, head_bytes)
    return manifest


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


def _read_head(src: BinaryIO) -> tuple[bytes, int]:
    """Steps 1 to 4: the manifest bytes, digest-checked, and how many bytes were read."""
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
        raise manifest_error(f"its length {length} is outside 2..{MAX_MANIFEST_BYTES}")
    data = _read_exact(src, length)
    digest = _read_exact(src, DIGEST_BYTES)
    if len(data) != length or len(digest) != DIGEST_BYTES:
        raise TruncatedBundle()
    if not nacl.bindings.sodium_memcmp(manifest_digest(magic + length_bytes + data), digest):
        raise ManifestDigestError()
    return data, len(MAGIC) + LENGTH.size + length + DIGEST_BYTES


def _read_members(
    src: BinaryIO,
    manifest: Manifest,
    open_sink: Sink,
    progress: Callable[[int], None] | None,
    head_bytes: int,
) -> None:
    """Steps 6 to 8."""
    if progress is not None:
        progress(head_bytes)
    recipients = Recipients(manifest.kind, manifest.recipients)
    team = set(manifest.team)
    for member in manifest.members:
        is_team = member.id in team
        keep = MAX_ENVELOPE_HEADER if recipients.active or is_team else len(ENVELOPE_MAGIC)

        def not_an_envelope(member: Member = member) -> MemberError:
            return MemberError(f"member {member.id} is not an envelope; nothing was imported")

        with open_sink(member) as out:
            copied = copy_member(
                src,
                out,
                length=member.length,
                keep=keep,
                not_an_envelope=not_an_envelope,
                progress=progress,
            )
        if not member_digest_matches(copied.digest, member.digest):
            raise MemberError(
                f"member {member.id} is damaged or has been tampered with; nothing was imported"
            )
        problem = recipients.member(member.id, copied.head, team=is_team)
        if problem is not None:
            raise MemberError(f"{problem}; nothing was imported")
    if src.read(1):
        raise TrailingBundleData()
    problem = recipients.unnamed()
    if problem is not None:
        raise manifest_error(problem)
