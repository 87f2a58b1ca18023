"""A case's team records as people read them: state, assignee, conflicts, history.

reviewer.team folds a case's verified records by their parents; this module
names what the fold found for the CLI and the desk: authors by the names this
home knows them by ("you" for this home's own keys), and each record as one
line of English. Nothing here decides anything the fold did not.

`CaseTeam.state` is "unverified" when no record sets a state, and
`CONFLICT` ("conflict") while the state heads disagree (`state_conflict`
then names each: who, and what she set); `assignee` is None for nobody and
while assignments disagree (`assignee_conflict`).

The named views of every case are kept in `team.env`, sealed to the home's
own keys like the index, with a digest of everything they were made from
(`views_key`): a command that finds them current decrypts one envelope
instead of every team record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from crypto.team import UNVERIFIED, TeamRecord
from reviewer.index import CONFLICT  # CaseTeam.state while state changes disagree
from reviewer.team import STATE_FIELDS, CaseView

#: The states that decide a case ("more-info" does not), as reviewer.index counts them.
DECISIONS = frozenset({"proceed", "refer", "decline"})


@dataclass(frozen=True)
class Entry:
    """One line of a case's history."""

    id: str  # the record id
    time: str  # the author's clock, "YYYY-MM-DDTHH:MM:SSZ" (display only)
    author: str  # the name this home knows the author by; "you" for this home's keys
    kind: str  # the record kind (docs/team.md)
    summary: str  # one line in English, e.g. "set the state to proceed", "assigned Bea"
    text: str  # the full text of a note, a reply, a state reason ("" if none)


@dataclass(frozen=True)
class Conflict:
    author: str  # who made this head
    value: str  # the state it set, or the assignee's name ("nobody" for null)


@dataclass(frozen=True)
class CaseTeam:
    state: str  # "unverified" when no state-setting record; CONFLICT while in conflict
    state_conflict: tuple[Conflict, ...]  # empty unless the state heads disagree
    assignee: str | None  # a colleague's name, "you", or None
    assignee_conflict: tuple[Conflict, ...]
    history: tuple[Entry, ...]  # the fold's order, oldest first
    held: int  # records waiting for a missing parent
    #: The member cities the case was referred to, one per `referral` record, in
    #: the history's order (a city twice if it got two dossiers).
    referred: tuple[str, ...] = ()
    #: The author's day (YYYY-MM-DD, from the record's time) of the first record in
    #: the history that set a deciding state (DECISIONS); "" if none.
    decided: str = ""

    @property
    def conflict(self) -> bool:
        return bool(self.state_conflict or self.assignee_conflict)


#: A case with no team records.
EMPTY = CaseTeam(UNVERIFIED, (), None, (), (), 0)

Namer = Callable[[str | None], str]


def summary(record: TeamRecord, name: Namer) -> tuple[str, str]:
    """(one line, full text) for a record."""
    body = record.body
    kind = record.kind
    if kind == "verification":
        return (f"recorded a verification: risk {body['risk']}, recommends"
                f" {body['recommendation']}", str(body["notes"]))
    if kind == "note":
        return "wrote a note", str(body["text"])
    if kind == "state":
        return f"set the state to {body['state']}", str(body["reason"])
    if kind == "assignment":
        who = body["assignee"]
        if who is None:
            return "unassigned the case (nobody)", ""
        return f"assigned {name(str(who))}", ""
    if kind == "reply":
        return "sent a reply to the applicant", str(body["text"])
    if kind == "file-saved":
        return f"saved a file as {body['name']!r}", ""
    if kind == "link":
        return (f"linked this case to {body['other']} ({body['relation']})",
                str(body["reason"]))
    if kind == "referral":
        files = ", ".join(str(f["number"]) for f in body["files"]) or "none"
        return (f"referred the case to {body['city']} (dossier {body['dossier']})",
                f"answers: {', '.join(body['answers']) or 'none'}; files: {files};"
                f" cover note: {'yes' if body['note'] else 'no'}; verification summary:"
                f" {'yes' if body['verification'] else 'no'}; consent: {body['consent']}")
    if kind == "consent":
        return "recorded the applicant's consent to share with member cities", str(body["how"])
    if kind == "dossier-answer":
        return (f"imported the answer of {body['city']} to dossier {body['dossier']}"
                f" (written {body['day']})", str(body["text"]))
    return kind, ""


