"""Team records kept in a reviewer home: read, checked and folded (docs/team.md).

Every team envelope a home holds — a record it made, a record or an
announcement it received — is kept as it came, ciphertext, in the blob store
(reviewer.blobs); state.json knows only its id and the day it was received
(`State.team`). Nothing about a record's author, kind or case is written
outside the envelopes. Reading decrypts them all in memory, builds the book of
signing keys from the announcements and rotations (reviewer.team.build_book),
and verifies each record against it with the day it was received
(crypto.team.verify_record): so a record kept aside because its author's key
was not confirmed, or its case not here yet, is applied on a later read once
it can be, and a colleague removed on a day keeps the records received before
that day.

`read_team` is what every view and every new record starts from;
`receive` sorts the team members of a bundle into kept and not (for import).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field

from crypto import envelope
from crypto.errors import (
    AnnouncementError,
    AnnouncementNoMatch,
    BadSignature,
    CryptoError,
    DecryptError,
    ForgedAuthor,
    NoMatch,
    RecordKeptAside,
    RemovedAuthor,
    TeamRecordError,
)
from crypto.keys import PrivateKey
from crypto.signing import SigningPublicKey
from crypto.team import (
    ANNOUNCEMENT_MAGIC,
    RECORD_MAGIC,
    Announcement,
    TeamRecord,
    UnverifiedRecord,
    open_announcement,
    read_record,
    record_digest,
    verify_record,
)
from reviewer.blobs import BlobStore
from reviewer.state import State
from reviewer.team import Book, Colleague, build_book

#: A team envelope is a record of at most 1 MiB, or an announcement, in an
#: envelope (docs/format.md): anything much larger is refused unread.
MAX_TEAM_ENVELOPE = 2 * 1024 * 1024


@dataclass(frozen=True)
class Stored:
    """One team envelope's content, decrypted in memory and read (not yet verified)."""

    blob: str
    day: str
    frame: bytes = b""
    record: UnverifiedRecord | None = None
    announcement: Announcement | None = None

    @property
    def digest(self) -> str:
        if self.record is None:  # an announcement has no digest: a caller's mistake
            raise TypeError("an announcement is not a record")
        return record_digest(self.record.data, self.record.signature)


@dataclass
class TeamRead:
    """What a home's team envelopes say, for one command (plaintext in memory only)."""

    book: Book
    #: Verified records by case, ready for reviewer.team.fold.
    records: dict[str, list[TeamRecord]] = field(default_factory=dict)
    #: Verified records about no case but the team's register of member cities
    #: (kind `city`), ready for reviewer.team.fold_register.
    register: list[TeamRecord] = field(default_factory=list)
    #: Each valid record's signed frame, by digest (to share it unchanged).
    frames: dict[str, bytes] = field(default_factory=dict)
    #: One line per record kept aside (unknown author or case): applied later.
    aside: list[str] = field(default_factory=list)
    #: One line per stored record that does not verify now.
    refused: list[str] = field(default_factory=list)
    #: One line per stored envelope this home cannot open or read.
    unreadable: list[str] = field(default_factory=list)
    #: Digests and announcements already stored (copies are counted once).
    digests: set[str] = field(default_factory=set)
    announcements: set[tuple[bytes, bytes]] = field(default_factory=set)
    opened: list[Stored] = field(default_factory=list)

    def name(self, key: SigningPublicKey | str | None) -> str:
        """Who a signing key is, as this home knows her: "you", a name, or a fingerprint."""
        if key is None:
            return "nobody"
        if isinstance(key, str):
            key = SigningPublicKey.from_text(key)
        name = self.book.name_of(key)
        if name is None:
            return f"an unknown key ({key.fingerprint})"
        return "you" if name == OWN else name


#: build_book's name for this home's own signing keys.
OWN = "(this home)"


def open_content(data: bytes, private: Sequence[PrivateKey], blob: str, day: str) -> Stored:
    """Decrypt and read one team envelope (DecryptError, TeamRecordError, AnnouncementError)."""
    if len(data) > MAX_TEAM_ENVELOPE:
        raise TeamRecordError("this team envelope is larger than any record")
    content = envelope.decrypt_bytes(data, private)
    if content[:6] == ANNOUNCEMENT_MAGIC[:6]:
        return Stored(blob, day, announcement=open_announcement(content, private))
    if content[:6] == RECORD_MAGIC[:6]:
        return Stored(blob, day, content, record=read_record(content))
    raise TeamRecordError("this envelope holds neither a team record nor an announcement")


def make_book(state: State, own: Iterable[SigningPublicKey], opened: Iterable[Stored],
              day: str) -> Book:
    colleagues = [Colleague(c.name, c.key, c.removed or None) for c in state.reviewers]
    items = list(opened)
    return build_book(
        list(own), colleagues,
        [s.announcement for s in items if s.announcement is not None],
        [s.record for s in items
         if s.record is not None and s.record.document["kind"] == "rotation"],
        day=day,
    )


