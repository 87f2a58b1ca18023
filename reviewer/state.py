"""The reviewer's bookkeeping (state.json), typed, and its one JSON mapping.

state.json holds no plaintext: ids, days, which stored envelope is what,
where each packed envelope lies, exported flags, the reviewer keys the last
bundle named and the colleagues' keys a person confirmed (reviewer.trust).
`parse` turns its bytes into a `State` once, checking every field; `dump`
turns a `State` back into the same bytes (sorted keys, no spaces), so a
state read and written unchanged is byte-identical. Nothing else in the
reviewer reads or writes the JSON: every other module uses these records.

The records are frozen. A change is a new `State` (`with_case`,
`with_verification`, …), which the caller saves; the state it was made from
still describes what is on disk if the save fails.

Versions: 2 added "packs" (where packed blobs lie); a version 1 state is read
as one with no packs. 3 added "reviewers", the confirmed colleague keys; an
older state is read as one with none confirmed (`predates_trust` says so):
the keys its bundles named are reported as unconfirmed, never trusted, and
nothing more is sealed to them. Older states are written back as version 3,
which an older tool refuses (it would seal to every key a bundle names).
A reply's optional "exported_on" (the day of its first export) came later
within version 3: a reply without it reads as one whose export day is unknown,
and a version 3 tool that predates it ignores it (and drops it when it writes).
4 added team records (docs/team.md): "team", each stored team envelope's id
and the day this home received (or made) it, and "team_outbox", the ids of
team envelopes not yet sent; a confirmed key's optional "removed" day
(`keys remove` keeps the colleague, so her records received before that day
stay and later ones are refused). Nothing about a record's author, kind or
case is here: that is inside the envelopes; the register of member cities,
referrals, consents and coordinators' answers are team records too. (Before
any release, version 4 also held "cities" and per-case "referrals" and
"consents"; a state that has them is read with them ignored and written
without them.) A state that uses none of these is still written as version
3 (byte-identical, and an older tool reads it); one that does is written as
version 4, which a version 3 tool refuses (it would take a removed colleague
for a confirmed one).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from crypto.errors import InvalidPublicKey
from crypto.ids import is_id
from crypto.keys import PublicKey
from reviewer.errors import NotFound

if TYPE_CHECKING:  # every command reads the state; only an import needs crypto.bundle
    from crypto.bundle import SubmissionRecord

STATE_VERSION = 4
READABLE_STATE_VERSIONS = (1, 2, 3, 4)
#: What a state that uses nothing of version 4 is written as (State.needs_version_4).
PLAIN_STATE_VERSION = 3

Kind = Literal["application", "followup"]
KINDS: tuple[Kind, ...] = ("application", "followup")


class StateError(ValueError):
    """state.json does not hold what this tool writes (the sentence says what)."""


@dataclass(frozen=True, slots=True)
class Submission:
    """One submission of a case: its answers envelope and attachment envelopes."""

    id: str
    day: str
    kind: Kind
    answers: str
    attachments: tuple[str, ...]
    #: Whether the answers were sealed to this home's keys when imported.
    readable: bool

    @classmethod
    def from_record(cls, sub: SubmissionRecord, readable: bool) -> Submission:
        kind = sub.kind
        if kind not in KINDS:  # crypto.bundle checked it; a new kind needs a new version
            raise StateError(f"a submission of unknown kind {kind!r}")
        return cls(sub.submission, sub.day, kind, sub.answers, tuple(sub.attachments), readable)


@dataclass(frozen=True, slots=True)
class Verification:
    """A verification record: the envelope holding it, and the day it was made."""

    blob: str
    day: str


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply to the applicant, sealed in `blob`; exported once in a replies bundle.

    Until it is exported it waits in the outbox and may be edited or withdrawn;
    once exported it is final.
    """

    id: str
    day: str
    blob: str
    exported: bool
    #: The day of its first export; "" if not exported, or exported by a version
    #: that did not record the day.
    exported_on: str = ""


@dataclass(frozen=True, slots=True)
class Case:
    #: The applicant's reply key, as text (crypto.keys.PublicKey.to_text).
    reply_key: str
    #: The day of the earliest submission.
    received: str
    #: Ordered by day, an application before the follow-ups of its day.
    submissions: tuple[Submission, ...] = ()
    verifications: tuple[Verification, ...] = ()
    replies: tuple[Reply, ...] = ()

    @property
    def followups(self) -> int:
        return [s.kind for s in self.submissions].count("followup")


