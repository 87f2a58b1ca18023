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
                          name, profession, country, attachment count and
                          verification state per case, so `list` decrypts
                          one object instead of every case
    tmp/                  the pack of an import in progress (ciphertext only)
    lock                  empty; held by commands that change state.json

Nothing here is applicant or reviewer plaintext except in the envelopes.
The bookkeeping is written with atomic_output, so a crash leaves the old or
the new state, and envelopes are on disk (synced) before the state names them.
Every read of a stored envelope goes through `open_blob` / `read_blob`, which
find it in a pack or in blobs/ and never hand out a byte outside it.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from crypto import envelope
from crypto.atomic import atomic_output
from crypto.bundle import (
    KIND_SUBMISSIONS,
    BundleWriter,
    CaseRecord,
    Member,
    SubmissionRecord,
    discard,
    is_id,
    read_bundle,
)
from crypto.envelope import MAX_RECIPIENTS
from crypto.errors import DecryptError, KeyFileError, NoMatch, WrongPassphrase
from crypto.keyfile import open_private_key, read_public_key, seal_private_key
from crypto.keys import PrivateKey, PublicKey
from crypto.params import Argon2Limits
from reviewer.checks import Checker, Task
from reviewer.errors import BadInput, KeyProblem, NotFound, ReviewerError
from reviewer.packs import PackWriter, open_range, read_range, sweep
from reviewer.trust import (
    ConfirmedKey,
    TrustError,
    confirmed_keys,
    named_keys,
    set_confirmed,
    unconfirmed,
)

#: 2 added "packs" (where packed blobs lie); a version 1 state is read as one
#: with no packs. 3 added "reviewers", the confirmed colleague keys
#: (reviewer.trust); an older state is read as one with none confirmed: the
#: keys its bundles named are reported as unconfirmed, never trusted, and
#: nothing more is sealed to them. Older states are written back as version 3,
#: which an older tool refuses (it would seal to every key a bundle names).
STATE_VERSION = 3
READABLE_STATE_VERSIONS = (1, 2, 3)
UNVERIFIED = "unverified"
RISKS = ("low", "medium", "high", "critical")
RECOMMENDATIONS = ("proceed", "more-info", "refer", "decline")


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def new_id() -> str:
    return secrets.token_hex(16)


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


@dataclass
class Keys:
    """The reviewer's unlocked private keys (newest first) for one command."""

    private: list[PrivateKey] = field(default_factory=list)


