"""Generate tests/vectors/team/: one team record scenario a file (docs/team.md, "Test vectors").

Run `python tools/make_team_vectors.py` from the repository root. Keys, ids
and signatures come from the seeded DRBG of tools/make_vectors.py (Ed25519
signatures are deterministic), so every header line and every signed frame is
the same on each run; the envelopes around the frames are not (libsodium
draws the sealed boxes' ephemeral keys), so a committed file is kept when its
header is unchanged. Every case is checked against crypto.team (and its fold
lines against reviewer.team) before it is written.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_vectors import Drbg, identity

from crypto import documents, envelope, errors, team
from crypto.keys import PublicKey
from crypto.signing import SigningKey
from reviewer.team import fold

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "tests" / "vectors" / "team"
DAY = "2026-12-01"
TIME = "2026-12-01T09:30:00Z"
CASE = hashlib.sha256(b"team case").hexdigest()[:32]
OTHER_CASE = hashlib.sha256(b"team other case").hexdigest()[:32]


def signing(name: str) -> SigningKey:
    return SigningKey(Drbg(f"signing {name}")(32))


READER = identity("team reader")
ALICE, BOB, MALLORY = identity("team alice"), identity("team bob"), identity("team mallory")
ALICE_S, BOB_S, MALLORY_S = signing("alice"), signing("bob"), signing("mallory")
READER_S = signing("reader")
RECIPIENTS = list(team.sorted_recipients([READER.public_key, ALICE.public_key, BOB.public_key]))


@dataclass
class Book:
    name: str
    key: SigningKey
    removed: str | None = None

    def known(self) -> team.KnownAuthor:
        return team.KnownAuthor(self.name, self.key.public_key, self.removed)

    def line(self) -> str:
        tail = f" removed {self.removed}" if self.removed else ""
        return f"{self.name} {self.key.public_key.to_text()}{tail}"


def default_book() -> list[Book]:
    return [Book("reader", READER_S), Book("alice", ALICE_S), Book("bob", BOB_S)]


@dataclass
class TeamCase:
    name: str
    comment: str
    frames: list[bytes]  # the envelopes' contents, in order
    expect: list[str]  # "success ID" or "failure ERROR"
    book: list[Book] = field(default_factory=default_book)
    cases: list[str] = field(default_factory=lambda: [CASE, OTHER_CASE])
    sealed: list[bytes] = field(default_factory=list)

    def seal(self) -> None:
        self.sealed = [envelope.encrypt_bytes(f, [READER.public_key, ALICE.public_key])
                       for f in self.frames]

    def outcomes(self, sealed: Sequence[bytes]) -> tuple[list[str], list[team.TeamRecord]]:
        got: list[str] = []
        ok: list[team.TeamRecord] = []
        for data in sealed:
            try:
                record = team.open_record(data, [READER], [b.known() for b in self.book],
                                          day=DAY, cases=set(self.cases))
            except errors.CryptoError as e:
                got.append(f"failure {type(e).__name__}")
            else:
                got.append(f"success {record.id}")
                ok.append(record)
        return got, ok

    def fold_lines(self, ok: list[team.TeamRecord]) -> list[str]:
        if not any(r.case == self.cases[0] for r in ok):
            return []
        view = fold(self.cases[0], ok)
        return [f"records {len(view.history) + len(view.held)}",
                *(f"held {h.record.id}" for h in view.held)]

    def check(self) -> None:
        if not self.sealed:
            self.seal()
        got, _ok = self.outcomes(self.sealed)
        assert got == self.expect, (self.name, got, self.expect)

    def render(self) -> bytes:
        if not self.sealed:
            self.seal()
        _got, ok = self.outcomes(self.sealed)
        lines = [f"identity: {READER.raw().hex()}"]
        lines += [f"author: {b.line()}" for b in self.book]
        lines += [f"case: {c}" for c in self.cases]
        lines.append(f"day: {DAY}")
        lines += [f"expect: {e}" for e in self.expect]
        lines += [f"fold: {f}" for f in self.fold_lines(ok)]
        lines.append(f"comment: {self.comment}")
        body = b"".join(len(s).to_bytes(4, "big") + s for s in self.sealed)
        return ("\n".join(lines) + "\n\n").encode() + body


BODIES: dict[str, dict[str, Any]] = {
    "verification": {"identity": "Passport and press card seen.", "work": "Three articles found",
                     "persecution": "Confirmed by the PEN centre", "risk": "high",
                     "recommendation": "proceed", "notes": ""},
    "note": {"text": "Called the PEN centre.\nThey know her work — «شعر»."},
    "state": {"state": "more-info", "reason": "We need the court papers."},
    "assignment": {"assignee": ALICE_S.public_key.to_text()},
    "reply": {"reply": hashlib.sha256(b"team reply").hexdigest()[:32],
              "text": "Thank you. We are reading your application."},
    "file-saved": {"blob": hashlib.sha256(b"team blob").hexdigest()[:32], "name": "article.pdf"},
    "link": {"other": OTHER_CASE, "relation": "same-person", "reason": "the same passport"},
    "referral": {"dossier": hashlib.sha256(b"team dossier").hexdigest()[:32], "city": "Stavanger",
                 "coordinator": identity("team coordinator").public_key.to_text(),
                 "answers": ["work", "threat"],
                 "files": [{"number": 2, "blob": hashlib.sha256(b"team blob").hexdigest()[:32]}],
                 "note": True, "verification": False, "consent": "recorded"},
    "consent": {"how": "She said yes on the phone on 1 December."},
    "dossier-answer": {"dossier": hashlib.sha256(b"team dossier").hexdigest()[:32],
                       "answer": hashlib.sha256(b"team answer").hexdigest()[:32],
                       "city": "Stavanger", "day": "2026-12-01",
                       "text": "We can host her from March."},
}


def doc(kind: str, author: SigningKey, *, label: str, case: str | None = CASE,
        parents: Sequence[str] = (), body: dict[str, Any] | None = None) -> dict[str, Any]:
    return team.new_record(kind=kind, case=case, author=author.public_key, parents=parents,
                           body=body if body is not None else BODIES[kind], time=TIME,
                           record_id=Drbg(f"record {label}")(16).hex())


def frame(document: dict[str, Any], key: SigningKey,
          recipients: Sequence[PublicKey] = RECIPIENTS) -> bytes:
    return team.sign_record(document, key, recipients)


def raw_frame(document: dict[str, Any] | bytes, key: SigningKey,
              recipients: Sequence[PublicKey] = RECIPIENTS, *, magic: bytes = team.RECORD_MAGIC,
              trailing: bytes = b"") -> bytes:
    """A frame as a writer would make it, but without the writer's checks."""
    data = document if isinstance(document, bytes) else team.encode_record(document)
    case = None if isinstance(document, bytes) else document["case"]
    parents = [] if isinstance(document, bytes) else document["parents"]
    sig = key.sign(team.signed_message(data, case, parents, recipients))
    return (magic + bytes([len(recipients)]) + b"".join(k.raw for k in recipients)
            + len(data).to_bytes(4, "big") + data + sig + trailing)