@dataclass(frozen=True, slots=True)
class ConfirmedKey:
    """A colleague's public key that a person confirmed by fingerprint (reviewer.trust)."""

    name: str
    key: PublicKey
    added: str
    #: The day `keys remove` stopped trusting the key; "" while it is trusted.
    removed: str = ""

    @property
    def active(self) -> bool:
        return not self.removed


#: Where packed blobs lie: pack id -> blob id -> (offset, length) in that pack.
Packs = Mapping[str, Mapping[str, tuple[int, int]]]


@dataclass(frozen=True)
class State:
    cases: Mapping[str, Case] = field(default_factory=dict)
    #: The reviewer keys the last imported bundle named, as text: bookkeeping
    #: only, reported if not trusted, never sealed to.
    server_keys: tuple[str, ...] = ()
    reviewers: tuple[ConfirmedKey, ...] = ()
    packs: Packs = field(default_factory=dict)
    #: Read from a version before confirmed keys (written back as the current one).
    predates_trust: bool = False
    #: Team envelopes stored (reviewer.teamstore): blob id -> the day this home
    #: received or made it (the day a record's author check uses).
    team: Mapping[str, str] = field(default_factory=dict)
    #: Team envelopes waiting for the next outbox bundle, in the order made.
    team_outbox: tuple[str, ...] = ()

    # --- reading --------------------------------------------------------------

    def case(self, case_id: str) -> Case:
        """The case with this full id; NotFound if this home has none."""
        found = self.cases.get(case_id)
        if found is None:
            raise NotFound(f"no case {case_id!r}")
        return found

    def named_keys(self) -> list[PublicKey]:
        """The reviewer keys the last imported bundle named (trusted or not)."""
        return [PublicKey.from_text(text) for text in self.server_keys]

    # --- changes (each a new State) -------------------------------------------

    def with_case(self, case_id: str, case: Case) -> State:
        return replace(self, cases={**self.cases, case_id: case})

    def with_verification(self, case_id: str, verification: Verification) -> State:
        case = self.cases[case_id]
        return self.with_case(
            case_id, replace(case, verifications=(*case.verifications, verification))
        )

    def with_reply(self, case_id: str, reply: Reply) -> State:
        case = self.cases[case_id]
        return self.with_case(case_id, replace(case, replies=(*case.replies, reply)))

    def with_exported(self, replies: Iterable[str], day: str = "") -> State:
        """The replies with these ids marked exported (on `day`, if not exported before)."""
        done = set(replies)
        cases = dict(self.cases)
        for case_id, case in self.cases.items():
            if any(r.id in done for r in case.replies):
                cases[case_id] = replace(case, replies=tuple(
                    (r if r.exported else replace(r, exported=True, exported_on=day))
                    if r.id in done else r
                    for r in case.replies
                ))
        return replace(self, cases=cases)

    def with_reply_blob(self, case_id: str, reply_id: str, blob: str, day: str) -> State:
        """The reply `reply_id` of a case now sealed in `blob`, written on `day` (an edit)."""
        case = self.cases[case_id]
        return self.with_case(case_id, replace(case, replies=tuple(
            replace(r, blob=blob, day=day) if r.id == reply_id else r for r in case.replies
        )))

    def without_reply(self, case_id: str, reply_id: str) -> State:
        """The case without the reply `reply_id` (withdrawn)."""
        case = self.cases[case_id]
        return self.with_case(case_id, replace(
            case, replies=tuple(r for r in case.replies if r.id != reply_id)
        ))

    def with_pack(self, pack: str, entries: Mapping[str, tuple[int, int]]) -> State:
        return replace(self, packs={**self.packs, pack: dict(entries)})

    def with_reviewers(self, reviewers: Iterable[ConfirmedKey]) -> State:
        return replace(self, reviewers=tuple(reviewers))

    def with_server_keys(self, keys: Iterable[PublicKey]) -> State:
        return replace(self, server_keys=tuple(k.to_text() for k in keys))

    def active_reviewers(self) -> tuple[ConfirmedKey, ...]:
        """The confirmed colleagues not removed: the only ones anything is sealed to."""
        return tuple(c for c in self.reviewers if c.active)

    def with_team(self, blobs: Mapping[str, str], *, outbox: Iterable[str] = ()) -> State:
        """With these team envelopes stored (blob -> day), and `outbox` waiting to be sent."""
        return replace(self, team={**self.team, **blobs},
                       team_outbox=(*self.team_outbox, *outbox))

    def with_outbox(self, blobs: Iterable[str]) -> State:
        """With envelopes waiting to be sent that this home does not read (announcements,
        records shared to one colleague)."""
        return replace(self, team_outbox=(*self.team_outbox, *blobs))

    def with_sent(self, blobs: Iterable[str]) -> State:
        done = set(blobs)
        return replace(self, team_outbox=tuple(b for b in self.team_outbox if b not in done))

    @property
    def needs_version_4(self) -> bool:
        """Whether this state needs version 4: team envelopes or a removed colleague (a
        version 3 tool would misread or drop them)."""
        return bool(self.team or self.team_outbox or any(c.removed for c in self.reviewers))


