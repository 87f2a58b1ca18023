"""The questions behind the answers document: shared data, read by server and reviewer.

The answers document (docs/format.md, "Documents") carries the applicant's
answers under short names (`profession`, `urgency`). Which names the server's
forms write, in which order, which are required, the choices of a choice
question (the value written, and its English label) and the English question
each name answers are part of the format, so they live here, as data
(crypto/data/answers-form.json), and not in either program: the server builds
its forms from it (intake/forms.py, which translates the English texts), and
the reviewer labels each answer with its question (reviewer/casefile.py). The
two cannot drift apart.

A reader of answers documents still shows names this file does not know (the
format allows a form to gain or lose a question without a new version).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from crypto import countries

FORMAT = "refuge-intake answers form"
VERSION = 1
DATA = "data/answers-form.json"

#: line: one line of text; text: several lines; choice: one of `choices`;
#: country: an ISO 3166-1 alpha-2 code of crypto/data/countries.json (crypto.countries),
#: or one of `choices` after them; confirm: a box to tick, written as `value` when ticked.
Input = Literal["line", "text", "choice", "country", "confirm"]
INPUTS: tuple[Input, ...] = ("line", "text", "choice", "country", "confirm")
#: The document kinds (crypto.documents.SUBMISSION_KINDS), each with its form.
KINDS = ("application", "followup")

#: The same rule as an answer's name in crypto.documents.
_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")


class FormDataError(ValueError):
    """answers-form.json breaks its own rules (the sentence says which)."""


@dataclass(frozen=True, slots=True)
class Choice:
    value: str  # what the document holds
    label: str  # the English label the form shows for it


@dataclass(frozen=True, slots=True)
class Question:
    key: str  # the answer's name in the document
    question: str  # the English question (the form's label)
    input: Input
    required: bool
    max_length: int | None = None  # line and text: the form's cap, in characters
    choices: tuple[Choice, ...] = ()  # choice: in the form's order
    value: str = ""  # confirm: what a ticked box is written as

    def label_of(self, value: str) -> str:
        """A choice's English label, a country's English name; any other value as it is
        (the document may hold anything)."""
        for choice in self.choices:
            if choice.value == value:
                return choice.label
        if self.input == "country":
            return countries.english_name(value)
        return value


@dataclass(frozen=True, slots=True)
class Form:
    kind: str  # "application" or "followup"
    questions: tuple[Question, ...]  # in the form's order

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(q.key for q in self.questions)

    def get(self, key: str) -> Question | None:
        for q in self.questions:
            if q.key == key:
                return q
        return None


def _fail(detail: str) -> FormDataError:
    return FormDataError(f"{DATA} is malformed: {detail}")


def _text(entry: dict[str, Any], name: str, where: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise _fail(f"{where}: {name} is not a non-empty string without outer spaces")
    return value


def _question(entry: Any, where: str) -> Question:
    if not isinstance(entry, dict):
        raise _fail(f"{where} is not an object")
    allowed = {"key", "input", "required", "question", "max_length", "choices", "value"}
    if not set(entry) <= allowed:
        raise _fail(f"{where} has unknown fields {sorted(set(entry) - allowed)}")
    key = entry.get("key")
    if not isinstance(key, str) or _KEY.fullmatch(key) is None:
        raise _fail(f"{where}: key is not 1 to 64 of a-z 0-9 _")
    where = f"{where} ({key})"
    kind = entry.get("input")
    if kind not in INPUTS:
        raise _fail(f"{where}: input is not one of {', '.join(INPUTS)}")
    required = entry.get("required")
    if type(required) is not bool:
        raise _fail(f"{where}: required is not true or false")
    question = _text(entry, "question", where)
    max_length = entry.get("max_length")
    if (max_length is None) != (kind not in ("line", "text")):
        raise _fail(f"{where}: max_length is for line and text, and they need one")
    if max_length is not None and (type(max_length) is not int or max_length < 1):
        raise _fail(f"{where}: max_length is not a positive integer")
    raw_choices = entry.get("choices")
    if (raw_choices is None) != (kind not in ("choice", "country")):
        raise _fail(f"{where}: choices are for a choice (or a country), and a choice needs them")
    choices: list[Choice] = []
    for i, c in enumerate(raw_choices or []):
        if not isinstance(c, dict) or set(c) != {"value", "label"}:
            raise _fail(f"{where}: choice {i} does not have exactly value and label")
        choices.append(Choice(_text(c, "value", where), _text(c, "label", where)))
    if kind in ("choice", "country") and not choices:
        raise _fail(f"{where}: a choice needs at least one choice")
    if len({c.value for c in choices}) != len(choices):
        raise _fail(f"{where}: a choice value appears twice")
    if kind == "country" and any(countries.CODE.fullmatch(c.value) for c in choices):
        raise _fail(f"{where}: a country's own choices cannot look like a country code")
    value = entry.get("value")
    if (value is None) != (kind != "confirm"):
        raise _fail(f"{where}: value is for a confirm, and a confirm needs one")
    return Question(key, question, kind, required, max_length, tuple(choices),
                    "" if value is None else _text(entry, "value", where))


def parse(data: bytes) -> dict[str, Form]:
    """The forms in answers-form.json's bytes, by document kind; FormDataError if broken."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _fail("it is not UTF-8 JSON") from None
    if not isinstance(doc, dict) or set(doc) != {"format", "version", "documents"}:
        raise _fail("it does not have exactly format, version and documents")
    if doc["format"] != FORMAT or doc["version"] != VERSION:
        raise _fail(f"it is not {FORMAT!r} version {VERSION}")
    documents = doc["documents"]
    if not isinstance(documents, dict) or set(documents) != set(KINDS):
        raise _fail(f"its documents are not exactly {', '.join(KINDS)}")
    forms: dict[str, Form] = {}
    for kind in KINDS:
        entries = documents[kind]
        if not isinstance(entries, list) or not entries:
            raise _fail(f"the {kind} form is not a non-empty list")
        questions = tuple(_question(e, f"{kind} question {i}") for i, e in enumerate(entries))
        if len({q.key for q in questions}) != len(questions):
            raise _fail(f"a key appears twice in the {kind} form")
        forms[kind] = Form(kind, questions)
    return forms


@functools.cache
def forms() -> dict[str, Form]:
    """The forms shipped with this version, by document kind."""
    return parse(resources.files("crypto").joinpath(DATA).read_bytes())


def form(kind: str) -> Form:
    """The form of one document kind ("application" or "followup"); KeyError for another."""
    return forms()[kind]


def english_texts() -> Iterator[str]:
    """Every English text in the data, questions and choice labels, in file order.

    What the server translates: each is a message id in its catalogues.
    """
    for f in forms().values():
        for q in f.questions:
            yield q.question
            for c in q.choices:
                yield c.label
