"""Thin stand-ins for the shared modules the desk builds on, until they are merged.

The names and shapes follow the interfaces fixed for reviewer.caselist (Casebook,
Filters, CaseRow) and reviewer.casefile (case_file and its views, the outbox
verbs); crypto's reply display rule is the applicant page's (escape, keep line
breaks). Each stand-in does the least that lets the desk's pages and tests
work; when the real modules land, the desk imports those instead
(reviewer/desk/parts.py is the one place that says where each name comes
from) and this file goes.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from html import escape
from typing import Any, Literal

from crypto import envelope
from crypto.errors import NoMatch
from reviewer import filetypes
from reviewer.errors import ReviewerError
from reviewer.home import Home, Keys
from reviewer.index import UNVERIFIED
from reviewer.metadata import read_metadata
from reviewer.saving import strippable
from reviewer.state import State

Mark = Literal["new", "updated", ""]

URGENCIES = (
    ("immediate", "I am in danger now (days)"),
    ("weeks", "Within weeks"),
    ("months", "Within months"),
    ("not urgent", "Not urgent"),
)


@dataclass(frozen=True, slots=True)
class CaseRow:
    case: str
    name: str
    country: str
    profession: str
    urgency: str
    urgency_label: str
    urgency_rank: int
    state: str
    received: str
    last_activity: str
    files: int
    followups: int
    readable: bool
    mark: Mark


@dataclass(frozen=True, slots=True)
class Filters:
    state: str | None = None
    urgency: str | None = None
    country: str | None = None
    profession: str | None = None
    mark: Mark | None = None
    text: str = ""


class Casebook:
    """Stand-in: every answers document decrypted once, kept in memory."""

    def __init__(self, home: Home, keys: Keys, *, state: State | None = None) -> None:
        self.home = home
        self.keys = keys
        self._opened: dict[str, int] = {}
        self._load(state if state is not None else home.load_state())

    def refresh(self) -> None:
        self._load(self.home.load_state())

    def _load(self, state: State) -> None:
        self.state = state
        store = self.home.store(self.state)
        self._docs: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for case_id, case in self.state.cases.items():
            docs: list[tuple[str, dict[str, Any]]] = []
            for sub in case.submissions:
                if not sub.readable:
                    continue
                try:
                    docs.append((sub.kind, store.open_json(sub.answers, self.keys)))
                except NoMatch:
                    continue
            self._docs[case_id] = docs
        self._index = self.home.fresh_index(self.state, self.keys)

    def _row(self, case_id: str) -> CaseRow:
        case = self.state.cases[case_id]
        entry = self._index.get(case_id, {})
        urgency = ""
        for kind, doc in self._docs.get(case_id, []):
            if kind == "application":
                urgency = str(doc.get("answers", {}).get("urgency", ""))
        ranks = {value: i for i, (value, _) in enumerate(URGENCIES)}
        labels = dict(URGENCIES)
        days = [s.day for s in case.submissions] + [v.day for v in case.verifications] + [
            r.day for r in case.replies]
        seen = self._opened.get(case_id)
        mark: Mark = "new" if seen is None else (
            "updated" if len(case.submissions) > seen else "")
        return CaseRow(
            case_id, str(entry.get("name", "")), str(entry.get("country", "")),
            str(entry.get("profession", "")), urgency, labels.get(urgency, urgency),
            ranks.get(urgency, len(URGENCIES)), str(entry.get("state", UNVERIFIED)),
            case.received, max(days, default=case.received), int(entry.get("attachments", 0)),
            case.followups, bool(entry.get("readable", True)), mark,
        )

    def rows(self, filters: Filters = Filters()) -> list[CaseRow]:
        out = []
        needle = filters.text.casefold()
        for case_id in self.state.cases:
            row = self._row(case_id)
            if filters.state and row.state != filters.state:
                continue
            if filters.urgency and row.urgency != filters.urgency:
                continue
            if filters.country and row.country != filters.country:
                continue
            if filters.profession and row.profession != filters.profession:
                continue
            if filters.mark and row.mark != filters.mark:
                continue
            if needle and not any(
                needle in json.dumps(doc.get("answers", {}), ensure_ascii=False).casefold()
                for _, doc in self._docs.get(case_id, [])
            ):
                continue
            out.append(row)
        out.sort(key=lambda r: r.case)
        out.sort(key=lambda r: r.last_activity, reverse=True)
        out.sort(key=lambda r: r.urgency_rank)
        return out

    def choices(self) -> dict[str, list[str]]:
        rows = self.rows()
        return {
            "state": sorted({r.state for r in rows}),
            "urgency": [u for u, _ in URGENCIES if any(r.urgency == u for r in rows)],
            "country": sorted({r.country for r in rows if r.country}),
            "profession": sorted({r.profession for r in rows if r.profession}),
        }

    def opened(self, case_id: str) -> None:
        self._opened[case_id] = len(self.state.cases[case_id].submissions)


@dataclass(frozen=True, slots=True)
class Answer:
    key: str
    question: str
    value: str


@dataclass(frozen=True, slots=True)
class FileView:
    submission: str
    number: int
    name: str
    size: int
    claimed_type: str
    detected_type: str
    warnings: tuple[str, ...]
    metadata: tuple[tuple[str, str], ...]
    strippable: bool


@dataclass(frozen=True, slots=True)
class SubmissionView:
    id: str
    day: str
    kind: str
    readable: bool
    answers: tuple[Answer, ...]
    files: tuple[FileView, ...]


@dataclass(frozen=True, slots=True)
class VerificationView:
    day: str
    reviewer: str
    identity: str
    work: str
    persecution: str
    risk: str
    recommendation: str
    notes: str
    readable: bool


@dataclass(frozen=True, slots=True)
class ReplyView:
    id: str
    day: str
    text: str
    exported: bool
    readable: bool


@dataclass(frozen=True, slots=True)
class CaseFile:
    case: str
    received: str
    submissions: tuple[SubmissionView, ...]
    verifications: tuple[VerificationView, ...]
    replies: tuple[ReplyView, ...]


def case_file(home: Home, state: State, keys: Keys, case_id: str) -> CaseFile:
    record = state.cases[case_id]
    store = home.store(state)
    subs = []
    for sub in record.submissions:
        try:
            if not sub.readable:
                raise NoMatch()
            doc = store.open_json(sub.answers, keys)
        except NoMatch:
            subs.append(SubmissionView(sub.id, sub.day, sub.kind, False, (), ()))
            continue
        answers = tuple(
            Answer(k, k.replace("_", " ").capitalize(),
                   ", ".join(v) if isinstance(v, list) else str(v))
            for k, v in doc.get("answers", {}).items() if v
        )
        files = []
        for n, a in enumerate(doc.get("attachments", []), 1):
            data = store.read_blob(a["blob"])
            plain = envelope.decrypt_bytes(data, keys.private)
            detected = filetypes.detect_type(plain)
            warnings = []
            if not filetypes.types_agree(str(a["type"]), detected):
                warnings.append("The content is not what was claimed; handle with care.")
            if detected in filetypes.EXECUTABLE_TYPES:
                warnings.append("This is a program; do not run it.")
            files.append(FileView(sub.id, n, str(a["name"]), len(plain), str(a["type"]), detected,
                                  tuple(warnings), read_metadata(plain, detected),
                                  strippable(detected)))
        subs.append(SubmissionView(sub.id, sub.day, sub.kind, True, answers, tuple(files)))
    verifs = []
    for v in record.verifications:
        try:
            d = store.open_json(v.blob, keys)
        except NoMatch:
            verifs.append(VerificationView(v.day, "", "", "", "", "", "", "", False))
            continue
        f = {k: str(d.get(k, "")) for k in ("reviewer", "identity", "work", "persecution",
                                              "risk", "recommendation", "notes")}
        verifs.append(VerificationView(v.day, f["reviewer"], f["identity"], f["work"],
                                       f["persecution"], f["risk"], f["recommendation"],
                                       f["notes"], True))
    replies = []
    for r in record.replies:
        try:
            text = str(store.open_json(r.blob, keys).get("text", ""))
            replies.append(ReplyView(r.id, r.day, text, r.exported, True))
        except NoMatch:
            replies.append(ReplyView(r.id, r.day, "", r.exported, False))
    return CaseFile(case_id, record.received, tuple(subs), tuple(verifs), tuple(replies))


class ReplyFinal(ReviewerError):
    """The reply was exported already: it can no longer be changed."""


def _outbox_change(home: Home, case_id: str, reply_id: str, text: str | None) -> State:
    from crypto.keys import PublicKey
    from reviewer.state import Reply

    with home.lock():
        state = home.load_state()
        case = state.cases[case_id]
        reply = next(r for r in case.replies if r.id == reply_id)
        if reply.exported:
            raise ReplyFinal("the reply was exported and is final: it can no longer be edited or"
                             " withdrawn (write a new reply instead)")
        replies: tuple[Reply, ...] = tuple(r for r in case.replies if r.id != reply_id)
        if text is not None:
            doc = {"format": "refuge-intake reply", "version": 1, "case": case_id,
                   "reply": reply_id, "day": reply.day, "text": text}
            applicant = PublicKey.from_text(case.reply_key)
            others = [k for k in home.reviewer_recipients(state) if k.key_id != applicant.key_id]
            blob = home.store(state).seal_json(doc, [applicant, *others])
            replies = tuple(dataclasses.replace(r, blob=blob) if r.id == reply_id else r
                            for r in case.replies)
        state = state.with_case(case_id, dataclasses.replace(case, replies=replies))
        home.save_state(state)
        return state


def edit_reply(home: Home, case_id: str, reply_id: str, text: str) -> State:
    return _outbox_change(home, case_id, reply_id, text)


def withdraw_reply(home: Home, case_id: str, reply_id: str) -> State:
    return _outbox_change(home, case_id, reply_id, None)


def reply_html(text: str) -> str:
    """The applicant page's rule: escaped, paragraphs on blank lines, <br> on single breaks."""
    paragraphs = [p for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "".join(
        '<p dir="auto">' + "<br>".join(escape(line, quote=True) for line in p.split("\n"))
        + "</p>" for p in paragraphs
    )
