"""One case, decrypted in memory, as the reviewer reads it: `reviewer show` and the desk.

`case_file` opens everything of a case this home's keys can open (each
submission's answers and files, the verification records, the replies) and
returns typed, display-ready records: answers under the form's own questions
(crypto/answersform.py), in the form's order, a choice shown by its label,
empty answers left out and names the form does not know after the known ones,
under their name; each file with its size, the type claimed and the type seen
in its content, and the warnings a reviewer must not miss. The CLI prints
these records (reviewer/cli.py, `show`), the desk renders them; neither opens
an envelope itself, so both show the same thing.

Nothing here is written anywhere: the plaintext lives in these records, in
memory, for as long as the caller keeps them. Text that came from outside is
kept as it came except the file names and claimed types, which are made
inert here (reviewer.inert) since every display shows them on one line;
answers, records and replies are made inert (a terminal) or escaped (a page)
by whoever displays them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crypto import answersform, documents
from crypto.errors import NoMatch
from reviewer import filetypes, saving
from reviewer.blobs import BlobStore
from reviewer.home import Home
from reviewer.inert import inert
from reviewer.keyring import Keys
from reviewer.metadata import read_metadata
from reviewer.state import State, Submission

#: The types of which a copy without metadata can be made (JPEG and PNG).

MISMATCH = "the content is not what was claimed; handle with care"
PROGRAM = "this is a program; do not run it"
NOT_YOURS = "not addressed to your key; it cannot be opened here"


@dataclass(frozen=True, slots=True)
class Answer:
    key: str  # the answer's name in the document
    question: str  # the form's English question; the key itself for a name the form lacks
    value: str  # a list answer joined by ", "; a choice shown by the form's label


@dataclass(frozen=True, slots=True)
class FileView:
    submission: str
    number: int  # 1-based within its submission
    name: str  # the applicant's name for it (inert text)
    size: int  # decrypted; the size the browser reported if it could not be opened
    claimed_type: str  # as the browser sent it (inert text), possibly ""
    detected_type: str  # seen in the content; "" if it could not be opened
    warnings: tuple[str, ...]  # mismatch, program, a size other than reported, not yours
    metadata: tuple[tuple[str, str], ...]  # (label, value) found in the file
    strippable: bool  # JPEG/PNG: a copy without metadata can be saved


@dataclass(frozen=True, slots=True)
class SubmissionView:
    id: str
    day: str
    kind: str  # "application" or "followup"
    readable: bool  # False: not sealed to this home's keys (answers and files empty)
    answers: tuple[Answer, ...]  # the form's order, empty answers left out
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
    exported: bool  # exported = final: it can no longer be edited or withdrawn
    readable: bool


@dataclass(frozen=True, slots=True)
class CaseFile:
    case: str
    received: str
    submissions: tuple[SubmissionView, ...]
    verifications: tuple[VerificationView, ...]
    replies: tuple[ReplyView, ...]


def case_file(home: Home, state: State, keys: Keys, case_id: str) -> CaseFile:
    """Everything of case `case_id` (a full id) these keys open; NotFound for an unknown case."""
    case = state.case(case_id)
    store = home.store(state)
    return CaseFile(
        case_id,
        case.received,
        tuple(_submission(store, keys, sub) for sub in case.submissions),
        tuple(_verification(store, keys, v.blob, v.day) for v in case.verifications),
        tuple(_reply(store, keys, r.id, r.day, r.blob, r.exported) for r in case.replies),
    )


def answers_in_order(kind: str, answers: dict[str, Any],
                     version: int = documents.SUBMISSION_VERSION) -> tuple[Answer, ...]:
    """The answers under the form's questions, in its order; empty ones left out.

    Names the form of `kind` does not have follow, in name order, under their name.
    `version`: the answers document's; in version 1 the country is the applicant's
    text, shown as written (from version 2 it is a code, shown by its English name).
    """
    form = answersform.forms().get(kind)
    questions = form.questions if form is not None else ()
    known = {q.key for q in questions}
    out: list[Answer] = []
    for q in questions:
        if q.key in answers:
            value = _text(answers[q.key])
            if value.strip():
                as_written = q.input == "country" and version < 2
                out.append(Answer(q.key, q.question, value if as_written else q.label_of(value)))
    for key in sorted(set(answers) - known):
        value = _text(answers[key])
        if value.strip():
            out.append(Answer(key, key, value))
    return tuple(out)


def _text(value: Any) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)


def _submission(store: BlobStore, keys: Keys, sub: Submission) -> SubmissionView:
    try:
        if not sub.readable:
            raise NoMatch()
        doc = store.open_json(sub.answers, keys)
    except NoMatch:
        return SubmissionView(sub.id, sub.day, sub.kind, False, (), ())
    answers = doc.get("answers", {})
    files = tuple(
        _file(store, keys, sub.id, number, entry)
        for number, entry in enumerate(doc.get("attachments", []), 1)
    )
    return SubmissionView(sub.id, sub.day, sub.kind, True,
                          answers_in_order(sub.kind, answers if isinstance(answers, dict) else {},
                                           _version(doc)),
                          files)


def _version(doc: dict[str, Any]) -> int:
    version = doc.get("version")
    return version if type(version) is int else documents.SUBMISSION_VERSION


def _file(store: BlobStore, keys: Keys, submission: str, number: int,
          entry: dict[str, Any]) -> FileView:
    name = inert(str(entry["name"]), multiline=False)
    claimed = inert(str(entry["type"]), multiline=False)
    reported = int(entry["size"])
    try:
        data = saving.decrypted(store, keys, entry["blob"])
    except NoMatch:
        return FileView(submission, number, name, reported, claimed, "", (NOT_YOURS,), (), False)
    return file_view(submission, number, entry, data)


def file_view(submission: str, number: int, entry: Mapping[str, Any], data: bytes) -> FileView:
    """What a decrypted file is (its detected type against the claimed one, its metadata),
    from its listing `entry` (name, type, size): a case's file or a dossier's."""
    name = inert(str(entry["name"]), multiline=False)
    claimed = inert(str(entry["type"]), multiline=False)
    reported = int(entry["size"])
    detected = filetypes.detect_type(data)
    warnings: list[str] = []
    if detected in filetypes.EXECUTABLE_TYPES:
        warnings.append(PROGRAM)
    elif not filetypes.types_agree(str(entry["type"]), detected):
        warnings.append(MISMATCH)
    if len(data) != reported:
        warnings.append(f"the applicant's browser reported {reported:,} bytes")
    return FileView(submission, number, name, len(data), claimed, detected, tuple(warnings),
                    read_metadata(data, detected), saving.strippable(detected))


def _verification(store: BlobStore, keys: Keys, blob: str, day: str) -> VerificationView:
    try:
        doc = store.open_json(blob, keys)
    except NoMatch:
        return VerificationView(day, "", "", "", "", "", "", "", False)

    def field(name: str) -> str:
        value = doc.get(name, "")
        return "" if value is None else str(value)

    return VerificationView(day, field("reviewer"), field("identity"), field("work"),
                            field("persecution"), field("risk"), field("recommendation"),
                            field("notes"), True)


def _reply(store: BlobStore, keys: Keys, reply_id: str, day: str, blob: str,
           exported: bool) -> ReplyView:
    try:
        text = str(store.open_json(blob, keys).get("text", ""))
    except NoMatch:
        return ReplyView(reply_id, day, "", exported, False)
    return ReplyView(reply_id, day, text, exported, True)
