"""Writing a bundle: members hashed when added, the manifest checked by the reader's rules.

The writer takes members as paths or openers, hashes them on `add_member`
and copies them on `close`, so memory stays flat and at most one member file
is open at a time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import BinaryIO

from crypto.bundle.format import (
    KIND_REPLIES,
    KIND_SUBMISSIONS,
    KINDS,
    LENGTH,
    MAGIC,
    MAX_ENVELOPE_HEADER,
    MAX_MANIFEST_BYTES,
    BundleError,
    BundleWriteError,
    CaseRecord,
    Manifest,
    Member,
    ReplyRecord,
    SubmissionRecord,
    canonical_json,
    manifest_digest,
)
from crypto.bundle.manifest import parse_manifest
from crypto.bundle.members import Copied, Recipients, copy_member
from crypto.ids import new_id
from crypto.keys import PublicKey

#: A member source: a path, or a callable returning a fresh binary file each time.
Source = str | os.PathLike[str] | Callable[[], BinaryIO]


def _open_source(source: Source) -> BinaryIO:
    if callable(source):
        return source()
    return open(source, "rb")


def _hash_source(source: Source) -> Copied:
    """Length, digest and the first MAX_ENVELOPE_HEADER bytes of a member."""
    with _open_source(source) as f:
        return copy_member(f, None, keep=MAX_ENVELOPE_HEADER)


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
            w.add_team(path_of_team_envelope)      # either kind; returns its member id
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
        self._recipients = Recipients(kind, self.recipients)
        self._cases: list[CaseRecord] = []
        self._replies: list[ReplyRecord] = []
        self._team: list[str] = []
        self._closed = False

    def add_member(self, member_id: str, source: Source) -> Member:
        """Hash one member now; its bytes are copied at close()."""
        return self._add(member_id, source, team=False)

    def add_team(self, source: Source, *, member_id: str | None = None) -> str:
        """Add one team member (an envelope for colleagues, docs/team.md); returns its id.

        The id is random unless given. Its envelope header must be well formed;
        its stanzas are not compared with `recipients` (docs/bundle.md).
        """
        member_id = new_id() if member_id is None else member_id
        self._add(member_id, source, team=True)
        self._team.append(member_id)
        return member_id

    def _add(self, member_id: str, source: Source, *, team: bool) -> Member:
        if member_id in self._sources:
            raise BundleWriteError(f"cannot write the bundle: member {member_id} added twice")
        hashed = _hash_source(source)
        member = Member(member_id, hashed.length, hashed.digest.hex())
        problem = self._recipients.member(member_id, hashed.head, team=team)
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
            tuple(self._team),
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
        self._dst.write(prefix + manifest_digest(prefix))
        for member in manifest.members:

            def not_an_envelope(member: Member = member) -> BundleWriteError:
                return BundleWriteError(
                    f"cannot write the bundle: member {member.id} is not an envelope"
                )

            with _open_source(self._sources[member.id]) as f:
                copied = copy_member(f, self._dst, not_an_envelope=not_an_envelope)
            if copied.length != member.length or copied.digest.hex() != member.digest:
                raise BundleWriteError(
                    f"cannot write the bundle: member {member.id} changed while being written"
                )
        return manifest