class Home:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.keys_dir = path / "keys"
        self.blobs = path / "blobs"
        self.packs = path / "packs"
        self.state_path = path / "state.json"
        self.index_path = path / "index.env"
        self.tmp = path / "tmp"
        self.lock_path = path / "lock"
        #: The "packs" table of the state last loaded or saved, and the blob id ->
        #: (pack id, offset, length) map built from it when a blob is first read
        #: (`list` reads none, and need not pay for it).
        self._packs_table: dict[str, Any] | None = None
        self._packed: dict[str, tuple[str, int, int]] | None = None
        #: Documents decrypted during this command (an import fills it so the
        #: index is built without decrypting everything a second time).
        self._docs: dict[str, dict[str, Any]] = {}
        #: The state last loaded was written before confirmed keys (version < 3).
        self.state_predates_trust = False

    # --- keys ---------------------------------------------------------------

    def key_files(self) -> list[Path]:
        if not self.keys_dir.is_dir():
            return []
        return sorted(self.keys_dir.glob("key-*.key"))

    def require(self) -> None:
        if not self.key_files():
            raise NotFound(
                f"no reviewer key in {self.path}; run `reviewer init` (or give --home)"
            )

    def own_public_keys(self) -> list[PublicKey]:
        """Every key of this reviewer, newest first."""
        self.require()
        keys: list[PublicKey] = []
        for path in reversed(self.key_files()):
            try:
                keys.append(read_public_key(path.read_bytes()))
            except KeyFileError as e:
                raise KeyProblem(f"{path.name}: {e}") from None
        return keys

    def create_key(self, passphrase: str, limits: Argon2Limits) -> PublicKey:
        for d in (self.path, self.keys_dir, self.blobs, self.packs, self.tmp):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600))
        existing = self.key_files()
        number = int(existing[-1].stem.split("-")[1]) + 1 if existing else 1
        key = PrivateKey.generate()
        with atomic_output(self.keys_dir / f"key-{number:04d}.key") as out:
            out.write(seal_private_key(key, passphrase, limits=limits))
        return key.public_key

    def unlock(self, passphrase: str) -> Keys:
        """Open every key file this passphrase opens; at least one must."""
        self.require()
        opened: list[PrivateKey] = []
        for path in reversed(self.key_files()):
            try:
                opened.append(open_private_key(path.read_bytes(), passphrase))
            except WrongPassphrase:
                continue  # an old key may have another passphrase
            except KeyFileError as e:
                raise KeyProblem(f"{path.name}: {e}") from None
        if not opened:
            raise KeyProblem("wrong passphrase: it opens none of the keys in this home")
        return Keys(opened)

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
                raise ReviewerError(
                    f"another reviewer command is changing {self.path}; try again when it"
                    " has finished"
                ) from None
            yield
        finally:
            os.close(fd)  # releases the lock

    def load_state(self) -> dict[str, Any]:
        self.require()
        if not self.state_path.exists():
            state: dict[str, Any] = {
                "version": STATE_VERSION, "server_keys": [], "reviewers": [], "cases": {},
                "packs": {},
            }
            self.state_predates_trust = False
        else:
            try:
                state = json.loads(self.state_path.read_text("utf-8"))
            except (ValueError, OSError) as e:
                raise ReviewerError(f"{self.state_path} is damaged: {e}") from None
            if not isinstance(state, dict) or state.get("version") not in READABLE_STATE_VERSIONS:
                raise ReviewerError(f"{self.state_path} was written by an unknown version")
            state.setdefault("packs", {})
            self.state_predates_trust = state["version"] < 3
            state.setdefault("reviewers", [])
            state["version"] = STATE_VERSION
            self.confirmed_keys(state)  # checked now, not when something is sealed
        self._remember_packs(state)
        return state

    def _remember_packs(self, state: dict[str, Any]) -> None:
        self._packs_table = state["packs"]
        self._packed = None

    def _pack_map(self) -> dict[str, tuple[str, int, int]]:
        """Where each packed blob lies, checked: ids are path components, ranges numbers."""
        if self._packed is not None:
            return self._packed
        if self._packs_table is None:
            self.load_state()
        packs = self._packs_table
        located: dict[str, tuple[str, int, int]] = {}
        if not isinstance(packs, dict):
            raise ReviewerError(f"{self.state_path} is damaged: its packs are not a table")
        for pack, entries in packs.items():
            if not is_id(pack) or not isinstance(entries, dict):
                raise ReviewerError(f"{self.state_path} is damaged: a pack entry is malformed")
            for blob, where in entries.items():
                if not (
                    is_id(blob)
                    and isinstance(where, list)
                    and len(where) == 2
                    and all(type(n) is int and n >= 0 for n in where)
                ):
                    raise ReviewerError(
                        f"{self.state_path} is damaged: a packed blob entry is malformed"
                    )
                located[blob] = (pack, where[0], where[1])
        self._packed = located
        return located

    def save_state(self, state: dict[str, Any]) -> None:
        # Compact: with `indent`, json falls back to its pure-Python encoder,
        # which took most of a second for 10,000 cases.
        data = json.dumps(state, sort_keys=True, separators=(",", ":"))
        with atomic_output(self.state_path, overwrite=True) as out:
            out.write(data.encode("utf-8"))
        self._remember_packs(state)

    def resolve_case(self, state: dict[str, Any], prefix: str) -> str:
        prefix = prefix.strip().lower()
        if not prefix or any(c not in "0123456789abcdef" for c in prefix):
            raise NotFound("a case id is made of hex digits (0-9, a-f)")
        matches: list[str] = [c for c in state["cases"] if c.startswith(prefix)]
        if not matches:
            raise NotFound(f"no case starts with {prefix!r}")
        if len(matches) > 1:
            raise NotFound(f"{len(matches)} cases start with {prefix!r}; give more digits")
        return matches[0]

    # --- envelopes ----------------------------------------------------------

    def loose_path(self, blob: str) -> Path:
        """Where a one-file envelope lives (written by the reviewer, or a pre-pack import)."""
        if not is_id(blob):  # state.json is ours, but never trust a path component
            raise ReviewerError("state.json names a blob with an invalid id")
        return self.blobs / blob

    def _located(self, blob: str) -> tuple[Path, int, int] | None:
        where = self._pack_map().get(blob)
        if where is None:
            return None
        pack, offset, length = where
        return self.packs / pack, offset, length

    def open_blob(self, blob: str) -> BinaryIO:
        """A stored envelope as a binary file holding exactly its bytes."""
        where = self._located(blob)
        if where is None:
            return open(self.loose_path(blob), "rb")
        return open_range(*where)

    def read_blob(self, blob: str) -> bytes:
        """A stored envelope's bytes (for small ones: answers, records, replies)."""
        where = self._located(blob)
        if where is None:
            return self.loose_path(blob).read_bytes()
        return read_range(*where)

    def _stored_ids(self) -> set[str]:
        """Every blob id stored, packed or loose."""
        loose = set(os.listdir(self.blobs)) if self.blobs.is_dir() else set()
        return {*self._pack_map(), *filter(is_id, loose)}

    def open_json(self, blob: str, keys: Keys) -> dict[str, Any]:
        """Decrypt a small JSON envelope. Raises NoMatch if not addressed to us."""
        if blob in self._docs:
            return self._docs[blob]
        data = envelope.decrypt_bytes(self.read_blob(blob), keys.private)
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise BadInput(f"the envelope {blob} does not hold valid JSON") from None
        if not isinstance(doc, dict):
            raise BadInput(f"the envelope {blob} does not hold a JSON object")
        return doc

    def seal_json(self, doc: dict[str, Any], recipients: list[PublicKey]) -> str:
        blob = new_id()
        self.blobs.mkdir(mode=0o700, exist_ok=True)
        with atomic_output(self.loose_path(blob)) as out:
            _seal_bytes(out, json.dumps(doc, ensure_ascii=False).encode("utf-8"), recipients)
        return blob

    # --- trusted keys (reviewer.trust) ----------------------------------------

    def confirmed_keys(self, state: dict[str, Any]) -> list[ConfirmedKey]:
        try:
            return confirmed_keys(state)
        except TrustError as e:
            raise ReviewerError(f"{self.state_path} is damaged: {e}") from None

    def trusted_keys(self, state: dict[str, Any]) -> list[PublicKey]:
        """The home's own keys (newest first), then the confirmed colleague keys."""
        return [*self.own_public_keys(), *(c.key for c in self.confirmed_keys(state))]

    def unconfirmed_named(self, state: dict[str, Any]) -> list[PublicKey]:
        """Keys the last imported bundle named that this home does not trust."""
        return unconfirmed(named_keys(state), self.trusted_keys(state))

    def reviewer_recipients(self, state: dict[str, Any]) -> list[PublicKey]:
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
            confirmed = self.confirmed_keys(state)
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
            set_confirmed(state, [*confirmed, added])
            self.save_state(state)
            return added

    def unconfirm_key(self, wanted: str) -> list[ConfirmedKey]:
        """Stop trusting the confirmed keys with this name or fingerprint; those removed."""
        wanted = wanted.strip()
        compact = wanted.replace(" ", "").lower()
        with self.lock():
            state = self.load_state()
            confirmed = self.confirmed_keys(state)
            gone = [
                c for c in confirmed
                if c.name == wanted or c.key.fingerprint.replace(" ", "") == compact
            ]
            if not gone:
                if any(k.fingerprint.replace(" ", "") == compact for k in self.own_public_keys()):
                    raise ReviewerError("that is one of this home's own keys; it cannot be removed")
                raise NotFound(f"no confirmed key is named or has the fingerprint {wanted!r}")
            set_confirmed(state, [c for c in confirmed if c not in gone])
            self.save_state(state)
            return gone

    # --- the index ----------------------------------------------------------

    def load_index(self, keys: Keys) -> dict[str, Any]:
        if not self.index_path.exists():
            return {}
        try:
            data = envelope.decrypt_bytes(self.index_path.read_bytes(), keys.private)
            index: dict[str, Any] = json.loads(data.decode("utf-8"))["cases"]
        except (DecryptError, ValueError, KeyError, UnicodeDecodeError):
            return {}  # rebuilt from the cases themselves
        return index

    def save_index(self, index: dict[str, Any]) -> None:
        payload = json.dumps({"version": 1, "cases": index}, ensure_ascii=False).encode("utf-8")
        with atomic_output(self.index_path, overwrite=True) as out:
            _seal_bytes(out, payload, self.own_public_keys()[:MAX_RECIPIENTS])

    def index_entry(self, case_id: str, case: dict[str, Any], keys: Keys) -> dict[str, Any]:
        """Summarise one case by decrypting its envelopes (for the index)."""
        entry: dict[str, Any] = {
            "name": "",
            "profession": "",
            "country": "",
            "attachments": 0,
            "state": UNVERIFIED,
            "readable": True,
            "subs": len(case["submissions"]),
            "verifs": len(case["verifications"]),
        }
        for sub in case["submissions"]:
            if not sub["readable"]:
                entry["readable"] = False
                continue
            try:
                doc = self.open_json(sub["answers"], keys)
            except NoMatch:
                entry["readable"] = False
                continue
            entry["attachments"] += len(doc.get("attachments", []))
            answers = doc.get("answers", {})
            if sub["kind"] == "application" and isinstance(answers, dict):
                for name in ("name", "profession", "country"):
                    value = answers.get(name, "")
                    entry[name] = value if isinstance(value, str) else ", ".join(value)
                if answers.get("profession") == "other" and answers.get("profession_other"):
                    entry["profession"] = str(answers["profession_other"])
        if case["verifications"]:
            try:
                record = self.open_json(case["verifications"][-1]["blob"], keys)
                entry["state"] = str(record.get("recommendation", UNVERIFIED))
            except NoMatch:
                entry["state"] = "?"
        return entry

    def fresh_index(self, state: dict[str, Any], keys: Keys) -> dict[str, Any]:
        """The index, with stale or missing entries rebuilt (and saved if any were)."""
        index = self.load_index(keys)
        changed = False
        for case_id, case in state["cases"].items():
            entry = index.get(case_id)
            if (
                entry is None
                or entry.get("subs") != len(case["submissions"])
                or entry.get("verifs") != len(case["verifications"])
            ):
                index[case_id] = self.index_entry(case_id, case, keys)
                changed = True
        for gone in set(index) - set(state["cases"]):
            del index[gone]
            changed = True
        if changed:
            self.save_index(index)
        return index

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
            if self.state_predates_trust:
                result.earlier_unconfirmed = self.unconfirmed_named(state)
            sweep(self.packs, self.tmp, set(state["packs"]))
            for d in (self.tmp, self.packs):
                d.mkdir(mode=0o700, exist_ok=True)
            stored_ids = self._stored_ids()
            with Checker(keys.private) as checker, PackWriter(self.tmp, self.packs) as pack:

                def sink(member: Member) -> AbstractContextManager[BinaryIO]:
                    # A stored member is only checked: an already imported
                    # submission keeps its envelopes, and a new submission
                    # reusing a stored id is refused below.
                    return discard(member) if member.id in stored_ids else pack.member(member)

                manifest = read_bundle(
                    src, kind=KIND_SUBMISSIONS, sink=sink, progress=progress,
                    key_map=checker.key_map,
                )
                new, tasks = self._compare(state, manifest.cases, stored_ids, pack, result)
                if new:
                    pack.flush()  # the checks read the pack by its name
                    docs = checker.check_all(pack.staged_path, tasks, meanwhile=pack.sync)
                    # Each submission is recorded (in memory) as its check comes
                    # back, while the workers check the rest; a failure ends the
                    # import before anything is saved.
                    self._add_new(state, zip(new, docs, strict=True), result)
                    # Bookkeeping only: reported if unconfirmed, never sealed to.
                    state["server_keys"] = [k.to_text() for k in manifest.recipients]
                    # A new table, not the loaded one changed: if the save fails,
                    # this Home still describes what is on disk.
                    state["packs"] = {
                        **state["packs"],
                        pack.id: {blob: [off, n] for blob, (off, n) in pack.entries.items()},
                    }
                    pack.commit()
                    self.save_state(state)
                    pack.keep()
                elif self.state_predates_trust:
                    self.save_state(state)  # written in the new version, as any command does
            # The index from the state in hand and the documents just decrypted.
            self.fresh_index(state, keys)
            result.unconfirmed = unconfirmed(manifest.recipients, self.trusted_keys(state))
            return result

    def _compare(
        self,
        state: dict[str, Any],
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
            stored = state["cases"].get(record.case)
            if stored is not None and stored["reply_key"] != record.reply_key.to_text():
                raise BadInput(
                    f"case {record.case} arrives with a different reply key than before;"
                    " nothing was imported"
                )
            known = {s["id"]: s for s in stored["submissions"]} if stored else {}
            for sub in record.submissions:
                if sub.submission in known:
                    if _sub_json(sub, known[sub.submission]["readable"]) != known[
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
        self,
        state: dict[str, Any],
        checked: Iterable[tuple[tuple[CaseRecord, SubmissionRecord], dict[str, Any] | None]],
        result: ImportResult,
    ) -> None:
        """Record new submissions in `state` (in memory) as their checks come back."""
        touched: set[str] = set()
        for (record, sub), doc in checked:
            if doc is not None:
                self._docs[sub.answers] = doc
            case = state["cases"].get(record.case)
            if case is None:
                case = state["cases"][record.case] = {
                    "reply_key": record.reply_key.to_text(),
                    "received": sub.day,
                    "submissions": [],
                    "verifications": [],
                    "replies": [],
                }
                result.new_cases += 1
            case["submissions"].append(_sub_json(sub, doc is not None))
            case["received"] = min(case["received"], sub.day)
            touched.add(record.case)
            if sub.kind == "followup":
                result.new_followups += 1
            else:
                result.new_applications += 1
            if doc is None:
                result.unreadable += 1
        for case_id in touched:
            subs = state["cases"][case_id]["submissions"]
            if len(subs) > 1:
                subs.sort(key=lambda s: (s["day"], s["kind"] != "application"))

    # --- replies ------------------------------------------------------------

    def export_replies(self, path: Path, *, everything: bool) -> int:
        with self.lock():
            return self._export_replies(path, everything=everything)

    def _export_replies(self, path: Path, *, everything: bool) -> int:
        state = self.load_state()
        pending = [
            (case_id, reply)
            for case_id, case in state["cases"].items()
            for reply in case["replies"]
            if everything or not reply["exported"]
        ]
        if not pending:
            return 0
        with atomic_output(path) as out:
            writer = BundleWriter(
                out, "replies", created=today(), recipients=self.reviewer_recipients(state)
            )
            for case_id, reply in pending:
                writer.add_member(reply["blob"], functools.partial(self.open_blob, reply["blob"]))
                writer.add_reply(reply["id"], case_id, reply["day"], reply["blob"])
            writer.close()
        for _, reply in pending:
            reply["exported"] = True
        self.save_state(state)
        return len(pending)


def _sub_json(sub: SubmissionRecord, readable: bool) -> dict[str, Any]:
    return {
        "id": sub.submission,
        "day": sub.day,
        "kind": sub.kind,
        "answers": sub.answers,
        "attachments": list(sub.attachments),
        "readable": readable,
    }


def _seal_bytes(out: BinaryIO, payload: bytes, recipients: list[PublicKey]) -> None:
    writer = envelope.EnvelopeWriter(out, recipients)
    writer.write(payload)
    writer.close()