def team_cases() -> list[TeamCase]:
    cases: list[TeamCase] = []

    def ok(name: str, comment: str, document: dict[str, Any], key: SigningKey = ALICE_S,
           **kw: Any) -> None:
        cases.append(TeamCase(name, comment, [frame(document, key)],
                              [f"success {document['id']}"], **kw))

    def bad(name: str, comment: str, data: bytes, error: type[errors.CryptoError],
            **kw: Any) -> None:
        cases.append(TeamCase(name, comment, [data], [f"failure {error.__name__}"], **kw))

    for kind in BODIES:
        ok(f"success_{kind.replace('-', '_')}", f"a valid {kind} record",
           doc(kind, ALICE_S, label=kind))
    new_signing, new_key = signing("alice new"), identity("team alice new").public_key
    rotation = doc("rotation", ALICE_S, label="rotation", case=None, body={
        "new_author": new_signing.public_key.to_text(), "new_key": new_key.to_text(),
        "binding": team.rotation_binding(new_signing, new_key).hex()})
    ok("success_rotation", "a rotation signed by the old key, vouched for by the new", rotation)
    city = {"action": "add", "name": "Stavanger", "country": "NO",
            "key": identity("team coordinator").public_key.to_text()}
    ok("success_city", "a city added to the register (no case)",
       doc("city", ALICE_S, label="city", case=None, body=city))
    bad("city_with_a_case", "a city record that names a case",
        raw_frame(doc("city", ALICE_S, label="city case", body=city), ALICE_S),
        errors.TeamRecordError)
    bad_binding = dict(rotation, id=Drbg("record rotation bad")(16).hex(), body={
        **rotation["body"], "binding": team.rotation_binding(signing("stranger"), new_key).hex()})
    bad("rotation_bad_binding", "a rotation whose binding is by another key than the new one",
        frame(bad_binding, ALICE_S), errors.BadSignature)

    note = doc("note", ALICE_S, label="forged")
    data = team.encode_record(note)
    keys = team.sorted_recipients(RECIPIENTS)
    signature = BOB_S.sign(team.signed_message(data, CASE, [], keys))
    forged = (team.RECORD_MAGIC + bytes([len(keys)]) + b"".join(k.raw for k in keys)
              + len(data).to_bytes(4, "big") + data + signature)
    bad("forged_author", "signed by bob, a colleague, claiming alice as its author", forged,
        errors.ForgedAuthor)
    bad("forged_author_unknown_signer",
        "signed by a key the reader does not know, claiming alice: only altered can be said",
        forged, errors.BadSignature, book=[Book("reader", READER_S), Book("alice", ALICE_S)])
    good_note = frame(doc("note", ALICE_S, label="altered"), ALICE_S)
    assert good_note.count(b"They know her") == 1
    bad("altered", "a byte of the note's text changed after signing, the JSON still valid",
        good_note.replace(b"They know her", b"They know him"), errors.BadSignature)
    readdressed = good_note.replace(BOB.public_key.raw, MALLORY.public_key.raw)
    if sorted(k.raw for k in [READER.public_key, ALICE.public_key, MALLORY.public_key]) == [
            readdressed[9 + 32 * i: 41 + 32 * i] for i in range(3)]:
        bad("readdressed", "bob's key in the recipients replaced by mallory's, order kept",
            readdressed, errors.BadSignature)
    bad("bad_signature_byte", "the last byte of the signature flipped",
        good_note[:-1] + bytes([good_note[-1] ^ 1]), errors.BadSignature)
    bad("unknown_author", "signed by mallory, whose key the reader has not confirmed",
        frame(doc("note", MALLORY_S, label="mallory"), MALLORY_S), errors.UnknownAuthor)
    bad("removed_author", "alice's key was removed the day before it was received",
        frame(doc("state", ALICE_S, label="removed"), ALICE_S), errors.RemovedAuthor,
        book=[Book("reader", READER_S), Book("alice", ALICE_S, removed="2026-11-30")])
    ok("removed_author_later", "alice's key is removed only after the day it was received",
       doc("state", ALICE_S, label="removed later"),
       book=[Book("reader", READER_S), Book("alice", ALICE_S, removed="2026-12-02")])
    bad("removed_author_same_day", "alice's key was removed on the day it was received",
        frame(doc("state", ALICE_S, label="removed same day"), ALICE_S), errors.RemovedAuthor,
        book=[Book("reader", READER_S), Book("alice", ALICE_S, removed=DAY)])
    unknown = hashlib.sha256(b"team unknown case").hexdigest()[:32]
    bad("unknown_case", "a valid record about a case the reader does not have",
        frame(doc("note", ALICE_S, label="unknown case", case=unknown), ALICE_S),
        errors.UnknownCase)
    replay = doc("state", BOB_S, label="replay")
    replayed = frame(replay, BOB_S)
    cases.append(TeamCase("replay", "one record delivered twice, in two envelopes: counted once",
                          [replayed, replayed], [f"success {replay['id']}"] * 2))
    missing = Drbg("record never delivered")(16).hex()
    orphan = doc("state", BOB_S, label="orphan", parents=[missing])
    ok("unknown_parents", "a valid record whose parent the reader has not seen: held", orphan,
       key=BOB_S)
    first = doc("state", ALICE_S, label="chain first")
    second = doc("state", BOB_S, label="chain second", parents=[first["id"]])
    cases.append(TeamCase("parent_then_child",
                          "a record and the one that had seen it, child first: nothing held",
                          [frame(second, BOB_S), frame(first, ALICE_S)],
                          [f"success {second['id']}", f"success {first['id']}"]))

    reply_doc = documents.encode({"format": "refuge-intake reply", "version": 1, "case": CASE,
                                  "reply": "1" * 32, "day": DAY, "text": "hello"})
    bad("not_a_team_record", "an envelope holding a reply document", reply_doc,
        errors.NotATeamRecord)
    bad("unknown_frame_version", "the frame's version is 0x0002",
        raw_frame(doc("note", ALICE_S, label="v2"), ALICE_S, magic=b"RFGREC\x00\x02"),
        errors.UnsupportedTeamRecord)
    bad("unknown_record_version", "the record's version is 2",
        raw_frame(dict(doc("note", ALICE_S, label="rv2"), version=2), ALICE_S),
        errors.UnsupportedTeamRecord)
    bad("trailing_byte", "one byte after the signature",
        raw_frame(doc("note", ALICE_S, label="trailing"), ALICE_S, trailing=b"\x00"),
        errors.TeamRecordError)
    unsorted = sorted(RECIPIENTS, key=lambda k: k.raw, reverse=True)
    bad("recipients_unsorted", "the recipients in descending order",
        raw_frame(doc("note", ALICE_S, label="unsorted"), ALICE_S, unsorted),
        errors.TeamRecordError)
    bad("unknown_kind", "a record of kind gossip",
        raw_frame(doc("note", ALICE_S, label="gossip") | {"kind": "gossip"}, ALICE_S),
        errors.TeamRecordError)
    bad("state_not_a_state", "a state change to `accepted`, not one of the states",
        raw_frame(doc("state", ALICE_S, label="accepted",
                      body={"state": "accepted", "reason": "x"}), ALICE_S),
        errors.TeamRecordError)
    return cases


def header_of(data: bytes) -> bytes:
    return data.partition(b"\n\n")[0]


def write_all(out: Path, *, force: bool = False,
              log: Callable[[str], None] = print) -> int:
    cases = team_cases()
    names = [c.name for c in cases]
    comments = [c.comment for c in cases]
    assert len(set(names)) == len(names) and len(set(comments)) == len(comments)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.txt"):
        if stale.stem not in names:
            stale.unlink()
    changed = 0
    for case in cases:
        case.check()
        path = out / f"{case.name}.txt"
        rendered = case.render()
        if force or not path.exists() or header_of(path.read_bytes()) != header_of(rendered):
            path.write_bytes(rendered)
            changed += 1
    log(f"team: {len(cases)} cases checked, {changed} written to {out}")
    return len(cases)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    write_all(args.out, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
