"""The reviewer's home directory: keys, stored envelopes, bookkeeping, the index.

Layout (docs/reviewer.md, "What is kept on disk"):

    keys/key-0001.key …   key files (crypto.keyfile), the highest number current
    packs/<id>            the envelopes of one import, back to back (reviewer.packs)
    blobs/<id>            one envelope a file: the reviewer's own verification
                          records and replies, and envelopes imported by
                          versions before packs (still read)
    state.json            bookkeeping only: ids, days, which blob is what,
                          where each packed blob lies (pack, offset, length),
                          exported flags, the reviewer keys the last bundle
                          named, and the colleagues' keys a person confirmed
                          (reviewer.trust: the only keys besides the home's
                          own that anything is sealed to)
    index.env             one envelope sealed to the reviewer's own keys:
                          name, profession, country, urgency, attachment
                          count, verification state and the answers' text
                          (for the search) per case, so `list` decrypts
                          one object instead of every case
    seen.env              one envelope sealed to the reviewer's own keys:
                          which cases this reviewer opened, and when
                          (reviewer.caselist: the new/updated marks)
    team.env              one envelope sealed to the reviewer's own keys: every
                          case's team state, assignee, conflicts and history as
                          last folded, with a digest of what they were made from
                          (reviewer.teamview; made again when that changes)
    tmp/                  the pack of an import in progress (ciphertext only)
    lock                  empty; held by commands that change state.json

`Home` holds the parts by what they hold (reviewer.keyring: the key files;
reviewer.blobs: the stored envelopes; reviewer.index: the index; reviewer.state:
the bookkeeping, typed) and gives the commands their verbs: import a bundle,
add a verification or a reply, edit or withdraw a reply not yet exported,
export replies, confirm or remove a colleague's key. No command touches
state.json's JSON: reviewer.state alone maps it.

Nothing here is applicant or reviewer plaintext except in the envelopes.
The bookkeeping is written with atomic_output, so a crash leaves the old or
the new state, and envelopes are on disk (synced) before the state names them.
Every read of a stored envelope goes through `BlobStore.open_blob` /
`read_blob` (`Home.store(state)`), which find it in a pack or in blobs/ and
never hand out a byte outside it.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from crypto import envelope
from crypto.atomic import atomic_output
from crypto.envelope import MAX_RECIPIENTS
from crypto.errors import CryptoError, DocumentError, NoMatch
from crypto.keys import PublicKey
from crypto.params import Argon2Limits
from crypto.signing import SigningKey
from reviewer import state as state_json
from reviewer.blobs import BlobStore, new_id, seal_bytes
from reviewer.errors import (
    BadInput,
    BlankText,
    HomeBusy,
    KeyProblem,
    NotFound,
    ReplyFinal,
    ReviewerError,
    TextTooLong,
)
from reviewer.index import UNVERIFIED, AnswersFacts, Index
from reviewer.keyring import KeyRing, Keys
from reviewer.packs import PackWriter, read_range, sweep
from reviewer.state import (
    Case,
    ConfirmedKey,
    Reply,
    State,
    StateError,
    Submission,
    UnknownVersion,
    Verification,
)
from reviewer.trust import unconfirmed

# The bundle, the checks of an import and the team records are imported by the
# verbs that use them (`# here:`): `reviewer list` of a home without team
# records needs none of them. At the top, with reviewer.cli's own, they cost
# every command about 60 ms of CPU at its start (`python -c "import reviewer.cli"`,
# medians of 21 alternated runs on 2026-12-02: 0.30 s, 0.24 s without them;
# docs/performance.md, "The command's start").
if TYPE_CHECKING:
    from crypto.bundle import CaseRecord, Manifest, Member, SubmissionRecord
    from crypto.team import TeamRecord
    from reviewer.checks import Checks
    from reviewer.team import CaseView, Register
    from reviewer.teamstore import Received, TeamRead
    from reviewer.teamview import CaseTeam, Namer, Views

__all__ = ["RECOMMENDATIONS", "RISKS", "TEAM_STATES", "UNVERIFIED", "Home", "ImportResult",
           "ImportedCase", "Keys", "new_id", "today"]

RISKS = ("low", "medium", "high", "critical")
RECOMMENDATIONS = ("proceed", "more-info", "refer", "decline")
#: The states a team record's state change may set (docs/team.md, kind `state`):
#: crypto.team.STATES, spelled with these names so that a command need not import
#: crypto.team (tests/reviewer/test_start.py checks that the two agree).
TEAM_STATES = (UNVERIFIED, *RECOMMENDATIONS)


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def _fits_one_record(text: str) -> None:
    """Refuse a text too long for one team record, with the limit in the sentence."""
    from crypto.team import MAX_RECORD_BYTES  # here: team records only

    # The most a note or a reason may take in its record (JSON-escaped), leaving room in
    # the record's MAX_RECORD_BYTES for its other fields and up to 1,000 parents.
    max_text_bytes = MAX_RECORD_BYTES - 64 * 1024
    if len(json.dumps(text, ensure_ascii=False).encode("utf-8")) > max_text_bytes:
        raise TextTooLong(
            "the text is too long for one record (at most about"
            f" {max_text_bytes // 1024:,} KiB); split it into several notes; nothing was saved"
        )


@dataclass(frozen=True)
class ImportedCase:
    """A case an import added to: new, or updated with a new submission."""

    case: str
    name: str  # from the index; "" when not readable with this home's keys
    new: bool


def _no_team_members() -> Received:
    """An import's report on team members before it has read any."""
    from reviewer.teamstore import Received  # here: `reviewer import` only

    return Received()


