"""`reviewer show` as terminal text: a case file (reviewer.casefile) wrapped to the terminal.

Every piece of text that came from outside goes through reviewer.inert first,
so no control, bidi or invisible character reaches the terminal; then lines
are wrapped by display width (wcwidth: a Chinese character takes two columns,
a combining accent none), at spaces where there are any and between
characters where there are none. Arabic and Persian are printed in logical
order: how they are shaped and ordered on screen is the terminal's doing, and
the desk shows them properly.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from reviewer.casefile import Answer, CaseFile, FileView, SubmissionView
from reviewer.columns import char_width, display_width
from reviewer.inert import inert

if TYPE_CHECKING:
    from reviewer.referrals import ReferralView

#: Below this many columns lines are wrapped as if the terminal were this wide.
MIN_WIDTH = 40
INDENT = "    "
TAB = "    "
_TOKENS = re.compile(r"\S+|\s+")


def _take(word: str, room: int) -> tuple[str, str]:
    """The longest start of `word` within `room` columns (at least one character, never
    leaving a combining mark apart from its letter), and the rest."""
    used = 0
    for i, ch in enumerate(word):
        w = char_width(ch)
        if i and w and used + w > room:
            return word[:i], word[i:]
        used += w
    return word, ""


def wrap_line(line: str, width: int, indent: str = "", hanging: str | None = None) -> list[str]:
    """One line of inert text, wrapped to `width` columns: the first piece after `indent`,
    the others after `hanging` (`indent` if not given). Breaks at spaces; a word longer
    than a line is broken between characters."""
    rest = indent if hanging is None else hanging
    rooms = (max(width - display_width(indent), 1), max(width - display_width(rest), 1))
    out: list[str] = []
    current, used = "", 0

    def room() -> int:
        return rooms[1 if out else 0]

    for token in _TOKENS.findall(line.replace("\t", TAB)):
        w = display_width(token)
        if token.isspace():
            if current or not out:  # spaces at the start of the line indent it
                current, used = current + token, used + w
            continue
        if used + w > room() and current.strip():
            out.append(current.rstrip())
            current, used = "", 0
        elif used + w > room():
            current, used = "", 0  # only spaces so far: they give way to the word
        while w > room():
            piece, token = _take(token, room())
            out.append(piece)
            w = display_width(token)
        current, used = current + token, used + w
    if current.strip() or not out:
        out.append(current.rstrip())
    return [(rest if i else indent) + piece if piece else "" for i, piece in enumerate(out)]


def wrap(text: str, width: int, indent: str = "") -> list[str]:
    """Inert text of any number of lines, each wrapped; blank lines kept."""
    lines: list[str] = []
    for line in text.split("\n"):
        lines.extend(wrap_line(line, width, indent) if line.strip() else [""])
    return lines


def _answer(answer: Answer, width: int, indent: str = "") -> list[str]:
    """`question: value` on one line if it fits, else the question and the value below it."""
    label = inert(answer.question, multiline=False)
    if not label.endswith(("?", ":", ".")):
        label += ":"  # "How urgent is it?" needs none
    value = inert(answer.value)
    one_line = f"{indent}{label} {value}"
    if "\n" not in value and display_width(one_line) <= width:
        return [one_line]
    return [*wrap_line(label, width, indent),
            *wrap(value.strip("\n"), width, indent + INDENT)]


def _file(f: FileView, width: int, number: int) -> list[str]:
    claimed = f.claimed_type or "no type given"
    if f.detected_type:
        what = f"{f.size:,} bytes; claimed {claimed}; detected {f.detected_type}"
    else:
        what = f"{f.size:,} bytes reported; claimed {claimed}"
    lines = wrap_line(f"{number}. {f.name}  ({what})", width, "  ", "     ")
    lines += [line for w in f.warnings for line in wrap_line(f"WARNING: {w}", width, "     ")]
    lines += [line for label, value in f.metadata
              for line in wrap_line(f"{inert(label, multiline=False)}: "
                                    f"{inert(value, multiline=False)}", width, "     ")]
    return lines


def _submission(sub: SubmissionView, width: int, first: int = 1) -> list[str]:
    """A submission's lines; its files numbered from `first` (the case's numbering:
    `reviewer refer --file N` takes these numbers)."""
    title = "Application" if sub.kind == "application" else "Follow-up"
    lines = ["", *wrap_line(f"== {title}, {sub.day} (submission {sub.id})", width, "", "   ")]
    if not sub.readable:
        return [*lines, *wrap_line("(not addressed to your key: another reviewer can read this"
                                   " submission)", width)]
    for answer in sub.answers:
        lines += _answer(answer, width)
    if not sub.answers:
        lines.append("(no answers)")
    lines.append(f"Files: {len(sub.files) or 'none'}")
    for number, f in enumerate(sub.files, first):
        lines += _file(f, width, number)
    return lines


VERIFICATION_FIELDS = (
    ("identity", "Identity check"),
    ("work", "Work authenticated"),
    ("persecution", "Persecution verified"),
    ("notes", "Notes"),
)


def case_lines(case: CaseFile, width: int) -> list[str]:
    """The whole case, as lines of at most `width` columns (at least MIN_WIDTH)."""
    width = max(width, MIN_WIDTH)
    out = wrap_line(f"Case {case.case}, received {case.received}", width)
    first = 1
    for sub in case.submissions:
        out += _submission(sub, width, first)
        first += len(sub.files)
    out += ["", "== Verification records"]
    if not case.verifications:
        out.append("none yet")
    for i, v in enumerate(case.verifications, 1):
        if not v.readable:
            out.append(f"{i}. {v.day}: (not addressed to your key)")
            continue
        out += wrap_line(
            f"{i}. {v.day} by {inert(v.reviewer, multiline=False)}: risk"
            f" {inert(v.risk, multiline=False)}, recommendation"
            f" {inert(v.recommendation, multiline=False)}", width)
        for name, label in VERIFICATION_FIELDS:
            text = getattr(v, name)
            if text.strip():
                out += _answer(Answer(name, label, text), width, "   ")
    out += ["", "== Replies"]
    if not case.replies:
        out.append("none yet")
    for i, r in enumerate(case.replies, 1):
        flag = "exported, final" if r.exported else "not yet exported"
        out += wrap_line(f"{i}. {r.day} ({flag}; reply {r.id})", width, "", "   ")
        text = inert(r.text) if r.readable else "(not addressed to your key)"
        out += wrap(text, width, "   ")
    return out


def referral_lines(consent: str, consents: tuple[str, ...], referrals: list[ReferralView],
                   width: int) -> list[str]:
    """Whether the case may be shared with member cities, and each referral with its answers."""
    width = max(width, MIN_WIDTH)
    out = ["", "== Member cities"]
    said = ("yes" if consent == "yes" else
            "ask me first (or the application predates the question)")
    out += wrap_line(f"The applicant's answer to sharing with member cities: {said}", width)
    for how in consents:
        out += wrap_line("Consent recorded: " + inert(how, multiline=False), width, "", "   ")
    if not referrals:
        out.append("No referrals yet.")
    for i, r in enumerate(referrals, 1):
        if not r.readable:
            out.append(f"{i}. {r.day}: referral (not addressed to your key; dossier {r.dossier})")
        else:
            where = f" ({inert(r.country, multiline=False)})" if r.country else ""
            sent = [f"answers {', '.join(r.answers) or 'none'}",
                    f"files {', '.join(map(str, r.files)) or 'none'}",
                    "a note" if r.note else "no note",
                    "the verification summary" if r.verification else "no verification"]
            out += wrap_line(f"{i}. {r.day} referred to {inert(r.city, multiline=False)}{where}"
                             f" by {inert(r.reviewer, multiline=False)}: {'; '.join(sent)}"
                             f" (dossier {r.dossier})", width, "", "   ")
        for day, text in r.replies:
            out += wrap_line(f"Answer from the city, {day}:", width, "   ")
            out += wrap(inert(text).strip("\n"), width, "      ")
    return out
