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
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from crypto import documents
from crypto.atomic import atomic_output
from crypto.bundle import (
    KIND_SUBMISSIONS,
    BundleWriter,
    CaseRecord,
    Member,
    SubmissionRecord,
    discard,
    read_bundle,
)
from crypto.envelope import MAX_RECIPIENTS
from crypto.errors import DocumentError
from crypto.keys import PublicKey
from crypto.params import Argon2Limits
from reviewer import state as state_json
from reviewer.blobs import BlobStore, new_id
from reviewer.checks import Checker, Task
from reviewer.errors import BadInput, HomeBusy, NotFound, ReplyFinal, ReviewerError
from reviewer.index import UNVERIFIED, Index
from reviewer.keyring import KeyRing, Keys
from reviewer.packs import PackWriter, sweep
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

__all__ = ["RECOMMENDATIONS", "RISKS", "UNVERIFIED", "Home", "ImportResult", "ImportedCase",
           "Keys", "new_id", "today"]

RISKS = ("low", "medium", "high", "critical")
RECOMMENDATIONS = ("proceed", "more-info", "refer", "decline")


def today() -> str:
    return datetime.now(UTC).date().isoformat()


@dataclass(frozen=True)
class ImportedCase:
    """A case an import added to: new, or updated with a new submission."""

    case: str
    name: str  # from the index; "" when not readable with this home's keys
    new: bool


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
        self, state: State, keys: Keys, known: Mapping[str, dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """The index, with stale or missing entries rebuilt (and saved if any were)."""
        return self.index.fresh(state, self.store(state), keys, self.own_public_keys(), known)

    # --- trusted keys (reviewer.trust) ----------------------------------------

    def trusted_keys(self, state: State) -> list[PublicKey]:
        """The home's own keys (newest first), then the confirmed colleague keys."""
        return [*self.own_public_keys(), *(c.key for c in state.reviewers)]

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

    def confirm_key(self, key: PublicKey, name: str) -> ConfirmedKey:
        """Record a colleague's key as confirmed (the caller had a person compare it)."""
        with self.lock():
            state = self.load_state()
            confirmed = state.reviewers
            if any(key == own for own in self.own_public_keys()):
                raise ReviewerError("that is one of this home's own keys; it is always trusted")
            for c in confirmed:
                if c.key == key:
                    raise ReviewerError(f"that key is already confirmed as '{c.name}'")
                if c.name == name:
                    raise ReviewerError(
                        f"a confirmed key is already named '{name}'; choose another name"
                    )
            if len(self.own_public_keys()) + len(confirmed) >= MAX_RECIPIENTS:
                raise ReviewerError(
                    f"an envelope holds at most {MAX_RECIPIENTS} keys, this home's own"
                    " included; remove a confirmed key first"
                )
            added = ConfirmedKey(name, key, today())
            self.save_state(state.with_reviewers([*confirmed, added]))
            return added

    def unconfirm_key(self, wanted: str) -> list[ConfirmedKey]:
        """Stop trusting the confirmed keys with this name or fingerprint; those removed."""
        wanted = wanted.strip()
        compact = wanted.replace(" ", "").lower()
        with self.lock():
            state = self.load_state()
            confirmed = state.reviewers
            gone = [
                c for c in confirmed
                if c.name == wanted or c.key.fingerprint.replace(" ", "") == compact
            ]
            if not gone:
                if any(k.fingerprint.replace(" ", "") == compact for k in self.own_public_keys()):
                    raise ReviewerError("that is one of this home's own keys; it cannot be removed")
                raise NotFound(f"no confirmed key is named or has the fingerprint {wanted!r}")
            self.save_state(state.with_reviewers(c for c in confirmed if c not in gone))
            return gone

    # --- verification records and replies -----------------------------------

    def add_verification(self, case_id: str, record: dict[str, Any], keys: Keys) -> State:
        """Seal a verification record to the trusted keys and append it to the case.

        `record` is the document (crypto.documents); the state saved is returned.
        """
        with self.lock():
            state = self.load_state()
            blob = self.store(state).seal_json(record, self.reviewer_recipients(state))
            state = state.with_verification(case_id, Verification(blob, str(record["day"])))
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

    def export_replies(self, path: Path, *, everything: bool) -> int:
        with self.lock():
            state = self.load_state()
            pending = [
                (case_id, reply)
                for case_id, case in state.cases.items()
                for reply in case.replies
                if everything or not reply.exported
            ]
            if not pending:
                return 0
            store = self.store(state)
            with atomic_output(path) as out:
                writer = BundleWriter(
                    out, "replies", created=today(), recipients=self.reviewer_recipients(state)
                )
                for case_id, reply in pending:
                    writer.add_member(reply.blob, functools.partial(store.open_blob, reply.blob))
                    writer.add_reply(reply.id, case_id, reply.day, reply.blob)
                writer.close()
            self.save_state(state.with_exported((reply.id for _, reply in pending), today()))
            return len(pending)

    # --- import -------------------------------------------------------------

    def import_bundle(
        self,
        src: BinaryIO,
        keys: Keys,
        progress: Callable[[int], None] | None = None,
    ) -> ImportResult:
        """Verify a submissions bundle completely, then store what is new.

        Pass 1 (read_bundle) appends every member not already stored to a new
        pack in tmp/ while checking the whole bundle; pass 2 decrypts each new
        answers envelope and checks it against the manifest, and authenticates
        each new attachment envelope (decrypting it and discarding the output),
        in worker processes for a large bundle (reviewer.checks). Only then
        is the pack synced and renamed into packs/, and state.json, naming
        it, rewritten. On any error before the state is saved the pack goes
        and nothing has changed; if the process dies after the rename, the
        old state is intact and the next import sweeps the orphan pack.
        """
        with self.lock():
            state = self.load_state()
            result = ImportResult()
            if state.predates_trust:
                result.earlier_unconfirmed = self.unconfirmed_named(state)
            sweep(self.packs_dir, self.tmp, set(state.packs))
            for d in (self.tmp, self.packs_dir):
                d.mkdir(mode=0o700, exist_ok=True)
            stored_ids = self.store(state).stored_ids()
            #: The answers documents checked here, by blob id: the index is
            #: built from them without decrypting everything a second time.
            docs: dict[str, dict[str, Any]] = {}
            changed: list[tuple[str, bool]] = []
            with Checker(keys.private) as checker, PackWriter(self.tmp, self.packs_dir) as pack:

                def sink(member: Member) -> AbstractContextManager[BinaryIO]:
                    # A stored member is only checked: an already imported
                    # submission keeps its envelopes, and a new submission
                    # reusing a stored id is refused below.
                    return discard(member) if member.id in stored_ids else pack.member(member)

                manifest = read_bundle(
                    src, kind=KIND_SUBMISSIONS, sink=sink, progress=progress,
                    key_map=checker.key_map,
                )
                new, tasks = _compare(state, manifest.cases, stored_ids, pack, result)
                if new:
                    pack.flush()  # the checks read the pack by its name
                    checked = checker.check_all(pack.staged_path, tasks, meanwhile=pack.sync)
                    # Each submission is recorded (in memory) as its check comes
                    # back, while the workers check the rest; a failure ends the
                    # import before anything is saved.
                    state, changed = _add_new(state, zip(new, checked, strict=True), result,
                                              docs)
                    # Bookkeeping only: reported if unconfirmed, never sealed to.
                    state = state.with_server_keys(manifest.recipients)
                    state = state.with_pack(pack.id, pack.entries)
                    pack.commit()
                    self.save_state(state)
                    pack.keep()
                elif state.predates_trust:
                    self.save_state(state)  # written in the new version, as any command does
            # The index from the state in hand and the documents just decrypted.
            index = self.fresh_index(state, keys, docs)
            result.cases = [ImportedCase(case, str(index[case]["name"]), is_new)
                            for case, is_new in changed]
            result.unconfirmed = unconfirmed(manifest.recipients, self.trusted_keys(state))
            return result


def _compare(
    state: State,
    cases: tuple[CaseRecord, ...],
    stored_ids: set[str],
    pack: PackWriter,
    result: ImportResult,
) -> tuple[list[tuple[CaseRecord, SubmissionRecord]], list[Task]]:
    """Compare the manifest with what is stored; the new submissions and their checks.

    Everything already stored is compared first, for the whole bundle;
    the new submissions are then checked by reviewer.checks (spread over
    the cores for a large bundle).
    """
    new: list[tuple[CaseRecord, SubmissionRecord]] = []
    tasks: list[Task] = []
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
            tasks.append(
                Task(
                    record.case,
                    sub,
                    pack.entries[sub.answers],
                    tuple((b, *pack.entries[b]) for b in sub.attachments),
                )
            )
    return new, tasks


def _add_new(
    state: State,
    checked: Iterable[tuple[tuple[CaseRecord, SubmissionRecord], dict[str, Any] | None]],
    result: ImportResult,
    docs: dict[str, dict[str, Any]],
) -> tuple[State, list[tuple[str, bool]]]:
    """`state` with the new submissions, recorded as their checks come back, and the
    cases they add to: (case id, whether new), in the bundle's order.

    `docs` receives each readable answers document, by blob id.
    """
    added: dict[str, tuple[str, list[Submission]]] = {}  # case -> (reply key, new)
    changed: list[tuple[str, bool]] = []  # (case, whether new), in the bundle's order
    for (record, sub), doc in checked:
        if doc is not None:
            docs[sub.answers] = doc
        if record.case not in added:
            added[record.case] = (record.reply_key.to_text(), [])
            if record.case not in state.cases:
                result.new_cases += 1
            changed.append((record.case, record.case not in state.cases))
        added[record.case][1].append(Submission.from_record(sub, doc is not None))
        if sub.kind == "followup":
            result.new_followups += 1
        else:
            result.new_applications += 1
        if doc is None:
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