@dataclass
class ImportResult:
    new_cases: int = 0
    new_followups: int = 0
    new_applications: int = 0
    already: int = 0
    unreadable: int = 0
    #: Reviewer keys the bundle names that this home does not trust: reported,
    #: never sealed to.
    unconfirmed: list[PublicKey] = field(default_factory=list)
    #: For a home made before confirmed keys (migrated by this import): the keys
    #: its earlier bundles named that it does not trust (it used to seal to them).
    earlier_unconfirmed: list[PublicKey] = field(default_factory=list)
    #: The new and updated cases, in the bundle's order.
    cases: list[ImportedCase] = field(default_factory=list)
    #: What the bundle's team members were (reviewer.teamstore.Received).
    team: Received = field(default_factory=_no_team_members)
    #: A colleague's outbox (a replies bundle): its replies are for applicants, ignored.
    replies_bundle: bool = False
    replies_ignored: int = 0


@dataclass(frozen=True)
class Outbox:
    """What an outbox bundle held: replies for applicants, team envelopes for colleagues."""

    replies: int
    team: int


@dataclass
class Checked:
    """What `Home.check` found: envelopes opened, and one line per one that cannot be read."""

    opened: int = 0
    not_ours: int = 0  # submissions sealed to other reviewers' keys only (expected)
    problems: list[str] = field(default_factory=list)
    aside: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)



