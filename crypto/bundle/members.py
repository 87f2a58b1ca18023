"""A bundle's members: the one copy loop, and the envelope headers they begin with.

The reader and the writer move member bytes through `copy_member` only: it
hashes them, keeps their first bytes, refuses a member that does not begin
with the envelope magic as soon as it can tell, and copies them on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO

from crypto.bundle.format import COPY_CHUNK, KIND_SUBMISSIONS, BundleError, TruncatedBundle
from crypto.bundle.speed import member_hash
from crypto.envelope import MAC_BYTES, MAX_RECIPIENTS, STANZA_BYTES, STREAM_HEADER_BYTES
from crypto.envelope import MAGIC as ENVELOPE_MAGIC
from crypto.keys import KEY_ID_BYTES, PublicKey


@dataclass(frozen=True)
class Copied:
    """What copy_member saw of one member."""

    length: int
    digest: bytes  # BLAKE2b-256, person "refuge-bndl-mb1"
    head: bytes  # its first `keep` bytes (fewer if it is shorter)


def copy_member(
    src: BinaryIO,
    dst: BinaryIO | None,
    *,
    length: int | None = None,
    keep: int = len(ENVELOPE_MAGIC),
    not_an_envelope: Callable[[], BundleError] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Copied:
    """Hash one member from `src`, writing its bytes to `dst` (None: only hash them).

    `length`: read exactly that many bytes (TruncatedBundle if `src` ends
    first), or None: read to the end of `src`. While fewer than `keep` bytes
    are kept, each chunk's first bytes are added to the head and, given
    `not_an_envelope`, its error is raised before the chunk goes further if
    the head is no longer a prefix of the envelope magic. `progress(n)` is
    called with each n bytes copied.
    """
    h = member_hash()
    remaining = length
    copied = 0
    head = b""
    while True:
        if remaining is None:
            chunk = src.read(COPY_CHUNK)
            if not chunk:
                break
        else:
            if not remaining:
                break
            chunk = src.read(min(remaining, COPY_CHUNK))
            if not chunk:
                raise TruncatedBundle()
            remaining -= len(chunk)
        if len(head) < keep:
            head += chunk[: keep - len(head)]
            if not_an_envelope is not None and not ENVELOPE_MAGIC.startswith(
                head[: len(ENVELOPE_MAGIC)]
            ):
                raise not_an_envelope()
        h.update(chunk)
        if dst is not None:
            dst.write(chunk)
        copied += len(chunk)
        if progress is not None:
            progress(len(chunk))
    return Copied(copied, h.digest(), head)


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


class Recipients:
    """The manifest's `recipients` of a submissions bundle, checked against the members.

    Each member's envelope header must name only listed keys; once every member
    is read, every listed key must have been named (docs/bundle.md, steps 6
    and 8). Replies bundles are not checked this way (see docs/bundle.md).
    """

    def __init__(self, kind: str, recipients: Iterable[PublicKey]) -> None:
        self.active = kind == KIND_SUBMISSIONS
        self._listed = {k.key_id: k for k in recipients}
        self._named: set[bytes] = set()

    def member(self, member_id: str, head: bytes, *, team: bool = False) -> str | None:
        """What is wrong with this member's stanzas, or None.

        A team member, in either kind of bundle, must begin with a well-formed
        envelope header, but its stanzas name colleagues' keys, which are not
        compared with `recipients` (docs/bundle.md).
        """
        if not self.active and not team:
            return None
        ids = stanza_key_ids(head)
        if ids is None:
            what = "team member" if team else "member"
            return f"{what} {member_id} does not begin with a well-formed envelope header"
        if team:
            return None
        if any(i not in self._listed for i in ids):
            return f"member {member_id} is sealed to a key the manifest does not list"
        self._named.update(ids)
        return None

    def unnamed(self) -> str | None:
        """A listed recipient no member's stanza names, as a sentence, or None.

        A bundle with no members but team members has nothing sealed to the
        listed keys to compare with: not checked.
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