# --- the JSON mapping ---------------------------------------------------------------


def parse(data: bytes) -> State:
    """A state.json's bytes as a State, every field checked (StateError if not)."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise StateError(str(e)) from None
    if not isinstance(doc, dict) or doc.get("version") not in READABLE_STATE_VERSIONS:
        raise UnknownVersion("it was written by an unknown version")
    try:
        cases = doc["cases"]
        if not isinstance(cases, dict):
            raise StateError("its cases are not a table")
        return State(
            cases=_cases(cases),
            server_keys=tuple(_str(k) for k in _list(doc.get("server_keys", []))),
            reviewers=_reviewers(doc.get("reviewers", [])),
            packs=_packs(doc.get("packs", {})),
            predates_trust=doc["version"] < 3,
            team=_team(doc.get("team", {})),
            team_outbox=_outbox(doc.get("team_outbox", [])),
        )
    except StateError:
        raise
    except (KeyError, TypeError, AttributeError):
        raise StateError("a case entry is malformed") from None


class UnknownVersion(StateError):
    """state.json names a version this tool does not read."""


def dump(state: State) -> bytes:
    """The bytes of state.json for `state` (always the current version)."""
    v4 = state.needs_version_4
    doc: dict[str, Any] = {
        "version": STATE_VERSION if v4 else PLAIN_STATE_VERSION,
        "server_keys": state.server_keys,
        "reviewers": [
            {"name": c.name, "key": c.key.to_text(), "added": c.added,
             **({"removed": c.removed} if c.removed else {})}
            for c in state.reviewers
        ],
        "cases": {case_id: _case_json(case) for case_id, case in state.cases.items()},
        "packs": {
            pack: dict(entries)  # (offset, length) tuples, written as arrays
            for pack, entries in state.packs.items()
        },
    }
    if v4:
        doc["team"] = dict(state.team)
        doc["team_outbox"] = list(state.team_outbox)
    # Compact: with `indent`, json falls back to its pure-Python encoder,
    # which took most of a second for 10,000 cases.
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _case_json(case: Case) -> dict[str, Any]:
    # json writes a tuple as an array: the records' tuples go out as they are.
    return {
        "reply_key": case.reply_key,
        "received": case.received,
        "submissions": [
            {"id": s.id, "day": s.day, "kind": s.kind, "answers": s.answers,
             "attachments": s.attachments, "readable": s.readable}
            for s in case.submissions
        ],
        "verifications": [
            {"blob": v.blob, "day": v.day} for v in case.verifications
        ] if case.verifications else [],
        "replies": [
            # exported_on only when known: a state without it is written back unchanged.
            {"id": r.id, "day": r.day, "blob": r.blob, "exported": r.exported,
             **({"exported_on": r.exported_on} if r.exported_on else {})}
            for r in case.replies
        ] if case.replies else [],
    }


def _str(value: object) -> str:
    if type(value) is not str:
        raise StateError("a case entry is malformed")
    return value


def _bool(value: object) -> bool:
    if type(value) is not bool:
        raise StateError("a case entry is malformed")
    return value


def _list(value: object) -> list[Any]:
    if type(value) is not list:
        raise StateError("a case entry is malformed")
    return value


def _cases(entries: dict[str, Any]) -> dict[str, Case]:
    """Every case entry of state.json as a checked Case: the speed-critical part of `parse`.

    Every command reads the whole state, so for a home of 10,000 cases this
    runs for 10,000 cases and as many submissions. The same checks as plain
    code would make, made cheaply (10,000 one-submission cases, in one process
    with the collector paused as a command has it; CPU time, best of 15):

    - all in one function, each field read and type-checked in one expression,
      no helper call per field (0.07 s with a function call per case and one per
      checked field, before);
    - the case ids (the keys) checked all at once (`_all_ids`).

    Removing these changes speed, never the result. (Records made by setting
    their slots instead of through `__init__` saved 0.010 s of the 0.040 s this
    takes, and were taken out for clarity on 2026-12-01: docs/performance.md.)
    Ids other than the case's are checked as text only: a blob is read by its
    id through reviewer.blobs, which refuses one that is not an id (a path
    component).
    """
    if not _all_ids(entries):
        raise StateError("a case id is not an id")
    kinds = KINDS
    cases: dict[str, Case] = {}
    for case_id, v in entries.items():
        reply_key, received = v["reply_key"], v["received"]
        subs, verifs, replies = v["submissions"], v["verifications"], v["replies"]
        if not (type(reply_key) is str and type(received) is str and type(subs) is list
                and type(verifs) is list and type(replies) is list):
            raise StateError("a case entry is malformed")
        submissions: list[Submission] = []
        for s in subs:
            sub_id, day, kind, answers = s["id"], s["day"], s["kind"], s["answers"]
            attachments, readable = s["attachments"], s["readable"]
            if not (type(sub_id) is str and type(day) is str and kind in kinds
                    and type(answers) is str and type(attachments) is list
                    and type(readable) is bool):
                raise StateError("a submission entry is malformed")
            if attachments and not all(type(a) is str for a in attachments):
                raise StateError("a submission entry is malformed")
            submissions.append(
                Submission(sub_id, day, kind, answers, tuple(attachments), readable)
            )
        cases[case_id] = Case(
            reply_key,
            received,
            tuple(submissions),
            tuple([
                Verification(_str(r["blob"]), _str(r["day"])) for r in verifs
            ]) if verifs else (),
            tuple([
                Reply(_str(r["id"]), _str(r["day"]), _str(r["blob"]), _bool(r["exported"]),
                      _str(r.get("exported_on", "")))
                for r in replies
            ]) if replies else (),
        )
    return cases


_HEX = re.compile(r"[0-9a-f]*")


def _all_ids(values: Iterable[str]) -> bool:
    """Whether every value is an id (crypto.ids.is_id), checked in two passes in C:
    every length 32, and the values joined all lowercase hex digits."""
    values = list(values)
    return (all(type(v) is str for v in values)
            and set(map(len, values)) <= {32}
            and _HEX.fullmatch("".join(values)) is not None)


def _reviewers(entries: object) -> tuple[ConfirmedKey, ...]:
    if not isinstance(entries, list):
        raise StateError("its confirmed reviewer keys are not a list")
    keys: list[ConfirmedKey] = []
    for entry in entries:
        if not (
            isinstance(entry, dict)
            and set(entry) - {"removed"} == {"name", "key", "added"}
            and all(isinstance(v, str) for v in entry.values())
            and entry.get("removed", "x") != ""
        ):
            raise StateError("a confirmed reviewer key entry is malformed")
        try:
            key = PublicKey.from_text(entry["key"])
        except InvalidPublicKey:
            raise StateError("a confirmed reviewer key is not a valid public key") from None
        keys.append(ConfirmedKey(entry["name"], key, entry["added"], entry.get("removed", "")))
    return tuple(keys)


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _team(entries: object) -> dict[str, str]:
    """The stored team envelopes: blob id -> day received."""
    if not isinstance(entries, dict) or not _all_ids(entries):
        raise StateError("its team envelopes are not a table of ids")
    if not all(type(d) is str and _DAY.fullmatch(d) for d in entries.values()):
        raise StateError("a team envelope's day is malformed")
    return dict(entries)


def _outbox(entries: object) -> tuple[str, ...]:
    if type(entries) is not list or not _all_ids(entries):
        raise StateError("its team outbox is not a list of ids")
    return tuple(entries)


def _packs(packs: object) -> dict[str, dict[str, tuple[int, int]]]:
    """Where each packed blob lies, checked: ids are path components, ranges numbers."""
    if not isinstance(packs, dict):
        raise StateError("its packs are not a table")
    table: dict[str, dict[str, tuple[int, int]]] = {}
    for pack, entries in packs.items():
        if not is_id(pack) or not isinstance(entries, dict):
            raise StateError("a pack entry is malformed")
        located: dict[str, tuple[int, int]] = {}
        # The blob ids all at once (`_all_ids`): a pack of 10,000 envelopes is
        # read by every command, and is_id per blob was a tenth of `_packs`.
        if not _all_ids(entries):
            raise StateError("a packed blob entry is malformed")
        for blob, where in entries.items():
            # Written out: a pack of 10,000 envelopes is read by every command.
            if not (
                type(where) is list
                and len(where) == 2
                and type(where[0]) is int
                and type(where[1]) is int
                and where[0] >= 0
                and where[1] >= 0
            ):
                raise StateError("a packed blob entry is malformed")
            located[blob] = (where[0], where[1])
        table[pack] = located
    return table