class Home:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.keys = KeyRing(path)
        self.index = Index(path / "index.env")
        self.blobs_dir = path / "blobs"
        self.packs_dir = path / "packs"
        self.state_path = path / "state.json"
        self.tmp = path / "tmp"
        self.lock_path = path / "lock"
        self._team_cache: tuple[object, Keys, TeamRead] | None = None

    # --- keys ---------------------------------------------------------------

    def require(self) -> None:
        self.keys.require()

    def own_public_keys(self) -> list[PublicKey]:
        """Every key of this reviewer, newest first."""
        return self.keys.public_keys()

    def create_key(self, passphrase: str, limits: Argon2Limits) -> PublicKey:
        for d in (self.path, self.blobs_dir, self.packs_dir, self.tmp):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600))
        return self.keys.create(passphrase, limits)

    def unlock(self, passphrase: str) -> Keys:
        """Open every key file this passphrase opens; at least one must.

        A key file made before signing keys is upgraded here, with the home held.
        """
        return self.keys.unlock(passphrase, hold=self.lock)

    # --- state --------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the home for a command that changes state.json.

        Without it two commands could each save a state the other never saw
        (one's cases lost), and an import's orphan sweep could remove the pack
        another import has renamed into place but not yet named. A second
        command fails at once with a clear message instead of waiting.
        """
        self.require()
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise HomeBusy(
                    f"another reviewer command is changing {self.path}; try again when it"
                    " has finished"
                ) from None
            yield
        finally:
            os.close(fd)  # releases the lock

    def load_state(self) -> State:
        """The bookkeeping, checked (an empty state for a home with no state yet)."""
        self.require()
        try:
            data = self.state_path.read_bytes()
        except FileNotFoundError:
            return State()
        except OSError as e:
            raise ReviewerError(f"{self.state_path} is damaged: {e}") from None
        try:
            return state_json.parse(data)
        except UnknownVersion:
            raise ReviewerError(f"{self.state_path} was written by an unknown version") from None
        except StateError as e:
            raise ReviewerError(f"{self.state_path} is damaged: {e}") from None

    def save_state(self, state: State) -> None:
        with atomic_output(self.state_path, overwrite=True) as out:
            out.write(state_json.dump(state))

    def upgrade_state(self) -> bool:
        """Write a state read from an older version back in the current one.

        False if another command holds the home: it writes the new version itself.
        """
        try:
            with self.lock():
                self.save_state(self.load_state())
        except HomeBusy:
            return False
        return True

    def store(self, state: State) -> BlobStore:
        """The stored envelopes, as `state` names them."""
        return BlobStore(self.path, state.packs)

    def resolve_case(self, state: State, prefix: str) -> str:
        prefix = prefix.strip().lower()
        if not prefix or any(c not in "0123456789abcdef" for c in prefix):
            raise NotFound("a case id is made of hex digits (0-9, a-f)")
        matches: list[str] = [c for c in state.cases if c.startswith(prefix)]
        if not matches:
            raise NotFound(f"no case starts with {prefix!r}")
        if len(matches) > 1:
            raise NotFound(f"{len(matches)} cases start with {prefix!r}; give more digits")
        return matches[0]

    # --- the index ----------------------------------------------------------

    def fresh_index(
        self, state: State, keys: Keys, known: Mapping[str, AnswersFacts] | None = None
    ) -> dict[str, Any]:
        """The index, with stale or missing entries rebuilt (and saved if any were)."""
        return self.index.fresh(state, self.store(state), keys, self.own_public_keys(), known)

    # --- trusted keys (reviewer.trust) ----------------------------------------

    def trusted_keys(self, state: State) -> list[PublicKey]:
        """The home's own keys (newest first), then the confirmed colleague keys."""
        return [*self.own_public_keys(), *(c.key for c in state.active_reviewers())]

    def unconfirmed_named(self, state: State) -> list[PublicKey]:
        """Keys the last imported bundle named that this home does not trust."""
        return unconfirmed(state.named_keys(), self.trusted_keys(state))

    def reviewer_recipients(self, state: State) -> list[PublicKey]:
        """Who records and replies are sealed to: the trusted keys, never a bundle's."""
        keys: list[PublicKey] = []
        seen: set[bytes] = set()
        for key in self.trusted_keys(state):
            if key.key_id not in seen:
                seen.add(key.key_id)
                keys.append(key)
        # `keys add` keeps own and confirmed keys within the limit; this cut
        # only matters for a home with more own keys than an envelope holds.
        return keys[:MAX_RECIPIENTS]

    def confirm_key(self, key: PublicKey, name: str, keys: Keys | None = None) -> ConfirmedKey:
        """Record a colleague's key as confirmed (the caller had a person compare it).

        With `keys`, this home's signing key is announced to her (docs/team.md,
        "Binding the signing key"): the announcement, in an envelope to her key
        alone, waits in the outbox for the next `export-replies`.
        """
        with self.lock():
            state = self.load_state()
            confirmed = state.reviewers
            if any(key == own for own in self.own_public_keys()):
                raise ReviewerError("that is one of this home's own keys; it is always trusted")
            for c in confirmed:
                if c.key == key and c.removed:
                    raise ReviewerError(
                        f"that key was confirmed as '{c.name}' and removed on {c.removed};"
                        " a removed key is not trusted again (its holder makes a new key)"
                    )
                if c.key == key:
                    raise ReviewerError(f"that key is already confirmed as '{c.name}'")
                if c.name == name:
                    raise ReviewerError(
                        f"a confirmed key is already named '{name}'; choose another name"
                    )
            if len(self.own_public_keys()) + len(state.active_reviewers()) >= MAX_RECIPIENTS:
                raise ReviewerError(
                    f"an envelope holds at most {MAX_RECIPIENTS} keys, this home's own"
                    " included; remove a confirmed key first"
                )
            added = ConfirmedKey(name, key, today())
            state = state.with_reviewers([*confirmed, added])
            if keys is not None and keys.signing:
                from crypto.team import seal_announcement  # here: team records only

                announcement = seal_announcement(keys.private[0], keys.signing[0], key)
                sealed = envelope.encrypt_bytes(announcement, [key])
                state = state.with_outbox([self._write_loose(state, sealed)])
            self.save_state(state)
            return added

    def unconfirm_key(self, wanted: str) -> list[ConfirmedKey]:
        """Stop trusting the confirmed keys with this name or fingerprint; those removed.

        The colleague stays in the state with the day of removal: her team
        records received before that day stay in the history, later ones are
        refused, and nothing more is sealed to her.
        """
        wanted = wanted.strip()
        compact = wanted.replace(" ", "").lower()
        with self.lock():
            state = self.load_state()
            confirmed = state.reviewers
            gone = [
                c for c in confirmed
                if c.active and (c.name == wanted
                                 or c.key.fingerprint.replace(" ", "") == compact)
            ]
            if not gone:
                if any(k.fingerprint.replace(" ", "") == compact for k in self.own_public_keys()):
                    raise ReviewerError("that is one of this home's own keys; it cannot be removed")
                raise NotFound(f"no confirmed key is named or has the fingerprint {wanted!r}")
            day = today()
            removed = [replace(c, removed=day) for c in gone]
            self.save_state(state.with_reviewers(
                removed[gone.index(c)] if c in gone else c for c in confirmed
            ))
            return removed

    # --- verification records and replies -----------------------------------

    def add_verification(self, case_id: str, record: dict[str, Any], keys: Keys) -> State:
        """Seal a verification record to the trusted keys and append it to the case.

        `record` is the document (crypto.documents); the state saved is returned.
        """
        with self.lock():
            state = self.load_state()
            blob = self.store(state).seal_json(record, self.reviewer_recipients(state))
            state = state.with_verification(case_id, Verification(blob, str(record["day"])))
            # The same decision as a team record, for the colleagues (docs/team.md).
            from crypto.team import KIND_FIELDS  # here: team records only

            body = {name: str(record[name]) for name in KIND_FIELDS["verification"]}
            state = self._new_records(state, keys, case_id, [("verification", body)])
            self.save_state(state)
        self.fresh_index(state, keys)
        return state

    def add_reply(self, case_id: str, doc: dict[str, Any]) -> State:
        """Seal a reply to the applicant and the trusted keys; it waits for export.

        `doc` is the reply document (crypto.documents); the state saved is returned.
        """
        with self.lock():
            state = self.load_state()
            blob = self.store(state).seal_json(doc, self._reply_recipients(state, case_id))
            state = state.with_reply(
                case_id, Reply(str(doc["reply"]), str(doc["day"]), blob, exported=False)
            )
            self.save_state(state)
        return state

    def edit_reply(self, case_id: str, reply_id: str, text: str) -> State:
        """Replace the text of a reply waiting in the outbox; the state saved is returned.

        The reply keeps its id and its place, is dated today and sealed afresh
        (to the applicant and the trusted keys, as `add_reply` does); the old
        envelope is deleted. ReplyFinal if the reply was exported already;
        ReviewerError, nothing changed, for a text the case page would refuse.
        """
        text = text.strip()
        if not text:
            raise ReviewerError("the reply is empty; nothing was saved (withdraw it instead)")
        from crypto import documents  # here: only an edited reply is checked again

        doc = {"format": documents.REPLY_FORMAT, "version": documents.REPLY_VERSION, "case": case_id,
               "reply": reply_id, "day": today(), "text": text}
        try:  # what the applicant's case page will accept (docs/format.md, "Documents")
            documents.parse_reply(documents.encode(doc))
        except DocumentError as e:
            raise ReviewerError(f"cannot save this reply: {e}; nothing was saved") from None
        with self.lock():
            state = self.load_state()
            old = self._outbox_reply(state, case_id, reply_id)
            store = self.store(state)
            blob = store.seal_json(doc, self._reply_recipients(state, case_id))
            state = state.with_reply_blob(case_id, reply_id, blob, str(doc["day"]))
            self.save_state(state)
            store.remove_loose(old.blob)
        return state

    def withdraw_reply(self, case_id: str, reply_id: str) -> State:
        """Remove a reply waiting in the outbox, and its envelope; the state saved is returned.

        ReplyFinal if the reply was exported already.
        """
        with self.lock():
            state = self.load_state()
            old = self._outbox_reply(state, case_id, reply_id)
            state = state.without_reply(case_id, reply_id)
            self.save_state(state)
            self.store(state).remove_loose(old.blob)
        return state

    @staticmethod
    def _outbox_reply(state: State, case_id: str, reply_id: str) -> Reply:
        """The reply, if it still waits for export (NotFound, ReplyFinal otherwise)."""
        case = state.case(case_id)
        reply = next((r for r in case.replies if r.id == reply_id), None)
        if reply is None:
            raise NotFound(f"case {case_id} has no reply {reply_id!r}")
        if reply.exported:
            raise ReplyFinal(reply.exported_on)
        return reply

    def _reply_recipients(self, state: State, case_id: str) -> list[PublicKey]:
        """Who a reply is sealed to: the applicant, then the trusted reviewer keys."""
        applicant = PublicKey.from_text(state.cases[case_id].reply_key)
        reviewers = [k for k in self.reviewer_recipients(state) if k.key_id != applicant.key_id]
        return [applicant, *reviewers][:MAX_RECIPIENTS]

    def export_replies(self, path: Path, *, everything: bool, keys: Keys | None = None) -> int:
        """Write the outbox bundle (`export_outbox`); the number of replies in it."""
        return self.export_outbox(path, everything=everything, keys=keys).replies

    def export_outbox(self, path: Path, *, everything: bool,
                      keys: Keys | None = None) -> Outbox:
        """Write one replies bundle: the replies not yet exported, for the applicants, and
        every team envelope not yet sent, for the colleagues (its `team` members).

        A reply becomes final here, so here (with `keys`) its `reply` team record
        is made: colleagues see the text the applicant was told, never a draft
        that was edited or withdrawn. Without `keys` the replies go out without
        one (a caller that has the keys passes them). `everything`: replies
        already exported too, every team envelope stored, and (with `keys`) a
        fresh announcement to every confirmed colleague. Nothing is written
        (and nothing marked) when there is nothing to send.
        """
        from crypto.bundle import BundleWriter  # here: only an export writes a bundle
        from crypto.team import seal_announcement  # here: team records only

        with self.lock():
            state = self.load_state()
            pending = [
                (case_id, reply)
                for case_id, case in state.cases.items()
                for reply in case.replies
                if everything or not reply.exported
            ]
            store = self.store(state)
            if keys is not None:
                for case_id, reply in pending:
                    if reply.exported:
                        continue
                    try:
                        text = str(store.open_json(reply.blob, keys).get("text", ""))
                    except (CryptoError, BadInput):
                        continue  # not readable with these keys: it goes out without a record
                    if text.strip():
                        state = self._new_records(state, keys, case_id, [
                            ("reply", {"reply": reply.id, "text": text})])
                if everything and keys.signing:
                    state = state.with_outbox(self._write_loose(state, envelope.encrypt_bytes(
                        seal_announcement(keys.private[0], keys.signing[0], c.key), [c.key]))
                        for c in state.active_reviewers())
            team = list(dict.fromkeys(
                [*state.team_outbox, *(state.team if everything else ())]))
            if not pending and not team:
                return Outbox(0, 0)
            store = self.store(state)
            with atomic_output(path) as out:
                writer = BundleWriter(
                    out, "replies", created=today(), recipients=self.reviewer_recipients(state)
                )
                for case_id, reply in pending:
                    writer.add_member(reply.blob, functools.partial(store.open_blob, reply.blob))
                    writer.add_reply(reply.id, case_id, reply.day, reply.blob)
                for blob in team:  # a random member id: nothing links two bundles' members
                    writer.add_team(functools.partial(store.open_blob, blob))
                writer.close()
            sent = set(state.team_outbox)
            state = state.with_exported((reply.id for _, reply in pending), today())
            self.save_state(state.with_sent(sent))
            for blob in sent - set(state.team):  # announcements, shares: sent, not kept
                store.remove_loose(blob)
            return Outbox(len(pending), len(team))

    # --- team records (docs/team.md; reviewer.teamstore, reviewer.teamview) ----

    def _write_loose(self, state: State, sealed: bytes, blob: str | None = None) -> str:
        """Write one envelope's bytes as a loose blob (synced); its id."""
        blob = blob or new_id()
        store = self.store(state)
        self.blobs_dir.mkdir(mode=0o700, exist_ok=True)
        with atomic_output(store.loose_path(blob)) as out:
            out.write(sealed)
        return blob

    def team(self, state: State, keys: Keys) -> TeamRead:
        """Every team envelope of `state`, decrypted, read and verified (kept for this
        state and these keys: a command or a desk request reads them once)."""
        # Cases are only ever added: their number says whether a case arrived.
        cache_key = (tuple(state.team.items()), state.reviewers, len(state.cases), today())
        cached = self._team_cache
        if cached is not None and cached[0] == cache_key and cached[1] is keys:
            return cached[2]
        from reviewer.teamstore import read_team  # here: team records only

        read = read_team(state, self.store(state), keys.private,
                         [k.public_key for k in keys.signing], today())
        self._team_cache = (cache_key, keys, read)
        return read

    def _views(self, state: State, keys: Keys) -> tuple[TeamRead, dict[str, CaseView]]:
        from reviewer.team import Book, fold  # here: team records only
        from reviewer.teamstore import TeamRead

        if not state.team:
            return TeamRead(Book((), (), ())), {}
        read = self.team(state, keys)
        return read, {case: fold(case, records) for case, records in read.records.items()}

    def register(self, state: State, keys: Keys) -> Register:
        """The team's register of member cities, folded from its `city` records."""
        from reviewer.team import fold_register  # here: team records only

        if not state.team:
            return fold_register(())
        return fold_register(self.team(state, keys).register)

    def add_register_record(self, keys: Keys,
                            make: Callable[[Register], Mapping[str, Any]]) -> State:
        """A `city` record (add or remove), on the register's heads, into the outbox.

        `make` is given the register as folded under the home's lock and returns
        the record's body, or raises to refuse (nothing is made). The kept case
        views stay current: a city record changes no case.
        """
        from crypto.team import new_record, seal_record, sign_record  # here: team records only

        signing = self._signing(keys)
        with self.lock():
            state = self.load_state()
            cached = self._cached_views(state, keys) if state.team else None
            register = self.register(state, keys)
            body = make(register)
            recipients = self.reviewer_recipients(state)
            doc = new_record(kind="city", case=None, author=signing.public_key,
                             parents=register.heads, body=body,
                             time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
            frame = sign_record(doc, signing, recipients)
            blob = self._write_loose(state, seal_record(frame, recipients))
            state = state.with_team({blob: today()}, outbox=[blob])
            if cached is not None:
                self._save_views(state, keys, cached)
            self.save_state(state)
        return state

    def case_records(self, state: State, keys: Keys) -> tuple[dict[str, CaseView], Namer]:
        """Every case's fold, with its records (the views keep only their lines), and
        who a signing key is as this home knows her."""
        if not state.team:
            return {}, lambda key: "nobody" if key is None else "a colleague"
        read, views = self._views(state, keys)
        return views, read.name

    def team_views_of(self, state: State, keys: Keys) -> dict[str, CaseTeam]:
        """Every case with team records, named (nothing decrypted if the home has none).

        Kept in team.env (reviewer.teamview): when nothing they depend on has
        changed, one envelope is decrypted instead of every team record.
        """
        if not state.team:
            return {}
        return self._named_views(state, keys).cases

    def _views_key(self, state: State, keys: Keys) -> str:
        from reviewer.teamview import views_key  # here: team records only

        return views_key([
            sorted(state.team.items()),
            [(c.name, c.key.to_text(), c.removed) for c in state.reviewers],
            len(state.cases), today(), sorted(k.public_key.to_text() for k in keys.signing),
        ])

    def _cached_views(self, state: State, keys: Keys) -> Views | None:
        from reviewer.teamview import load_views  # here: team records only

        with contextlib.suppress(OSError, CryptoError):
            data = envelope.decrypt_bytes((self.path / "team.env").read_bytes(), keys.private)
            return load_views(data, self._views_key(state, keys))
        return None

    def _save_views(self, state: State, keys: Keys, views: Views) -> None:
        from reviewer.teamview import dump_views  # here: team records only

        # A cache: if it cannot be written, the next command makes it again.
        with contextlib.suppress(OSError), atomic_output(self.path / "team.env",
                                                         overwrite=True) as out:
            seal_bytes(out, dump_views(self._views_key(state, keys), views),
                       self.own_public_keys()[:MAX_RECIPIENTS])

    def _named_views(self, state: State, keys: Keys) -> Views:
        from reviewer.teamview import Views, named_view  # here: team records only

        cached = self._cached_views(state, keys)
        if cached is not None:
            return cached
        read, folded = self._views(state, keys)
        views = Views({case: named_view(view, read.name) for case, view in folded.items()},
                      {case: list(view.heads) for case, view in folded.items()})
        self._save_views(state, keys, views)
        return views

    def team_views(self, keys: Keys) -> Mapping[str, CaseTeam]:
        """Every case with team records, as the case list and the desk show them."""
        return self.team_views_of(self.load_state(), keys)

    def case_team(self, case_id: str, keys: Keys) -> CaseTeam:
        """One case's state, assignee, conflicts and history (NotFound for no such case)."""
        from reviewer.teamview import EMPTY  # here: team records only

        state = self.load_state()
        state.case(case_id)
        return self.team_views_of(state, keys).get(case_id, EMPTY)

    def colleague_names(self) -> list[str]:
        """The confirmed colleagues (not removed), for menus."""
        return [c.name for c in self.load_state().active_reviewers()]

    def add_note(self, case_id: str, text: str, keys: Keys) -> None:
        """A note (an internal comment, multi-line) on a case, for the colleagues."""
        if not text.strip():
            raise BlankText("the note is empty; nothing was saved")
        _fits_one_record(text)
        self.add_records(case_id, [("note", {"text": text})], keys)

    def set_state(self, case_id: str, state: str, reason: str, keys: Keys) -> None:
        """A decision on the case's state, with its reason (it resolves a state conflict)."""
        from crypto.team import STATES  # here: team records only

        if state not in STATES:
            raise ReviewerError("the state is one of " + ", ".join(STATES))
        if not reason.strip():
            raise BlankText("the reason is empty: say why; nothing was saved")
        _fits_one_record(reason)
        self.add_records(case_id, [("state", {"state": state, "reason": reason})], keys)

    def assign(self, case_id: str, who: str | None, keys: Keys) -> None:
        """Assign the case: to a confirmed colleague by name, to "me", or to nobody (None)."""
        if who is None:
            assignee: str | None = None
        elif who == "me":
            assignee = self._signing(keys).public_key.to_text()
        else:
            state = self.load_state()
            names = [c.name for c in state.active_reviewers()]
            if who not in names:
                choices = ", ".join(["me", *names]) + ", or nobody"
                raise NotFound(f"no confirmed colleague is named {who!r}; the choices: {choices}")
            read = self.team(state, keys) if state.team else None
            known = [k for k in (read.book.known if read else ()) if k.name == who]
            if not known:
                raise ReviewerError(
                    f"{who}'s signing key has not reached this home yet (it comes with the"
                    " announcement in her next outbox bundle); assign her after importing it"
                )
            assignee = known[-1].key.to_text()
        self.add_records(case_id, [("assignment", {"assignee": assignee})], keys,
                         names={assignee: who} if who not in (None, "me") and assignee else None)

    def add_records(self, case_id: str, made: Sequence[tuple[str, Mapping[str, Any]]],
                    keys: Keys, names: Mapping[str, str] | None = None) -> State:
        """Make team records on a case, each after the one before; the state saved."""
        with self.lock():
            state = self.load_state()
            state.case(case_id)
            state = self._new_records(state, keys, case_id, made, names)
            self.save_state(state)
        return state

    @staticmethod
    def _signing(keys: Keys) -> SigningKey:
        if not keys.signing:
            raise KeyProblem("this home's key file holds no signing key; unlock it again")
        return keys.signing[0]

    def _new_records(self, state: State, keys: Keys, case_id: str,
                     made: Sequence[tuple[str, Mapping[str, Any]]],
                     names: Mapping[str, str] | None = None) -> State:
        """`state` with new records (signed, sealed, stored, in the outbox); not saved.

        Each names as parents the heads of the case as this home folds it, the
        next one the record before it. Signed with the current signing key,
        sealed to this home's keys and every confirmed colleague's. `names`:
        signing key text -> name, for an assignment's assignee in the views.

        When team.env is current it gives the heads, and is brought up to date
        with the new records (`after_own`) instead of being made again.
        """
        from crypto.team import (  # here: team records only
            KnownAuthor,
            new_record,
            read_record,
            seal_record,
            sign_record,
            verify_record,
        )
        from reviewer.teamview import EMPTY, after_own

        signing = self._signing(keys)
        cached = self._cached_views(state, keys) if state.team else None
        if cached is not None:
            parents: list[str] = list(cached.heads.get(case_id, []))
        else:
            _read, views = self._views(state, keys)
            view = views.get(case_id)
            parents = list(view.heads) if view is not None else []
        own = {k.public_key.to_text() for k in keys.signing}
        known = dict(names or {})

        def name(key: str | None) -> str:
            if key is None:
                return "nobody"
            return "you" if key in own else known.get(key, "a colleague")

        recipients = self.reviewer_recipients(state)
        blobs: dict[str, str] = {}
        made_records: list[TeamRecord] = []
        for kind, body in made:
            doc = new_record(kind=kind, case=case_id, author=signing.public_key,
                             parents=parents, body=body,
                             time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
            frame = sign_record(doc, signing, recipients)
            blobs[self._write_loose(state, seal_record(frame, recipients))] = today()
            made_records.append(verify_record(
                read_record(frame), [KnownAuthor("you", signing.public_key)], day=today()))
            parents = [str(doc["id"])]
        new_state = state.with_team(blobs, outbox=blobs)
        if cached is not None and made_records:
            named = cached.cases.get(case_id, EMPTY)
            for record in made_records:
                named = after_own(named, record, name)
            cached.cases[case_id] = named
            cached.heads[case_id] = [made_records[-1].id]
            self._save_views(new_state, keys, cached)
        return new_state

    def receive_team(self, members: Iterable[tuple[str, bytes]], keys: Keys) -> Received:
        """Keep a bundle's team members that are for this home (envelopes as they came)."""
        with self.lock():
            state = self.load_state()
            state, received = self._receive_team(state, members, keys)
            self.save_state(state)
        return received

    def _receive_team(self, state: State, members: Iterable[tuple[str, bytes]], keys: Keys,
                      *, loose: bool = True) -> tuple[State, Received]:
        """`state` with the team members kept (not saved), and what each was.

        `loose`: write the kept envelopes as loose blobs; otherwise the caller
        keeps them where they already are (the import's pack, by member id).
        """
        from reviewer.team import Book, fold, fold_register  # here: team records only
        from reviewer.teamstore import Received, TeamRead, receive

        members = list(members)
        if not members:
            return state, Received()
        day = today()
        own = [k.public_key for k in keys.signing]
        read = self.team(state, keys) if state.team else TeamRead(Book((), (), ()))
        received = receive(members, read, state, keys.private, own, day)
        kept: dict[str, str] = {}
        if loose:
            stored = self.store(state).stored_ids()
            for member_id, data in received.keep.items():
                # A member id already stored (another bundle's) gets a new one.
                blob = self._write_loose(state, data, None if member_id in stored else member_id)
                stored.add(blob)
                kept[blob] = day
        else:
            kept = dict.fromkeys(received.keep, day)
        state = state.with_team(kept)
        # Folded with what was here (the new envelopes may not be readable from the
        # store yet: an import's pack is named by the state only once it is saved).
        for case in {r.case for r in received.valid if r.case is not None}:
            new = [r for r in received.valid if r.case == case]
            view = fold(case, [*read.records.get(case, []), *new])
            held = {h.record.id for h in view.held}
            applied = {r.id for r in view.history}
            received.held += sum(r.id in held for r in new)
            received.applied += sum(r.id in applied for r in new)
        cities = [r for r in received.valid if r.case is None]
        if cities:
            register = fold_register([*read.register, *cities])
            held = {h.record.id for h in register.held}
            received.held += sum(r.id in held for r in cities)
            received.applied += sum(r.id not in held for r in cities)
        return state, received

    def announce_rotation(self, keys: Keys) -> int:
        """After `init --rotate`: tell the colleagues this home's new signing key.

        A `rotation` record signed by the previous signing key names the new one
        and the new X25519 key (with the new key's binding), sealed to this home
        and every confirmed colleague; and an announcement from the new key to
        each colleague. Both wait in the outbox. The colleagues still confirm the
        new X25519 key by fingerprint before anything is sealed to it. The number
        of colleagues told (0 when the passphrase opens only one key file).
        """
        if len(keys.signing) < 2 or len(keys.private) < 2:
            return 0
        from crypto.team import (  # here: team records only
            new_record,
            rotation_binding,
            seal_announcement,
            seal_record,
            sign_record,
        )

        new_signing, old_signing = keys.signing[0], keys.signing[1]
        new_key = keys.private[0]
        with self.lock():
            state = self.load_state()
            colleagues = state.active_reviewers()
            if not colleagues:
                return 0
            recipients = self.reviewer_recipients(state)
            doc = new_record(
                kind="rotation", case=None, author=old_signing.public_key, parents=[],
                body={"new_author": new_signing.public_key.to_text(),
                      "new_key": new_key.public_key.to_text(),
                      "binding": rotation_binding(new_signing, new_key.public_key).hex()},
                time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
            frame = sign_record(doc, old_signing, recipients)
            blob = self._write_loose(state, seal_record(frame, recipients))
            state = state.with_team({blob: today()}, outbox=[blob])
            state = state.with_outbox(
                self._write_loose(state, envelope.encrypt_bytes(
                    seal_announcement(new_key, new_signing, c.key), [c.key]))
                for c in colleagues)
            self.save_state(state)
            return len(colleagues)

    def share(self, name: str, case_ids: Sequence[str], keys: Keys) -> int:
        """Re-seal the chosen cases' team records (every case's and the register's, with none
        chosen) to one confirmed colleague's key, into the outbox: frames and signatures unchanged, so
        she verifies each under its author's key. The number of records shared."""
        from crypto.team import seal_record  # here: team records only

        with self.lock():
            state = self.load_state()
            colleague = next((c for c in state.active_reviewers() if c.name == name), None)
            if colleague is None:
                names = ", ".join(c.name for c in state.active_reviewers()) or "none yet"
                raise NotFound(f"no confirmed colleague is named {name!r} (confirmed: {names})")
            for case_id in case_ids:
                state.case(case_id)
            read, views = self._views(state, keys)
            shared: list[str] = []
            for case_id in case_ids or sorted(views):
                view = views.get(case_id)
                if view is None:
                    continue
                for record in [*view.history, *(h.record for h in view.held)]:
                    sealed = seal_record(read.frames[record.digest], [colleague.key])
                    shared.append(self._write_loose(state, sealed))
            if not case_ids:  # everything: the register of member cities too
                for record in read.register:
                    sealed = seal_record(read.frames[record.digest], [colleague.key])
                    shared.append(self._write_loose(state, sealed))
            self.save_state(state.with_outbox(shared))
            return len(shared)

    def check(self, keys: Keys) -> Checked:
        """Open every envelope this home names (a backup copy too): what cannot be read.

        Submissions sealed to other reviewers' keys only are counted, not
        reported as damage; attachments are decrypted and thrown away.
        """
        state = self.load_state()
        store = self.store(state)
        result = Checked()

        def try_open(blob: str, what: str, expected: bool = True) -> None:
            result.opened += 1
            try:
                with store.open_blob(blob) as src:
                    for _chunk in envelope.decrypt_stream(src, keys.private):
                        pass  # thrown away: only whether every chunk authenticates counts
            except NoMatch:
                if expected:
                    result.problems.append(f"{what} {blob}: not addressed to this home's keys")
                else:
                    result.not_ours += 1
            except (CryptoError, OSError) as e:
                result.problems.append(f"{what} {blob}: {e}")

        for case_id, case in state.cases.items():
            for sub in case.submissions:
                for blob in (sub.answers, *sub.attachments):
                    try_open(blob, f"case {case_id}: submission {sub.id}:", sub.readable)
            for v in case.verifications:
                try_open(v.blob, f"case {case_id}: verification record")
            for r in case.replies:
                try_open(r.blob, f"case {case_id}: reply {r.id}:")
        if state.team:
            from reviewer.teamstore import read_team  # here: team records only

            read = read_team(state, store, keys.private,
                             [k.public_key for k in keys.signing], today())
            result.opened += len(state.team)
            result.problems += [f"team envelope {line}" for line in read.unreadable]
            result.problems += [f"team record {line}" for line in read.refused]
            result.aside = list(read.aside)
        for path in (self.index.path, self.path / "seen.env", self.path / "team.env"):
            if path.exists():
                result.opened += 1
                try:
                    envelope.decrypt_bytes(path.read_bytes(), keys.private)
                except CryptoError as e:  # rebuilt by the next command: a note, not damage
                    result.notes.append(f"{path.name}: {e} (it is rebuilt when needed)")
        return result

    # --- import -------------------------------------------------------------

    def import_bundle(
        self,
        src: BinaryIO,
        keys: Keys,
        progress: Callable[[int], None] | None = None,
    ) -> ImportResult:
        """Verify a submissions bundle completely, then store what is new.

        read_bundle checks the whole bundle and appends every member not
        already stored to a new pack in tmp/. Meanwhile, as soon as all the
        envelopes of a new submission are in the pack, its answers envelope
        is decrypted and checked against the manifest, and each attachment
        envelope authenticated (decrypted, the output discarded), in worker
        processes for a large bundle (reviewer.checks). Only once the bundle
        and every check have passed is the pack synced and renamed into
        packs/, and state.json, naming it, rewritten. On any error before the
        state is saved the pack goes and nothing has changed; if the process
        dies after the rename, the old state is intact and the next import
        sweeps the orphan pack.
        """
        from crypto.bundle import KIND_SUBMISSIONS, discard, read_bundle  # here: import only
        from reviewer.checks import Checker
        from reviewer.teamstore import MAX_TEAM_ENVELOPE

        with self.lock():
            state = self.load_state()
            result = ImportResult()
            if state.predates_trust:
                result.earlier_unconfirmed = self.unconfirmed_named(state)
            sweep(self.packs_dir, self.tmp, set(state.packs))
            for d in (self.tmp, self.packs_dir):
                d.mkdir(mode=0o700, exist_ok=True)
            stored_ids = self.store(state).stored_ids()
            #: The facts of the answers documents checked here, by blob id: the
            #: index is built from them without decrypting everything a second time.
            facts: dict[str, AnswersFacts] = {}
            changed: list[tuple[str, bool]] = []
            with Checker(keys.private) as checker, PackWriter(self.tmp, self.packs_dir) as pack:
                new: list[tuple[CaseRecord, SubmissionRecord]] = []
                checks: Checks | None = None
                #: What the comparison with the home found wrong, told only
                #: once the whole bundle has been read and found sound.
                refused: list[BadInput] = []

                def plan(manifest: Manifest) -> None:
                    # The manifest is checked; no member has been read yet.
                    nonlocal checks
                    try:
                        new.extend(_compare(state, manifest.cases, stored_ids, result))
                    except BadInput as e:
                        refused.append(e)
                        new.clear()
                    checks = checker.start(pack, [(r.case, s) for r, s in new])
                    pack.landed = checks.landed

                def sink(member: Member) -> AbstractContextManager[BinaryIO]:
                    # A stored member is only checked: an already imported
                    # submission keeps its envelopes, and a new submission
                    # reusing a stored id is refused (_compare).
                    return discard(member) if member.id in stored_ids else pack.member(member)

                # A server's submissions bundle, or a colleague's outbox (replies)
                # carried on a stick: from that, only the team members are for us.
                manifest = read_bundle(src, sink=sink, progress=progress, checked=plan)
                if refused:
                    raise refused[0]
                replies = manifest.kind != KIND_SUBMISSIONS
                result.replies_bundle = replies
                result.replies_ignored = len(manifest.replies)
                if new and checks is not None:
                    # Each submission is recorded (in memory) as its check comes
                    # back, while the workers check the rest; a failure ends the
                    # import before anything is saved.
                    state, changed = _add_new(
                        state, zip(new, checks.results(meanwhile=pack.sync), strict=True),
                        result, facts,
                    )
                # The team members, after the new cases (a record about one applies).
                team_new = [m for m in manifest.team if m not in stored_ids]
                # Larger than any record: refused unread (never read into memory).
                too_large = [m for m in team_new if pack.entries[m][1] > MAX_TEAM_ENVELOPE]
                pack.flush()
                state, result.team = self._receive_team(
                    state,
                    ((m, read_range(pack.staged_path, *pack.entries[m]))
                     for m in team_new if m not in too_large),
                    keys, loose=False,
                )
                result.team.copies += len(manifest.team) - len(team_new)
                result.team.refused += ["a team envelope larger than any record, refused unread"
                                        for _ in too_large]
                # Only what the state names stays in the pack: the new submissions'
                # envelopes and the team members kept (a refused one, or a reply
                # for the applicant in an outbox bundle, is never named).
                unnamed = {*team_new, *(r.blob for r in manifest.replies)} - set(result.team.keep)
                entries = {m: where for m, where in pack.entries.items() if m not in unnamed}
                if new or result.team.keep:
                    if not replies:
                        # Bookkeeping only: reported if unconfirmed, never sealed to.
                        state = state.with_server_keys(manifest.recipients)
                    state = state.with_pack(pack.id, entries)
                    pack.commit()
                    self.save_state(state)
                    pack.keep()
                elif state.predates_trust:
                    self.save_state(state)  # written in the new version, as any command does
            # The index from the state in hand and the documents just decrypted.
            index = self.fresh_index(state, keys, facts)
            result.cases = [ImportedCase(case, str(index[case]["name"]), is_new)
                            for case, is_new in changed]
            if not result.replies_bundle:
                result.unconfirmed = unconfirmed(manifest.recipients, self.trusted_keys(state))
            return result


def _compare(
    state: State,
    cases: tuple[CaseRecord, ...],
    stored_ids: set[str],
    result: ImportResult,
) -> list[tuple[CaseRecord, SubmissionRecord]]:
    """Compare the manifest with what is stored; the new submissions, to be checked.

    Everything already stored is compared, for the whole bundle; the new
    submissions are then checked by reviewer.checks (spread over the cores
    for a large bundle).
    """
    new: list[tuple[CaseRecord, SubmissionRecord]] = []
    for record in cases:
        stored = state.cases.get(record.case)
        if stored is not None and stored.reply_key != record.reply_key.to_text():
            raise BadInput(
                f"case {record.case} arrives with a different reply key than before;"
                " nothing was imported"
            )
        known = {s.id: s for s in stored.submissions} if stored else {}
        for sub in record.submissions:
            if sub.submission in known:
                if Submission.from_record(sub, known[sub.submission].readable) != known[
                    sub.submission
                ]:
                    raise BadInput(
                        f"submission {sub.submission} differs from the one already"
                        " imported; nothing was imported"
                    )
                result.already += 1
                continue
            for blob in (sub.answers, *sub.attachments):
                if blob in stored_ids:
                    raise BadInput(
                        f"submission {sub.submission} reuses the id of a stored"
                        " envelope; nothing was imported"
                    )
            new.append((record, sub))
    return new


def _add_new(
    state: State,
    checked: Iterable[tuple[tuple[CaseRecord, SubmissionRecord], AnswersFacts | None]],
    result: ImportResult,
    facts: dict[str, AnswersFacts],
) -> tuple[State, list[tuple[str, bool]]]:
    """`state` with the new submissions, recorded as their checks come back, and the
    cases they add to: (case id, whether new), in the bundle's order.

    `facts` receives the facts of each readable answers document, by blob id.
    """
    added: dict[str, tuple[str, list[Submission]]] = {}  # case -> (reply key, new)
    changed: list[tuple[str, bool]] = []  # (case, whether new), in the bundle's order
    for (record, sub), found in checked:
        if found is not None:
            facts[sub.answers] = found
        if record.case not in added:
            added[record.case] = (record.reply_key.to_text(), [])
            if record.case not in state.cases:
                result.new_cases += 1
            changed.append((record.case, record.case not in state.cases))
        added[record.case][1].append(Submission.from_record(sub, found is not None))
        if sub.kind == "followup":
            result.new_followups += 1
        else:
            result.new_applications += 1
        if found is None:
            result.unreadable += 1
    cases = dict(state.cases)
    for case_id, (reply_key, subs) in added.items():
        # Built once per case, not changed per submission: an import of
        # 10,000 new cases would pay dataclasses.replace 10,000 times.
        old = cases.get(case_id) or Case(reply_key, subs[0].day)
        every = [*old.submissions, *subs]
        if len(every) > 1:
            every.sort(key=lambda s: (s.day, s.kind != "application"))
        received = min(old.received, *(s.day for s in subs))
        cases[case_id] = Case(old.reply_key, received, tuple(every), old.verifications,
                              old.replies)
    return replace(state, cases=cases), changed