def _decided(record: TeamRecord) -> str:
    """The author's day of a record that decides the case; "" for any other."""
    if record.kind in STATE_FIELDS and record.body[STATE_FIELDS[record.kind]] in DECISIONS:
        return record.time[:10]
    return ""


def named_view(view: CaseView, name: Namer) -> CaseTeam:
    """What the fold of one case says, named (`name`: a signing key text -> a name)."""
    history = tuple(
        Entry(r.id, r.time, name(r.author.to_text()), r.kind, *summary(r, name))
        for r in view.history
    )
    state_conflict = tuple(
        Conflict(name(r.author.to_text()), str(r.body[STATE_FIELDS[r.kind]]))
        for r in view.conflict
    )
    assignee_conflict = tuple(
        Conflict(name(r.author.to_text()), name(r.body["assignee"]))
        for r in view.assignment_conflict
    )
    assignee = None
    if view.assignee is not None and not assignee_conflict:
        assignee = name(view.assignee)
    return CaseTeam(
        state=CONFLICT if view.state is None else view.state,
        state_conflict=state_conflict,
        assignee=assignee,
        assignee_conflict=assignee_conflict,
        history=history,
        held=len(view.held),
        referred=tuple(str(r.body["city"]) for r in view.history if r.kind == "referral"),
        decided=next((d for d in map(_decided, view.history) if d), ""),
    )


# --- team.env: the named views, sealed to the home's own keys --------------------------

#: Bumped whenever what the views hold, or how they are made, changes.
VIEWS_VERSION = 2


def views_key(parts: Sequence[object]) -> str:
    """What the views were made from, as one digest (the cache is used only if it matches)."""
    data = json.dumps([VIEWS_VERSION, *parts], sort_keys=True, default=str).encode("utf-8")
    return hashlib.blake2b(data, digest_size=32, person=b"refuge-teamviews").hexdigest()


@dataclass
class Views:
    """Every case's named view, and the heads a new record on it names as parents."""

    cases: dict[str, CaseTeam]
    heads: dict[str, list[str]]


def dump_views(key: str, views: Views) -> bytes:
    return json.dumps({"key": key, "cases": {c: asdict(v) for c, v in views.cases.items()},
                       "heads": views.heads},
                      ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def load_views(data: bytes, key: str) -> Views | None:
    """The views in `data` if they were made from `key`; None otherwise (made again)."""
    try:
        doc = json.loads(data.decode("utf-8"))
        if doc["key"] != key:
            return None
        heads = {str(c): [str(h) for h in hs] for c, hs in doc["heads"].items()}
        return Views({
            case: CaseTeam(
                state=str(v["state"]),
                state_conflict=tuple(Conflict(**c) for c in v["state_conflict"]),
                assignee=v["assignee"],
                assignee_conflict=tuple(Conflict(**c) for c in v["assignee_conflict"]),
                history=tuple(Entry(**e) for e in v["history"]),
                held=int(v["held"]),
                referred=tuple(str(c) for c in v["referred"]),
                decided=str(v["decided"]),
            )
            for case, v in doc["cases"].items()
        }, heads)
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        return None


def after_own(view: CaseTeam, record: TeamRecord, name: Namer) -> CaseTeam:
    """A case's view after this home's own new record, made on the case's heads.

    Such a record has seen every record of the case, so it comes last in the
    history and is the only head: a decision sets the state and ends a state
    conflict, an assignment the assignee; nothing held changes. The same as
    folding everything again, without reading anything.
    """
    state, state_conflict = view.state, view.state_conflict
    assignee, assignee_conflict = view.assignee, view.assignee_conflict
    if record.kind in STATE_FIELDS:
        state, state_conflict = str(record.body[STATE_FIELDS[record.kind]]), ()
    if record.kind == "assignment":
        who = record.body["assignee"]
        assignee, assignee_conflict = (None if who is None else name(str(who))), ()
    entry = Entry(record.id, record.time, "you", record.kind, *summary(record, name))
    referred = view.referred
    if record.kind == "referral":
        referred = (*referred, str(record.body["city"]))
    return CaseTeam(state, state_conflict, assignee, assignee_conflict,
                    (*view.history, entry), view.held, referred,
                    view.decided or _decided(record))