def read_team(state: State, store: BlobStore, private: Sequence[PrivateKey],
              own: Sequence[SigningPublicKey], day: str) -> TeamRead:
    """Decrypt, read and verify every team envelope the state names."""
    opened: list[Stored] = []
    unreadable: list[str] = []
    for blob, received in state.team.items():
        try:
            opened.append(open_content(store.read_blob(blob), private, blob, received))
        except (CryptoError, OSError) as e:
            unreadable.append(f"{blob}: {e}")
    read = TeamRead(make_book(state, own, opened, day), unreadable=unreadable, opened=opened)
    for item in opened:
        if item.announcement is not None:
            a = item.announcement
            read.announcements.add((a.sender.raw, a.signing.raw))
            continue
        if item.record is None:  # open_content gives a record or an announcement
            continue
        read.digests.add(item.digest)
        if item.record.document["kind"] == "rotation":
            continue
        try:
            record = verify_record(item.record, read.book.known, day=item.day, cases=state.cases)
        except RecordKeptAside as e:
            read.aside.append(str(e))
            continue
        except TeamRecordError as e:
            read.refused.append(f"{item.blob}: {e}")
            continue
        read.frames[record.digest] = item.frame
        if record.case is None:
            read.register.append(record)
        else:
            read.records.setdefault(record.case, []).append(record)
    read.aside.extend(read.book.aside)
    return read


@dataclass
class Received:
    """What a bundle's team members were, one by one (reviewer import's report)."""

    #: Envelopes to keep: member id -> its bytes (ciphertext, as it came).
    keep: dict[str, bytes] = field(default_factory=dict)
    #: The new valid records (applied or held: the fold decides).
    valid: list[TeamRecord] = field(default_factory=list)
    announcements: int = 0
    copies: int = 0
    refused: list[str] = field(default_factory=list)
    aside: list[str] = field(default_factory=list)
    not_for_us: int = 0
    #: Filled by the caller after the fold: new records applied, and held.
    applied: int = 0
    held: int = 0


def _announced_by(author: SigningPublicKey, items: Iterable[Stored]) -> str:
    """For a record kept aside: the X25519 fingerprint that announced its signing key, the
    one a person compares with the colleague before `keys add`."""
    senders = sorted({s.announcement.sender.fingerprint for s in items
                      if s.announcement is not None and s.announcement.signing == author})
    if not senders:
        return ""
    return f"; announced by the key {', '.join(senders)}: compare it, then `keys add` it"


def receive(members: Iterable[tuple[str, bytes]], read: TeamRead, state: State,
            private: Sequence[PrivateKey], own: Sequence[SigningPublicKey], day: str,
            cases: Container[str] | None = None) -> Received:
    """Sort a bundle's team members: what to keep, and one line per one refused.

    Every member is decided on its own: a bad one never costs the others.
    `read` is the home's team as stored; `day` the day of receipt.
    """
    out = Received()
    fresh: list[Stored] = []
    digests = set(read.digests)
    announced = set(read.announcements)
    for member_id, data in members:
        try:
            item = open_content(data, private, member_id, day)
        except (NoMatch, AnnouncementNoMatch):
            out.not_for_us += 1
            continue
        except DecryptError as e:
            out.refused.append(f"a team envelope that does not decrypt (altered): {e}")
            continue
        except AnnouncementError as e:
            out.refused.append(f"a signing key announcement, refused: {e}")
            continue
        except TeamRecordError as e:
            out.refused.append(f"a team record, refused as malformed or altered: {e}")
            continue
        if item.announcement is not None:
            pair = (item.announcement.sender.raw, item.announcement.signing.raw)
            if pair in announced:
                out.copies += 1
                continue
            announced.add(pair)
            out.announcements += 1
            out.keep[member_id] = data
            fresh.append(item)
            continue
        if item.digest in digests:
            out.copies += 1
            continue
        digests.add(item.digest)
        fresh.append(item)
        out.keep[member_id] = data
    book = make_book(state, own, [*read.opened, *fresh], day)
    for item in fresh:
        if item.record is None:
            continue
        doc = item.record.document
        try:
            record = verify_record(item.record, book.known, day=day,
                                   cases=state.cases if cases is None else cases)
        except RecordKeptAside as e:
            out.aside.append(str(e) + _announced_by(item.record.author,
                                                    [*read.opened, *fresh]))
            continue
        except ForgedAuthor as e:
            out.refused.append(f"forged author: {e}")
        except BadSignature as e:
            out.refused.append(f"altered: {e} (record {doc['id']})")
        except RemovedAuthor as e:
            out.refused.append(f"removed colleague: {e}")
        except TeamRecordError as e:
            out.refused.append(f"refused: {e} (record {doc['id']})")
        else:
            if record.kind != "rotation":
                out.valid.append(record)
            continue
        del out.keep[item.blob]
    return out
